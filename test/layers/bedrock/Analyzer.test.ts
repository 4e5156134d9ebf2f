import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as JSONSchema from "effect/JSONSchema"
import * as Option from "effect/Option"
import { type BedrockAnalyzerOptions, make } from "../../../layers/bedrock/Analyzer.js"
import { AnalysisToolInput, analysisToolSchema, inlineRefs } from "../../../layers/bedrock/toolSchema.js"
import type { AnalysisInput } from "../../../services/Analyzer.js"
import { type BedrockReply, makeFakeBedrock, sigV4Of } from "../../fakes/bedrock.js"
import { makeLogCapture } from "../../support/logCapture.js"
import { goodAnalysis } from "./support.js"

const secretKey = "fakeSecretKeyValue/DoNotLog+0123456789abcdef"
Object.assign(process.env, {
  AWS_REGION: "eu-west-1",
  AWS_ACCESS_KEY_ID: "AKIAFAKEBEDROCKTEST",
  AWS_SECRET_ACCESS_KEY: secretKey,
  AWS_EC2_METADATA_DISABLED: "true"
})
for (const name of ["AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_BEARER_TOKEN_BEDROCK", "AWS_MAX_ATTEMPTS"]) {
  delete process.env[name]
}

/** The parts of a Converse request body the tests look at. */
interface WireBody {
  readonly system: ReadonlyArray<{ readonly text: string }>
  readonly messages: ReadonlyArray<{
    readonly role: string
    readonly content: ReadonlyArray<{ readonly toolResult?: { readonly content: ReadonlyArray<{ text: string }> } }>
  }>
  readonly toolConfig: {
    readonly tools: ReadonlyArray<{
      readonly toolSpec: {
        readonly name: string
        readonly inputSchema: { readonly json: { readonly properties: Record<string, unknown> } }
      }
    }>
    readonly toolChoice: unknown
  }
}

const modelId = "us.anthropic.claude-haiku-4-5-20251001-v1:0"
const options: BedrockAnalyzerOptions = {
  modelId,
  timeoutMs: 5_000,
  maxAttempts: 2,
  decodeRetries: 2,
  maxTokens: 1024,
  throttleDelayMs: 7_000,
  http1: true
}

const input: AnalysisInput = {
  leadId: "lead-1",
  lead: {
    email: "jane.doe@acme-robotics.com",
    campaignId: "spring-launch",
    firstName: "Jane",
    lastName: "Doe",
    phone: "+1 555 0100 200",
    title: "VP Engineering",
    company: "Acme Robotics",
    activity: { pageViews: 12, demoRequested: true }
  },
  enrichment: Option.some({ domain: "acme-robotics.com", name: "Acme Robotics", industry: "Software", employees: 850 })
}

/** A fake Bedrock plus an analyser pointed at it through AWS_ENDPOINT_URL_BEDROCK_RUNTIME (read by the SDK itself). */
const setup = (fallback: BedrockReply, overrides: Partial<BedrockAnalyzerOptions> = {}) =>
  Effect.gen(function* () {
    const fake = yield* makeFakeBedrock(fallback)
    delete process.env.AWS_ENDPOINT_URL
    process.env.AWS_ENDPOINT_URL_BEDROCK_RUNTIME = fake.url
    const usage: Array<readonly [string, number, number, number]> = []
    const analyzer = yield* make({
      ...options,
      onUsage: (...args) => Effect.sync(() => usage.push(args)),
      ...overrides
    })
    return { fake, analyzer, usage }
  })

