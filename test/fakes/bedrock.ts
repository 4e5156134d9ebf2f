import * as Http from "node:http"
import type { AddressInfo } from "node:net"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"

/** One request as a fake server received it. */
export interface RecordedRequest {
  readonly method: string
  readonly path: string
  readonly headers: Http.IncomingHttpHeaders
  readonly body: string
}

/** The parts of a SigV4 Authorization header a fake checks: who signed, for which region and service. */
export interface SigV4 {
  readonly accessKeyId: string
  readonly region: string
  readonly service: string
  readonly signedHeaders: ReadonlyArray<string>
}

/** Parses "AWS4-HMAC-SHA256 Credential=AKID/date/region/service/aws4_request, SignedHeaders=..., Signature=...". */
export const sigV4Of = (authorization: string | undefined): SigV4 | undefined => {
  const match =
    /^AWS4-HMAC-SHA256 Credential=([^/]+)\/\d{8}\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([^,]+), ?Signature=[0-9a-f]{64}$/.exec(
      authorization ?? ""
    )
  if (match === null) return undefined
  return { accessKeyId: match[1]!, region: match[2]!, service: match[3]!, signedHeaders: match[4]!.split(";") }
}

type Handler = (request: RecordedRequest, response: Http.ServerResponse) => void | Promise<void>

/** A plain HTTP/1.1 server on a free port for the scope; every request is recorded before the handler runs. */
export const serveFake = (
  handler: Handler
): Effect.Effect<{ readonly url: string; readonly requests: Array<RecordedRequest> }, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.async<{ server: Http.Server; url: string; requests: Array<RecordedRequest> }>((resume) => {
      const requests: Array<RecordedRequest> = []
      const server = Http.createServer((req, res) => {
        const chunks: Array<Buffer> = []
        req.on("data", (chunk: Buffer) => chunks.push(chunk))
        req.on("end", () => {
          const recorded = {
            method: req.method ?? "",
            path: req.url ?? "",
            headers: req.headers,
            body: Buffer.concat(chunks).toString("utf8")
          }
          requests.push(recorded)
          Promise.resolve(handler(recorded, res)).catch(() => res.destroy())
        })
      })
      server.listen(0, "127.0.0.1", () => {
        const { port } = server.address() as AddressInfo
        resume(Effect.succeed({ server, url: `http://127.0.0.1:${port}`, requests }))
      })
    }),
    ({ server }) =>
      Effect.async<void>((resume) => {
        server.closeAllConnections()
        server.close(() => resume(Effect.void))
      })
  )

/** The stop reasons Converse documents (ConverseResponse.stopReason). */
export type BedrockStopReason =
  | "end_turn"
  | "tool_use"
  | "max_tokens"
  | "stop_sequence"
  | "guardrail_intervened"
  | "content_filtered"
  | "malformed_model_output"
  | "malformed_tool_use"
  | "model_context_window_exceeded"

/** The Bedrock Runtime errors Converse can answer, with the HTTP status the service model gives each. */
export const bedrockErrorStatus = {
  ValidationException: 400,
  ServiceQuotaExceededException: 400,
  AccessDeniedException: 403,
  ResourceNotFoundException: 404,
  ModelTimeoutException: 408,
  ModelErrorException: 424,
  ThrottlingException: 429,
  ModelNotReadyException: 429,
  InternalServerException: 500,
  ServiceUnavailableException: 503
} as const
export type BedrockErrorName = keyof typeof bedrockErrorStatus

const defaultMessage: Record<BedrockErrorName, string> = {
  ValidationException: "Malformed input request, please reformat your input and try again.",
  ServiceQuotaExceededException: "Your request exceeds the service quota for your account.",
  AccessDeniedException: "You don't have access to the model with the specified model ID.",
  ResourceNotFoundException: "Could not resolve the foundation model from the provided model identifier.",
  ModelTimeoutException: "Model has timed out in processing the request.",
  ModelErrorException: "The model returned an error.",
  ThrottlingException: "Too many requests, please wait before trying again.",
  ModelNotReadyException: "Model is not ready for inference. Wait and try your request again.",
  InternalServerException: "The server encountered an error processing your request.",
  ServiceUnavailableException: "Bedrock is unable to process your request."
}

/** The name Bedrock gives an error of this status (a scripted error may name itself instead). */
const errorNameOf = (status: number): BedrockErrorName =>
  (Object.entries(bedrockErrorStatus).find(([, code]) => code === status)?.[0] as BedrockErrorName | undefined) ??
  (status >= 500 ? "InternalServerException" : "ValidationException")

