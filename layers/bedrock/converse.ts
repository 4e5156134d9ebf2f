import type { ContentBlock, ConverseResponse, Message } from "@aws-sdk/client-bedrock-runtime"
import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import { Analysis } from "../../src/domain/analysis.js"
import { DAILY_QUOTA_RETRY_MS } from "../../src/domain/crmErrors.js"
import { redactText } from "../../src/domain/redact.js"
import { AnalysisFailed } from "../../services/Analyzer.js"
import { JobPermanent } from "../../services/JobQueue.js"
import { analysisToolName, toolOutputCaps } from "./toolSchema.js"

const decodeAnalysis = Schema.decodeUnknownEither(Analysis)

const clip = (text: string, max: number): string => (text.length > max ? `${text.slice(0, max - 3)}...` : text)

/**
 * Stop reasons after which asking again cannot help (Converse `stopReason`): a policy verdict on this lead's data, or
 * an input the model cannot hold (a re-ask would only add to it). The lead goes to Manual Review at once.
 */
const finalStops: Readonly<Record<string, string>> = {
  guardrail_intervened: "a Bedrock guardrail blocked the input or the answer",
  content_filtered: "the model's content filter blocked the answer",
  model_context_window_exceeded: "the prompt and answer do not fit in the model's context window"
}

/**
 * What the stop reason alone says about a reply, before decoding: `final` (Manual Review now, no re-ask), `cut` (the
 * answer hit BEDROCK_MAX_TOKENS: never used, even if what arrived decodes), or undefined (decode it: tool_use,
 * end_turn, stop_sequence, malformed_* and reasons Bedrock may add later).
 */
export const stopVerdict = (
  reply: ConverseResponse
):
  | { readonly kind: "final"; readonly reason: string }
  | { readonly kind: "cut"; readonly reason: string }
  | undefined => {
  const stop = reply.stopReason
  if (stop === undefined) return undefined
  const why = Object.hasOwn(finalStops, stop) ? finalStops[stop] : undefined
  if (why !== undefined) return { kind: "final", reason: `stopReason ${stop}: ${why}` }
  if (stop === "max_tokens")
    return { kind: "cut", reason: "stopReason max_tokens: the answer was cut at BEDROCK_MAX_TOKENS" }
  return undefined
}

/** Why a Converse reply is not an analysis; re-asked with this text, then named in the Manual Review reasoning. */
export const decodeReply = (reply: ConverseResponse): Either.Either<Analysis, string> => {
  const content = reply.output?.message?.content ?? []
  const toolUse = content.find((block) => block.toolUse?.name === analysisToolName)?.toolUse
  if (toolUse === undefined) {
    return Either.left(`the reply has no ${analysisToolName} tool call (stopReason ${reply.stopReason ?? "none"})`)
  }
  let input: unknown = toolUse.input
  if (typeof input === "string") {
    try {
      input = JSON.parse(input)
    } catch {
      return Either.left(`the ${analysisToolName} input is not valid JSON`)
    }
  }
  return decodeAnalysis(input, { errors: "all" }).pipe(
    Either.mapLeft((error) => {
      const issues = ParseResult.ArrayFormatter.formatErrorSync(error)
        .slice(0, 5)
        .map((issue) => `${issue.path.join(".") || "(root)"}: ${clip(issue.message, 120)}`)
      return `the ${analysisToolName} input does not match the schema (${issues.join("; ")})`
    })
  )
}

/**
 * The turns that re-ask after an undecodable reply: the model's own reply, then our correction (a toolResult
 * with status "error" for each tool call, as Converse requires). An empty reply is simply asked again.
 */
