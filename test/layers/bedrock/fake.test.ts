import { BedrockRuntimeClient, ConverseCommand, type ConverseCommandInput } from "@aws-sdk/client-bedrock-runtime"
import { NodeHttpHandler } from "@smithy/node-http-handler"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { analysisToolConfig } from "../../../layers/bedrock/toolSchema.js"
import { type BedrockReply, makeFakeBedrock } from "../../fakes/bedrock.js"
import { goodAnalysis, modelId } from "./support.js"

// The fake as the AWS SDK sees it: what a test scripts must reach the adapter as Bedrock would send it.
const clientFor = (url: string) =>
  new BedrockRuntimeClient({
    region: "eu-west-1",
    endpoint: url,
    maxAttempts: 1,
    credentials: { accessKeyId: "AKIAFAKEBEDROCKTEST", secretAccessKey: "fake" },
    requestHandler: new NodeHttpHandler()
  })

const request = (overrides: Partial<ConverseCommandInput> = {}): ConverseCommandInput => ({
  modelId,
  messages: [{ role: "user", content: [{ text: "Analyse this lead." }] }],
  inferenceConfig: { maxTokens: 2048, temperature: 0 },
  toolConfig: analysisToolConfig as never,
  ...overrides
})

const send = (url: string, input: ConverseCommandInput) =>
  Effect.promise(() =>
    clientFor(url)
      .send(new ConverseCommand(input))
      .then(
        (reply) => ({ ok: true as const, reply }),
        (error: { name: string; message: string; $metadata?: { httpStatusCode?: number } }) => ({
          ok: false as const,
          name: error.name,
          status: error.$metadata?.httpStatusCode,
          message: error.message
        })
      )
  )

const toolUseTurns = (input: unknown, status?: "error") => [
  { role: "user" as const, content: [{ text: "Analyse this lead." }] },
  {
    role: "assistant" as const,
    content: [{ toolUse: { toolUseId: "tooluse_1", name: "record_lead_analysis", input: input as never } }]
  },
  {
    role: "user" as const,
    content: [{ toolResult: { toolUseId: "tooluse_1", content: [{ text: "fix it" }], ...(status ? { status } : {}) } }]
  }
]