/** A scripted Bedrock reply. `stopReason` defaults to what Bedrock sends for that content (tool_use / end_turn). */
export type BedrockReply =
  | {
      readonly kind: "tool"
      readonly input: unknown
      readonly stopReason?: BedrockStopReason
      /** Text the model wrote before its tool call (Bedrock may send it blank). */
      readonly text?: string
    }
  | { readonly kind: "text"; readonly text: string; readonly stopReason?: BedrockStopReason }
  /** A stop with no tool call, e.g. guardrail_intervened with the guardrail's message, or content_filtered. */
  | { readonly kind: "stop"; readonly stopReason: BedrockStopReason; readonly text?: string }
  /** ThrottlingException: the per-minute burst limit, or (`perDay`) the account's daily token quota spent. */
  | { readonly kind: "throttle"; readonly perDay?: boolean }
  /** An error named as Bedrock names it: by `name` (status from the table) or by `status`. */
  | { readonly kind: "error"; readonly status?: number; readonly name?: BedrockErrorName; readonly message?: string }
  | { readonly kind: "hang"; readonly ms: number }

/** What a model accepts of a Converse request (the parts the adapter could get wrong). */
export interface FakeModel {
  /** toolChoice.tool (SpecificToolChoice): Anthropic Claude 3+ and Amazon Nova only. */
  readonly toolChoiceTool: boolean
  /** toolResult.status: Anthropic Claude 3+ and Amazon Nova only. */
  readonly toolResultStatus: boolean
  readonly maxOutputTokens: number
  /**
   * How it may be invoked: `onDemand` (by its own id or through a profile, the default), `profileOnly` (only through
   * a cross-Region inference profile: the bare id is a ValidationException, as Bedrock answers for Claude 4+), or
   * `endOfLife` (retired: every call is a ResourceNotFoundException, as for Claude 3.5 Haiku since June 2026).
   */
  readonly access?: "onDemand" | "profileOnly" | "endOfLife"
}

/** Models the fake knows by id (an inference-profile prefix such as "eu." is accepted too); others are 404. */
export const fakeModels: Readonly<Record<string, FakeModel>> = {
  "anthropic.claude-haiku-4-5-20251001-v1:0": {
    toolChoiceTool: true,
    toolResultStatus: true,
    maxOutputTokens: 64_000,
    access: "profileOnly"
  },
  "anthropic.claude-3-5-haiku-20241022-v1:0": {
    toolChoiceTool: true,
    toolResultStatus: true,
    maxOutputTokens: 8192,
    access: "endOfLife"
  },
  "anthropic.claude-3-haiku-20240307-v1:0": { toolChoiceTool: true, toolResultStatus: true, maxOutputTokens: 4096 },
  "amazon.nova-lite-v1:0": { toolChoiceTool: true, toolResultStatus: true, maxOutputTokens: 5000 },
  "meta.llama3-1-70b-instruct-v1:0": { toolChoiceTool: false, toolResultStatus: false, maxOutputTokens: 2048 },
  "mistral.mistral-large-2407-v1:0": { toolChoiceTool: false, toolResultStatus: false, maxOutputTokens: 8192 }
}

const json = (res: Http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
  res.writeHead(status, { "content-type": "application/json", ...headers })
  res.end(JSON.stringify(body))
}

const awsError = (res: Http.ServerResponse, status: number, type: string, message: string) =>
  json(res, status, { message }, { "x-amzn-errortype": `${type}:http://internal.amazon.com/coral/com.amazon.bedrock/` })

/** A rough token count (4 characters a token), so usage varies with what was sent and answered. */
const tokensOf = (value: unknown): number => Math.max(1, Math.ceil(JSON.stringify(value ?? "").length / 4))

interface Block {
  readonly text?: unknown
  readonly toolUse?: { readonly toolUseId?: unknown; readonly input?: unknown }
  readonly toolResult?: { readonly toolUseId?: unknown; readonly status?: unknown }
}
interface ConverseBody {
  readonly messages?: ReadonlyArray<{ readonly role?: unknown; readonly content?: ReadonlyArray<Block> }>
  readonly inferenceConfig?: { readonly maxTokens?: unknown }
  readonly toolConfig?: {
    readonly tools?: ReadonlyArray<{ readonly toolSpec?: { readonly name?: unknown } }>
    readonly toolChoice?: { readonly tool?: { readonly name?: unknown } }
  }
}