export const correctionTurns = (reply: ConverseResponse, reason: string): ReadonlyArray<Message> => {
  // Resent as history, the reply must be a valid request: Bedrock refuses a blank text block, and Claude a tool
  // input that is not a JSON object (the model's unparsable input is replaced by {}; the correction says why).
  const content: Array<ContentBlock> = (reply.output?.message?.content ?? []).flatMap((block): Array<ContentBlock> => {
    if (block.text !== undefined) return block.text.trim() === "" ? [] : [block]
    const toolUse = block.toolUse
    if (toolUse === undefined) return [block]
    const input = toolUse.input
    const isObject = typeof input === "object" && input !== null && !Array.isArray(input)
    return [isObject ? block : { toolUse: { ...toolUse, input: {} } }]
  })
  if (content.length === 0) return []
  const text = `Your reply could not be used: ${reason}. Call ${analysisToolName} again with input that matches its schema.`
  const toolUseIds = content.flatMap((block) => (block.toolUse?.toolUseId ? [block.toolUse.toolUseId] : []))
  const correction: Array<ContentBlock> =
    toolUseIds.length > 0
      ? toolUseIds.map((toolUseId) => ({ toolResult: { toolUseId, status: "error", content: [{ text }] } }))
      : [{ text }]
  return [
    { role: "assistant", content },
    { role: "user", content: correction }
  ]
}

/**
 * The re-ask after a reply cut at BEDROCK_MAX_TOKENS: the same conversation without the cut reply (its tool input is
 * incomplete, and resending it only grows the prompt), the last user turn carrying a note to answer shorter.
 */
export const shorterTurns = (messages: ReadonlyArray<Message>, maxTokens: number): ReadonlyArray<Message> => {
  const last = messages[messages.length - 1]
  const note = {
    text:
      `Your previous answer was cut off at the output limit of ${maxTokens} tokens and could not be used. ` +
      `Call ${analysisToolName} again with a shorter answer: reasoning under ${toolOutputCaps.reasoningChars / 2} ` +
      `characters and at most ${toolOutputCaps.evidenceItems / 2} evidence items with short values.`
  }
  if (last === undefined || last.role !== "user") return [...messages, { role: "user", content: [note] }]
  return [...messages.slice(0, -1), { ...last, content: [...(last.content ?? []), note] }]
}

const review = (reasoning: string): Analysis => ({
  fitScore: 0,
  intent: "Manual Review",
  decision: "Nurture",
  reasoning: clip(reasoning, 4000),
  evidence: []
})

/** The analysis recorded when the model's replies stay undecodable: decides nothing, a human looks at the lead. */
export const manualReview = (reason: string, asked: number): Analysis =>
  review(`Manual Review: the model's reply could not be decoded after ${asked} attempt(s): ${reason}`)

/** The analysis recorded when Bedrock stopped the model in a way a re-ask cannot change (see stopVerdict). */
export const stoppedReview = (reason: string, asked: number): Analysis =>
  review(`Manual Review: the model gave no usable answer (${reason}) after ${asked} attempt(s); not asked again`)

interface SdkError {
  readonly name?: string
  readonly message?: string
  readonly $metadata?: { readonly httpStatusCode?: number }
  readonly $retryable?: { readonly throttling?: boolean }
  readonly $response?: { readonly headers?: Record<string, string | undefined> }
}

const retryAfterHeaderMs = (error: SdkError): number | undefined => {
  const headers = error.$response?.headers ?? {}
  const raw = Object.entries(headers).find(([key]) => key.toLowerCase() === "retry-after")?.[1]
  const seconds = raw === undefined ? Number.NaN : Number(raw)
  return Number.isFinite(seconds) && seconds >= 0 ? Math.ceil(seconds * 1000) : undefined
}

/**
 * Bedrock errors that no retry can fix: the request or the set-up is wrong (ValidationException 400, also an invalid
 * model id, a model without toolChoice support, or one offered only through an inference profile; AccessDeniedException
 * 403; ResourceNotFoundException 404, an unknown model id, one not offered in the region, or one Bedrock has retired).
 * Each says what to check, from the service's message where it tells. The SDK has already corrected clock skew (it
 * retries an AccessDeniedException caused by it), so what reaches here is the real verdict.
 */
const retired = (modelId: string) =>
  `BEDROCK_MODEL_ID=${modelId} is retired on Bedrock (past its end of life, or Legacy and unused by this account ` +
  "lately): set an Active model (Bedrock's model lifecycle page lists them)"

/** Bedrock's words for a retired model, whichever error carries them (reported as 404, 403 and 400 alike). */
const isRetired = (message: string): boolean => /end of its life|marked by provider as legacy/i.test(message)