describe("Bedrock analyser (Converse, structured-output tool)", () => {
  it.scopedLive("sends a signed Converse request with the generated tool schema and decodes the tool input", () =>
    Effect.gen(function* () {
      const { fake, analyzer, usage } = yield* setup({ kind: "tool", input: goodAnalysis })
      const analysis = yield* analyzer.analyze(input)
      expect(analysis).toEqual(goodAnalysis)

      expect(fake.requests).toHaveLength(1)
      const request = fake.requests[0]!
      expect(request.path).toBe(`/model/${encodeURIComponent(modelId)}/converse`)
      expect(sigV4Of(request.headers.authorization)).toMatchObject({
        accessKeyId: "AKIAFAKEBEDROCKTEST",
        region: "eu-west-1",
        service: "bedrock"
      })
      const body = fake.bodies()[0] as unknown as WireBody
      const tool = body.toolConfig.tools[0]!.toolSpec
      expect(tool.name).toBe("record_lead_analysis")
      expect(tool.inputSchema.json).toEqual(inlineRefs(JSONSchema.make(AnalysisToolInput)))
      expect(tool.inputSchema.json).toEqual(analysisToolSchema)
      expect(JSON.stringify(tool.inputSchema.json)).not.toContain("$ref")
      expect(tool.inputSchema.json.properties.fitScore).toMatchObject({ minimum: 0, maximum: 100 })
      expect(body.toolConfig.toolChoice).toEqual({ tool: { name: "record_lead_analysis" } })

      // PII minimised: no phone, no names, no full email; the domain and the data to cite are there.
      const prompt = JSON.stringify(body.messages)
      expect(prompt).not.toContain("jane.doe")
      expect(prompt).not.toContain("555 0100")
      expect(prompt).not.toContain("Jane")
      expect(prompt).toContain("acme-robotics.com")
      expect(prompt).toContain("demoRequested")
      expect(JSON.stringify(body.system)).toContain("ENRICHMENT")

      expect(usage).toHaveLength(1)
      // the fake counts ~4 characters a token of what was sent and answered
      expect(usage[0]![0]).toBe(modelId)
      expect(usage[0]![1]).toBe(Math.ceil(JSON.stringify(body).length / 4))
      expect(usage[0]![2]).toBeGreaterThan(0)
      expect(usage[0]![3]).toBeGreaterThan(0)
    })
  )

  it.scopedLive("also honours the generic AWS_ENDPOINT_URL", () =>
    Effect.gen(function* () {
      const fake = yield* makeFakeBedrock({ kind: "tool", input: goodAnalysis })
      delete process.env.AWS_ENDPOINT_URL_BEDROCK_RUNTIME
      process.env.AWS_ENDPOINT_URL = fake.url
      const analyzer = yield* make(options)
      expect(yield* analyzer.analyze(input)).toEqual(goodAnalysis)
      expect(fake.requests).toHaveLength(1)
      delete process.env.AWS_ENDPOINT_URL
    })
  )

  it.scopedLive(
    "lets the SDK retry one throttle, then maps persistent throttling to AnalysisFailed with retryAfterMs",
    () =>
      Effect.gen(function* () {
        const { fake, analyzer } = yield* setup({ kind: "tool", input: goodAnalysis })
        fake.script({ kind: "throttle" })
        expect(yield* analyzer.analyze(input)).toEqual(goodAnalysis)
        expect(fake.requests).toHaveLength(2)

        fake.script({ kind: "throttle" }, { kind: "throttle" })
        const error = yield* Effect.flip(analyzer.analyze(input))
        expect(fake.requests).toHaveLength(4)
        expect(error).toMatchObject({ _tag: "AnalysisFailed", retryAfterMs: 7_000 })
        expect(error.message).toContain("ThrottlingException")
      })
  )

  it.scopedLive("maps 5xx (after the SDK's attempts) to AnalysisFailed without a delay, so the job retries", () =>
    Effect.gen(function* () {
      const { fake, analyzer } = yield* setup({ kind: "error", status: 500 })
      const error = yield* Effect.flip(analyzer.analyze(input))
      expect(fake.requests).toHaveLength(2)
      expect(error._tag).toBe("AnalysisFailed")
      expect(error).not.toHaveProperty("retryAfterMs")
      expect(error.message).toContain("InternalServerException, HTTP 500")
    })
  )

  it.scopedLive("fails with AnalysisFailed when no reply arrives within BEDROCK_TIMEOUT_MS", () =>
    Effect.gen(function* () {
      const { analyzer } = yield* setup({ kind: "hang", ms: 3_000 }, { timeoutMs: 200 })
      const error = yield* Effect.flip(analyzer.analyze(input))
      expect(error).toMatchObject({ _tag: "AnalysisFailed" })
      expect(error.message).toContain("no reply within 200 ms")
      expect(error).not.toHaveProperty("retryAfterMs")
    })
  )

  it.scopedLive("re-asks after an undecodable reply, sending the model its error as a toolResult", () =>
    Effect.gen(function* () {
      const { fake, analyzer, usage } = yield* setup({ kind: "tool", input: goodAnalysis })
      fake.script({ kind: "tool", input: { ...goodAnalysis, fitScore: 150 } })
      expect(yield* analyzer.analyze(input)).toEqual(goodAnalysis)
      expect(fake.requests).toHaveLength(2)
      const messages = (fake.bodies()[1] as unknown as WireBody).messages
      expect(messages.map((m) => m.role)).toEqual(["user", "assistant", "user"])
      const result = messages[2]!.content[0]!.toolResult
      expect(result).toMatchObject({ toolUseId: "tooluse_1", status: "error" })
      expect(result?.content[0]?.text).toContain("fitScore")
      expect(usage).toHaveLength(2)
    })
  )

  it.scopedLive("ends in a Manual Review analysis after the bounded re-asks, never a failure", () =>
    Effect.gen(function* () {
      const logs = makeLogCapture()
      const { fake, analyzer } = yield* setup(
        { kind: "text", text: "I think this lead is great!" },
        { decodeRetries: 1 }
      )
      fake.script({ kind: "tool", input: "{not json" })
      const analysis = yield* analyzer.analyze(input).pipe(Effect.provide(logs.layer))
      // 1 ask + 1 re-ask (BEDROCK_DECODE_RETRIES=1), counted at the fake.
      expect(fake.requests).toHaveLength(2)
      expect(analysis).toMatchObject({ fitScore: 0, intent: "Manual Review", decision: "Nurture", evidence: [] })
      expect(analysis.reasoning).toContain("could not be decoded after 2 attempt(s)")
      expect(analysis.reasoning).toContain("no record_lead_analysis tool call")
      expect(logs.lines.some((line) => line.includes("Manual Review"))).toBe(true)
    })
  )

  it.scopedLive("never logs or reports a secret (credentials, full email, phone)", () =>
    Effect.gen(function* () {
      const logs = makeLogCapture()
      const { fake, analyzer } = yield* setup({ kind: "error", status: 503 }, { decodeRetries: 1 })
      fake.script(
        { kind: "text", text: "no tool" },
        { kind: "tool", input: { fitScore: "high" } },
        { kind: "throttle" }
      )
      const outcomes = yield* Effect.all(
        [analyzer.analyze(input), analyzer.analyze(input), analyzer.analyze(input)].map((run) =>
          Effect.either(run).pipe(Effect.provide(logs.layer))
        )
      )
      const seen = [...logs.lines, ...outcomes.map((outcome) => JSON.stringify(outcome))].join("\n")
      expect(logs.lines.length).toBeGreaterThan(0)
      for (const secret of [secretKey, "jane.doe@acme-robotics.com", "555 0100"]) expect(seen).not.toContain(secret)
    })
  )
})