describe("fake Bedrock (as strict as Bedrock where the adapter could go wrong)", () => {
  it.scopedLive("names each error as Bedrock does, with the status Bedrock's service model gives it", () =>
    Effect.gen(function* () {
      const fake = yield* makeFakeBedrock({ kind: "tool", input: goodAnalysis })
      const cases: ReadonlyArray<readonly [BedrockReply, string, number]> = [
        [{ kind: "error", status: 400 }, "ValidationException", 400],
        [{ kind: "error", status: 403 }, "AccessDeniedException", 403],
        [{ kind: "error", status: 404 }, "ResourceNotFoundException", 404],
        [{ kind: "error", status: 408 }, "ModelTimeoutException", 408],
        [{ kind: "error", status: 424 }, "ModelErrorException", 424],
        [{ kind: "throttle" }, "ThrottlingException", 429],
        [{ kind: "error", name: "ModelNotReadyException" }, "ModelNotReadyException", 429],
        [{ kind: "error", name: "ServiceQuotaExceededException" }, "ServiceQuotaExceededException", 400],
        [{ kind: "error", status: 500 }, "InternalServerException", 500],
        [{ kind: "error", status: 503 }, "ServiceUnavailableException", 503]
      ]
      for (const [reply, name, status] of cases) {
        fake.script(reply)
        expect(yield* send(fake.url, request())).toMatchObject({ ok: false, name, status })
      }
    })
  )

  it.scopedLive("answers the stop reasons Bedrock documents when a test asks, and cuts an answer over maxTokens", () =>
    Effect.gen(function* () {
      const fake = yield* makeFakeBedrock({ kind: "tool", input: goodAnalysis })
      fake.script(
        { kind: "stop", stopReason: "guardrail_intervened", text: "Sorry, I can't help with that." },
        { kind: "stop", stopReason: "content_filtered" },
        { kind: "stop", stopReason: "model_context_window_exceeded" },
        { kind: "tool", input: goodAnalysis, stopReason: "max_tokens" },
        { kind: "tool", input: { ...goodAnalysis, reasoning: "x".repeat(400) } }
      )
      const stops: Array<unknown> = []
      for (const maxTokens of [2048, 2048, 2048, 2048, 50]) {
        const outcome = yield* send(fake.url, request({ inferenceConfig: { maxTokens } }))
        stops.push(outcome.ok ? [outcome.reply.stopReason, outcome.reply.output?.message?.content] : outcome)
      }
      expect(stops).toEqual([
        ["guardrail_intervened", [{ text: "Sorry, I can't help with that." }]],
        ["content_filtered", []],
        ["model_context_window_exceeded", []],
        ["max_tokens", [{ toolUse: expect.objectContaining({ input: goodAnalysis }) }]],
        ["max_tokens", [{ toolUse: expect.objectContaining({ input: {} }) }]]
      ])
    })
  )

  it.scopedLive("refuses what Bedrock refuses: unknown models, unsupported fields, broken conversations", () =>
    Effect.gen(function* () {
      const fake = yield* makeFakeBedrock({ kind: "tool", input: goodAnalysis })
      const llama = "meta.llama3-1-70b-instruct-v1:0"
      const { toolChoice: _, ...toolsOnly } = analysisToolConfig
      const cases: ReadonlyArray<readonly [ConverseCommandInput, string, string]> = [
        [request({ modelId: "anthropic.claude-9-nonexistent-v1:0" }), "ResourceNotFoundException", "foundation model"],
        [request({ modelId: "not a model id" }), "ValidationException", "model identifier is invalid"],
        [request({ modelId: llama }), "ValidationException", "doesn't support the toolChoice field"],
        [
          request({ modelId: llama, toolConfig: toolsOnly as never, messages: toolUseTurns({}, "error") }),
          "ValidationException",
          "toolResult.status"
        ],
        [request({ messages: [{ role: "user", content: [{ text: "  " }] }] }), "ValidationException", "is blank"],
        [
          request({ messages: [{ role: "assistant", content: [{ text: "hi" }] }] }),
          "ValidationException",
          "start with a user message"
        ],
        [
          request({ messages: [...toolUseTurns({}).slice(0, 1), ...toolUseTurns({}).slice(0, 1)] }),
          "ValidationException",
          "alternate between user and assistant"
        ],
        [
          request({ messages: [...toolUseTurns({}).slice(0, 2), { role: "user", content: [{ text: "again" }] }] }),
          "ValidationException",
          "Expected toolResult blocks at messages.2.content for the following Ids: tooluse_1"
        ],
        [
          request({
            messages: [
              { role: "user", content: [{ text: "Analyse this lead." }] },
              { role: "assistant", content: [{ text: "no tool" }] },
              { role: "user", content: [{ toolResult: { toolUseId: "tooluse_9", content: [{ text: "x" }] } }] }
            ]
          }),
          "ValidationException",
          "does not match any toolUse"
        ],
        [request({ messages: toolUseTurns("{not json") }), "ValidationException", "valid dictionary"],
        [request({ messages: toolUseTurns({}), toolConfig: undefined }), "ValidationException", "toolConfig field"],
        [request({ inferenceConfig: { maxTokens: 64_001 } }), "ValidationException", "model limit of 64000"],
        [
          request({ modelId: "anthropic.claude-haiku-4-5-20251001-v1:0" }),
          "ValidationException",
          "with on-demand throughput isn't supported"
        ],
        [
          request({ modelId: "eu.anthropic.claude-3-5-haiku-20241022-v1:0" }),
          "ResourceNotFoundException",
          "reached the end of its life"
        ]
      ]
      for (const [input, name, message] of cases) {
        const outcome = yield* send(fake.url, input)
        expect(outcome).toMatchObject({ ok: false, name })
        expect(outcome.ok ? "" : outcome.message).toContain(message)
      }
      // the same conversation is fine where the model supports it, and an inference-profile id is a known model
      expect(yield* send(fake.url, request({ messages: toolUseTurns({}, "error") }))).toMatchObject({ ok: true })
      expect(yield* send(fake.url, request({ modelId: `eu.${modelId.replace(/^us\./, "")}` }))).toMatchObject({
        ok: true
      })
    })
  )
})
