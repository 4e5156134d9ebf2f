import * as Config from "effect/Config"
import * as ConfigError from "effect/ConfigError"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import type * as Effect from "effect/Effect"
import { positiveInt, validated } from "../shared/config.js"

/** Settings of the Bedrock analyser. Region and endpoint are not here: the SDK reads AWS_REGION / AWS_ENDPOINT_URL_*. */
export interface BedrockAnalyzerOptions {
  readonly modelId: string
  /** Deadline for one Converse call, SDK retries included. */
  readonly timeoutMs: number
  /** SDK attempts per call (1 = no SDK retry). The job queue retries too, so keep this small: they multiply. */
  readonly maxAttempts: number
  /** How many times an undecodable reply is re-asked before the lead goes to Manual Review. */
  readonly decodeRetries: number
  readonly maxTokens: number
  /** Job delay after throttling when Bedrock sends no Retry-After. */
  readonly throttleDelayMs: number
  /** Plain HTTP/1.1 instead of the SDK's default HTTP/2 (local fakes, proxies that cannot speak h2). */
  readonly http1?: boolean | undefined
  /** Token usage and latency of each Converse call (wire to Metrics.aiUsage). */
  readonly onUsage?:
    | ((model: string, inputTokens: number, outputTokens: number, seconds: number) => Effect.Effect<void>)
    | undefined
}

/**
 * BEDROCK_MODEL_ID has no default: Bedrock retires models every year or so (Claude 3.5 Haiku, this setting's default
 * until December 2026, answers every call "This model version has reached the end of its life" since June 2026), and
 * which id a Region serves (a model's own, or only a geography's inference profile) depends on the Region.
 */
const modelIdRequired =
  "is missing (or blank), and required with ANALYZER=BEDROCK: the id of an Active Converse model with tool use, or of an inference profile, " +
  "that this account may invoke in AWS_REGION (e.g. us.anthropic.claude-haiku-4-5-20251001-v1:0 in a US Region)"

/** BEDROCK_* settings (see BedrockAnalyzerOptions). */
export const config: Config.Config<Omit<BedrockAnalyzerOptions, "onUsage">> = Config.all({
  modelId: Config.string("BEDROCK_MODEL_ID").pipe(
    Config.option,
    Config.mapOrFail((id) =>
      Option.isSome(id) && id.value.trim() !== ""
        ? Either.right(id.value.trim())
        : Either.left(ConfigError.InvalidData(["BEDROCK_MODEL_ID"], modelIdRequired))
    )
  ),
  timeoutMs: positiveInt("BEDROCK_TIMEOUT_MS", 20_000),
  maxAttempts: positiveInt("BEDROCK_MAX_ATTEMPTS", 2),
  decodeRetries: validated("BEDROCK_DECODE_RETRIES", Config.integer(), {
    message: "must be an integer from 0 to 5",
    validation: (n) => n >= 0 && n <= 5
  }).pipe(Config.withDefault(2)),
  maxTokens: positiveInt("BEDROCK_MAX_TOKENS", 2048),
  throttleDelayMs: positiveInt("BEDROCK_THROTTLE_DELAY_MS", 10_000),
  http1: Config.boolean("BEDROCK_HTTP1").pipe(Config.withDefault(false))
})