const permanentErrors: Readonly<Record<string, (modelId: string, message: string) => string>> = {
  ValidationException: (modelId, message) =>
    isRetired(message)
      ? retired(modelId)
      : /on-demand throughput isn.t supported/i.test(message)
        ? `BEDROCK_MODEL_ID=${modelId} is offered only through a cross-Region inference profile: set it to the ` +
          `profile's id (the geography's prefix and the model id, e.g. us.${modelId} or eu.${modelId})`
        : `Check BEDROCK_MODEL_ID=${modelId} (a model or inference profile that supports Converse tool use with ` +
          "toolChoice, e.g. Anthropic Claude 3+ or Amazon Nova) and BEDROCK_MAX_TOKENS (within the model's output " +
          "limit); an input too long for the model is rejected this way too",
  AccessDeniedException: (modelId, message) =>
    isRetired(message)
      ? retired(modelId)
      : `Check that the IAM role may call bedrock:InvokeModel on BEDROCK_MODEL_ID=${modelId} and that access to the ` +
        "model is granted in this account and AWS_REGION",
  ResourceNotFoundException: (modelId, message) =>
    isRetired(message)
      ? retired(modelId)
      : `Check BEDROCK_MODEL_ID=${modelId}: the model is unknown or not offered in this AWS_REGION`
}

/**
 * A ThrottlingException for the account's daily token quota ("Too many tokens per day"): no retry succeeds before the
 * quota's day turns, so the job waits DAILY_QUOTA_RETRY_MS (5 min), not a burst limit's seconds, as for a CRM's daily
 * quota (and, as there, below the sweeper's PROCESSING threshold).
 */
const isDailyQuota = (message: string): boolean => /\bper day\b/i.test(message)

/**
 * Maps an SDK failure (after the SDK's own attempts) to AnalysisFailed (transient: the job retries) or JobPermanent
 * (dead-letter now, see permanentErrors). Throttling and ModelNotReadyException carry retryAfterMs so the job is
 * delayed, not retried hot. Only names, statuses and the service's message are kept: no request data. The message is
 * masked with `redactFor` (`redactText` unless the caller knows the lead: `redactTextFor(lead)` masks its names too).
 */
export const toAnalysisError = (
  cause: unknown,
  throttleDelayMs: number,
  modelId: string,
  redactFor: (text: string) => string = redactText
): AnalysisFailed | JobPermanent => {
  const error: SdkError = typeof cause === "object" && cause !== null ? cause : { message: String(cause) }
  const name = error.name ?? "Error"
  const status = error.$metadata?.httpStatusCode
  // the service's message may quote the request (a ValidationException quoting the prompt): masked, with the lead's
  // own names, email and phone when the caller passes `redactTextFor(lead)` as `redactFor`
  // (masked before it is cut, so a cut never leaves the start of a name or an address behind)
  const detail = clip(redactFor(error.message ?? ""), 200)
  const where = status === undefined ? "no HTTP response" : `HTTP ${status}`
  const check = Object.hasOwn(permanentErrors, name) ? permanentErrors[name] : undefined
  if (check !== undefined) {
    return new JobPermanent({
      reason: `Bedrock refused the request (${name}, ${where}): ${detail.replace(/\.$/, "")}. ${check(modelId, error.message ?? "")}`
    })
  }
  if (name === "ModelNotReadyException") {
    return new AnalysisFailed({
      message: `Bedrock model not ready (${name}, ${where})`,
      retryAfterMs: retryAfterHeaderMs(error) ?? throttleDelayMs
    })
  }
  if (name === "ThrottlingException" || status === 429 || error.$retryable?.throttling === true) {
    if (isDailyQuota(error.message ?? "")) {
      return new AnalysisFailed({
        message: `Bedrock's daily token quota is spent (${name}): the lead waits ${DAILY_QUOTA_RETRY_MS / 60_000} min`,
        retryAfterMs: DAILY_QUOTA_RETRY_MS
      })
    }
    return new AnalysisFailed({
      message: `Bedrock throttled the request (${name})`,
      retryAfterMs: retryAfterHeaderMs(error) ?? throttleDelayMs
    })
  }
  return new AnalysisFailed({ message: `Bedrock call failed (${name}, ${where}): ${detail}` })
}
