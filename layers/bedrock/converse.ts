import type { ContentBlock, ConverseResponse, Message } from "@aws-sdk/client-bedrock-runtime"
import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import { Analysis } from "../../src/domain/analysis.js"
import { AnalysisFailed } from "../../services/Analyzer.js"
import { analysisToolName } from "./toolSchema.js"

const decodeAnalysis = Schema.decodeUnknownEither(Analysis)

const clip = (text: string, max: number): string => (text.length > max ? `${text.slice(0, max - 3)}...` : text)

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
  const content: Array<ContentBlock> = reply.output?.message?.content ?? []
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

/** The analysis recorded when the model's replies stay undecodable: decides nothing, a human looks at the lead. */
export const manualReview = (reason: string, asked: number): Analysis => ({
  fitScore: 0,
  intent: "Manual Review",
  decision: "Nurture",
  reasoning: clip(`Manual Review: the model's reply could not be decoded after ${asked} attempt(s): ${reason}`, 4000),
  evidence: []
})

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
 * Maps an SDK failure (after the SDK's own attempts) to AnalysisFailed. Throttling carries retryAfterMs so the job is
 * delayed, not retried hot. Only names, statuses and the service's message are kept: no request data.
 */
export const toAnalysisFailed = (cause: unknown, throttleDelayMs: number): AnalysisFailed => {
  const error: SdkError = typeof cause === "object" && cause !== null ? cause : { message: String(cause) }
  const name = error.name ?? "Error"
  const status = error.$metadata?.httpStatusCode
  const detail = clip(error.message ?? "", 200)
  if (name === "ThrottlingException" || status === 429 || error.$retryable?.throttling === true) {
    return new AnalysisFailed({
      message: `Bedrock throttled the request (${name})`,
      retryAfterMs: retryAfterHeaderMs(error) ?? throttleDelayMs
    })
  }
  const where = status === undefined ? "no HTTP response" : `HTTP ${status}`
  return new AnalysisFailed({ message: `Bedrock call failed (${name}, ${where}): ${detail}` })
}