/**
 * What Bedrock checks of a Converse request before the model runs, as far as the adapter could get it wrong; the
 * first violation as a ValidationException message, or undefined. Messages follow Bedrock's wording.
 */
export const converseViolation = (body: ConverseBody, model: FakeModel): string | undefined => {
  const messages = body.messages ?? []
  if (messages.length === 0) return "The messages field is required and must hold at least one message."
  if (messages[0]?.role !== "user")
    return "A conversation must start with a user message. Try again with a conversation that starts with a user message."
  const toolNames = (body.toolConfig?.tools ?? []).map((tool) => tool.toolSpec?.name)
  for (const [m, message] of messages.entries()) {
    if (m > 0 && message.role === messages[m - 1]?.role) {
      return "A conversation must alternate between user and assistant roles. Make sure the conversation alternates between user and assistant roles and try again."
    }
    const content = message.content ?? []
    if (content.length === 0)
      return `The content field in the Message object at messages.${m} is empty. Add a ContentBlock object to the content field and try again.`
    for (const [c, block] of content.entries()) {
      if (block.text !== undefined && (typeof block.text !== "string" || block.text.trim() === "")) {
        return `The text field in the ContentBlock object at messages.${m}.content.${c} is blank. Add text to the text field, and try again.`
      }
      if ((block.toolUse !== undefined || block.toolResult !== undefined) && body.toolConfig === undefined) {
        return "The toolConfig field must be defined when using toolUse and toolResult content blocks."
      }
      const input = block.toolUse?.input
      if (block.toolUse !== undefined && (typeof input !== "object" || input === null || Array.isArray(input))) {
        return `messages.${m}.content.${c}.toolUse.input: Input should be a valid dictionary`
      }
      if (block.toolResult?.status !== undefined && !model.toolResultStatus) {
        return "This model doesn't support the toolResult.status field. Remove toolResult.status and try again."
      }
    }
    // Each toolUse of an assistant turn is answered by a toolResult with its id in the next (user) turn, and a
    // toolResult answers a toolUse of the turn before it.
    const used = content.flatMap((block) => (block.toolUse ? [block.toolUse.toolUseId] : []))
    const next = messages[m + 1]?.content ?? []
    const answered = next.flatMap((block) => (block.toolResult ? [block.toolResult.toolUseId] : []))
    if (message.role === "assistant" && m + 1 < messages.length) {
      const missing = used.filter((id) => !answered.includes(id))
      if (missing.length > 0) {
        return `Expected toolResult blocks at messages.${m + 1}.content for the following Ids: ${missing.join(", ")}`
      }
    }
    const results = content.flatMap((block) => (block.toolResult ? [block.toolResult.toolUseId] : []))
    const asked = (messages[m - 1]?.content ?? []).flatMap((block) => (block.toolUse ? [block.toolUse.toolUseId] : []))
    const unknown = results.filter((id) => !asked.includes(id))
    if (unknown.length > 0) {
      return `messages.${m}.content: toolResult ${unknown.join(", ")} does not match any toolUse of the previous turn.`
    }
  }
  const choice = body.toolConfig?.toolChoice?.tool
  if (choice !== undefined) {
    if (!model.toolChoiceTool)
      return "This model doesn't support the toolChoice field. Remove toolChoice and try again."
    if (!toolNames.includes(choice.name))
      return `toolChoice names the tool ${String(choice.name)}, which toolConfig.tools does not define.`
  }
  const maxTokens = body.inferenceConfig?.maxTokens
  if (
    maxTokens !== undefined &&
    (typeof maxTokens !== "number" || maxTokens < 1 || maxTokens > model.maxOutputTokens)
  ) {
    return `The maximum tokens you requested exceeds the model limit of ${model.maxOutputTokens}. Try again with a maximum tokens value that is lower than ${model.maxOutputTokens}.`
  }
  return undefined
}

const modelIdPattern = /^[a-zA-Z0-9.:_-]{1,2048}$/

/**
 * A Bedrock Runtime Converse endpoint (POST /model/<modelId>/converse). Refuses what Bedrock refuses: a request not
 * SigV4-signed for "bedrock", a malformed (400) or unknown (404) model id, and a request `converseViolation` finds
 * wrong (400 ValidationException). Otherwise answers with the next scripted reply, then with `fallback`. A tool input
 * longer than the request's maxTokens is cut as Bedrock cuts it: stopReason max_tokens, the input incomplete ({}).
 */
export const makeFakeBedrock = (fallback: BedrockReply, models: Readonly<Record<string, FakeModel>> = fakeModels) =>
  Effect.gen(function* () {
    const script: Array<BedrockReply> = []
    let current = fallback
    /** The ValidationException / ResourceNotFoundException messages the fake answered, in order. */
    const rejections: Array<string> = []
    let toolUseSeq = 0
    const server = yield* serveFake(async (request, res) => {
      const sig = sigV4Of(request.headers.authorization)
      if (sig === undefined || sig.service !== "bedrock") {
        return awsError(
          res,
          403,
          "UnrecognizedClientException",
          "The security token included in the request is invalid."
        )
      }
      const path = /^\/model\/([^/]+)\/converse$/.exec(request.path)
      if (request.method !== "POST" || path === null) {
        return awsError(res, 404, "UnknownOperationException", "Unknown operation")
      }
      const reject = (name: "ValidationException" | "ResourceNotFoundException", message: string) => {
        rejections.push(message)
        return awsError(res, bedrockErrorStatus[name], name, message)
      }
      const modelId = decodeURIComponent(path[1]!)
      if (!modelIdPattern.test(modelId))
        return reject("ValidationException", "The provided model identifier is invalid.")
      const profile = /^(us|us-gov|eu|apac|jp|au|ca|global)\./.exec(modelId)
      const model = models[profile === null ? modelId : modelId.slice(profile[0].length)]
      if (model === undefined) return reject("ResourceNotFoundException", defaultMessage.ResourceNotFoundException)
      if (model.access === "endOfLife") {
        return reject(
          "ResourceNotFoundException",
          "This model version has reached the end of its life. Please refer to the AWS documentation for more details."
        )
      }
      if (model.access === "profileOnly" && profile === null) {
        return reject(
          "ValidationException",
          `Invocation of model ID ${modelId} with on-demand throughput isn't supported. Retry your request with the ID or ARN of an inference profile that contains this model.`
        )
      }
      let body: ConverseBody
      try {
        body = JSON.parse(request.body) as ConverseBody
      } catch {
        return reject("ValidationException", defaultMessage.ValidationException)
      }
      const violation = converseViolation(body, model)
      if (violation !== undefined) return reject("ValidationException", violation)

      const answer = (content: ReadonlyArray<unknown>, stopReason: string) =>
        json(res, 200, {
          output: { message: { role: "assistant", content } },
          stopReason,
          usage: {
            inputTokens: tokensOf(body),
            outputTokens: tokensOf(content),
            totalTokens: tokensOf(body) + tokensOf(content)
          },
          metrics: { latencyMs: 12 }
        })
      const reply = script.shift() ?? current
      switch (reply.kind) {
        case "tool": {
          toolUseSeq += 1
          const maxTokens =
            typeof body.inferenceConfig?.maxTokens === "number" ? body.inferenceConfig.maxTokens : Infinity
          const cut = reply.stopReason === undefined && tokensOf(reply.input) > maxTokens
          const toolUse = {
            toolUseId: `tooluse_${toolUseSeq}`,
            name: "record_lead_analysis",
            input: cut ? {} : reply.input
          }
          const content = reply.text === undefined ? [{ toolUse }] : [{ text: reply.text }, { toolUse }]
          return answer(content, cut ? "max_tokens" : (reply.stopReason ?? "tool_use"))
        }
        case "text":
          return answer([{ text: reply.text }], reply.stopReason ?? "end_turn")
        case "stop":
          return answer(reply.text === undefined ? [] : [{ text: reply.text }], reply.stopReason)
        case "throttle":
          return awsError(
            res,
            429,
            "ThrottlingException",
            reply.perDay === true
              ? "Too many tokens per day, please wait before trying again."
              : defaultMessage.ThrottlingException
          )
        case "error": {
          const name = reply.name ?? errorNameOf(reply.status ?? 500)
          return awsError(res, reply.status ?? bedrockErrorStatus[name], name, reply.message ?? defaultMessage[name])
        }
        case "hang":
          await new Promise((resolve) => setTimeout(resolve, reply.ms))
          return answer([{ text: "late" }], "end_turn")
      }
    })
    return {
      ...server,
      rejections,
      /** Queue replies for the next calls, in order. */
      script: (...replies: ReadonlyArray<BedrockReply>) => script.push(...replies),
      /** Answer `reply` to every call after the scripted ones from now on (an outage begins, or ends). */
      answerFrom: (reply: BedrockReply) => {
        current = reply
      },
      /** Decoded JSON bodies of the converse calls received so far. */
      bodies: () => server.requests.map((r) => JSON.parse(r.body) as Record<string, unknown>)
    }
  })
