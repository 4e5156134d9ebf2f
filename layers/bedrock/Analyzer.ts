import {
  BedrockRuntimeClient,
  ConverseCommand,
  type ConverseResponse,
  type Message
} from "@aws-sdk/client-bedrock-runtime"
import { NodeHttpHandler } from "@smithy/node-http-handler"
import type * as ConfigError from "effect/ConfigError"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as FiberRef from "effect/FiberRef"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import type { Analysis } from "../../src/domain/analysis.js"
import { redactText, redactTextFor } from "../../src/domain/redact.js"
import { type AnalysisFailed, type AnalysisInput, Analyzer } from "../../services/Analyzer.js"
import type { JobPermanent } from "../../services/JobQueue.js"
import { throughBreaker } from "../shared/breakerNames.js"
import { BEDROCK_BREAKER } from "../../src/domain/breakers.js"
import type { BedrockAnalyzerOptions } from "./config.js"
import { config } from "./config.js"
import {
  correctionTurns,
  decodeReply,
  manualReview,
  shorterTurns,
  stoppedReview,
  stopVerdict,
  toAnalysisError
} from "./converse.js"
import { systemPrompt, userPrompt } from "./prompt.js"
import { analysisToolConfig } from "./toolSchema.js"

export { type BedrockAnalyzerOptions, config } from "./config.js"

/** A Bedrock Runtime client for the life of the scope; nothing that would override the SDK's env settings is passed. */
const acquireClient = (options: BedrockAnalyzerOptions) =>
  Effect.acquireRelease(
    Effect.sync(
      () =>
        new BedrockRuntimeClient({
          maxAttempts: options.maxAttempts,
          ...(options.http1 === true ? { requestHandler: new NodeHttpHandler() } : {})
        })
    ),
    (client) => Effect.sync(() => client.destroy())
  )

/**
 * How the lead being analysed is masked in Bedrock's error text (a ValidationException may quote the prompt, names
 * included): set by `analyze` for its lead, read where a failed call becomes an AnalysisFailed, inside the spans.
 */
const leadMask = FiberRef.unsafeMake<(text: string) => string>(redactText)

/** The Bedrock analyser: Converse with a forced structured-output tool whose input is decoded by the Analysis Schema. */
export const make = (options: BedrockAnalyzerOptions): Effect.Effect<Analyzer.Service, never, Scope.Scope> =>
  Effect.gen(function* () {
    const client = yield* acquireClient(options)
    const reportUsage = options.onUsage ?? (() => Effect.void)

    const converse = (messages: ReadonlyArray<Message>) =>
      Effect.flatMap(FiberRef.get(leadMask), (mask) =>
        Effect.tryPromise({
          try: (signal) =>
            client.send(
              new ConverseCommand({
                modelId: options.modelId,
                system: [{ text: systemPrompt }],
                messages: [...messages],
                inferenceConfig: { maxTokens: options.maxTokens, temperature: 0 },
                // The generated JSON schema is a plain JSON document; the SDK types it as DocumentType.
                toolConfig: analysisToolConfig as never
              }),
              { abortSignal: signal }
            ),
          catch: (cause) => toAnalysisError(cause, options.throttleDelayMs, options.modelId, mask)
        })
      ).pipe(
        Effect.timeoutFail({
          duration: Duration.millis(options.timeoutMs),
          onTimeout: () =>
            toAnalysisError(
              { name: "TimeoutError", message: `no reply within ${options.timeoutMs} ms` },
              0,
              options.modelId
            )
        }),
        Effect.timed,
        Effect.tap(([elapsed, reply]) =>
          reportUsage(
            options.modelId,
            reply.usage?.inputTokens ?? 0,
            reply.usage?.outputTokens ?? 0,
            Duration.toMillis(elapsed) / 1000
          )
        ),
        Effect.map(([, reply]) => reply),
        Effect.withSpan("bedrock.converse", {
          captureStackTrace: false,
          attributes: { "gen_ai.request.model": options.modelId }
        })
      )

    const undecodable = (
      messages: ReadonlyArray<Message>,
      reply: ConverseResponse,
      reason: string,
      asked: number,
      cut: boolean
    ): Effect.Effect<Analysis, AnalysisFailed | JobPermanent> =>
      asked > options.decodeRetries
        ? Effect.logWarning("Bedrock reply undecodable, lead goes to Manual Review").pipe(
            Effect.annotateLogs({ reason, attempts: asked }),
            Effect.as(manualReview(reason, asked))
          )
        : Effect.logInfo("Bedrock reply undecodable, asking again").pipe(
            Effect.annotateLogs({ reason, attempt: asked }),
            Effect.zipRight(ask([...messages, ...correctionTurns(reply, reason)], asked + 1, cut))
          )

    /**
     * One Converse call and what its reply decides. A guardrail / content-filter / context-window stop is final:
     * Manual Review now. A reply cut at maxTokens is never used; it is asked again once, shorter (temperature 0 and
     * the same prompt would be cut the same way), within BEDROCK_DECODE_RETRIES, then Manual Review. Otherwise the
     * tool input is decoded, and an undecodable reply is re-asked with its error up to BEDROCK_DECODE_RETRIES.
     */
    const ask = (
      messages: ReadonlyArray<Message>,
      asked: number,
      cut: boolean
    ): Effect.Effect<Analysis, AnalysisFailed | JobPermanent> =>
      Effect.flatMap(converse(messages), (reply) => {
        const verdict = stopVerdict(reply)
        if (verdict?.kind === "final" || (verdict?.kind === "cut" && (cut || asked > options.decodeRetries))) {
          return Effect.logWarning("Bedrock gave no usable answer, lead goes to Manual Review").pipe(
            Effect.annotateLogs({ reason: verdict.reason, attempts: asked }),
            Effect.as(stoppedReview(verdict.reason, asked))
          )
        }
        if (verdict?.kind === "cut") {
          return Effect.logInfo("Bedrock reply cut at maxTokens, asking once for a shorter one").pipe(
            Effect.annotateLogs({ reason: verdict.reason, attempt: asked, maxTokens: options.maxTokens }),
            Effect.zipRight(ask(shorterTurns(messages, options.maxTokens), asked + 1, true))
          )
        }
        return Either.match(decodeReply(reply), {
          onRight: Effect.succeed,
          onLeft: (reason) => undecodable(messages, reply, reason, asked, cut)
        })
      })

    return Analyzer.of({
      breaker: BEDROCK_BREAKER,
      // through the caller's breaker: an outage (AnalysisFailed without retryAfterMs: 5xx, timeouts, the network)
      // counts, not a throttle (it has its own wait) nor a refusal (a setting no retry fixes)
      analyze: (input: AnalysisInput) =>
        throughBreaker(
          BEDROCK_BREAKER,
          ask([{ role: "user", content: [{ text: userPrompt(input) }] }], 1, false).pipe(
            Effect.locally(leadMask, redactTextFor(input.lead))
          ),
          (error) => error._tag === "AnalysisFailed" && error.retryAfterMs === undefined
        ).pipe(Effect.withSpan("analyzer.bedrock", { captureStackTrace: false, attributes: { leadId: input.leadId } }))
    })
  })

/** The name of Bedrock's circuit breaker (its calls' state in the gauge, the console and the EMF lines). */
export { BEDROCK_BREAKER }

/** The Bedrock analyser with explicit options. */
export const layer = (options: BedrockAnalyzerOptions): Layer.Layer<Analyzer> => Layer.scoped(Analyzer, make(options))

/** The Bedrock analyser from BEDROCK_* config, with a usage callback (e.g. Metrics.aiUsage). */
export const layerConfigWith = (
  extra: Pick<BedrockAnalyzerOptions, "onUsage">
): Layer.Layer<Analyzer, ConfigError.ConfigError> =>
  Layer.unwrapEffect(Effect.map(config, (settings) => layer({ ...settings, ...extra })))

/** The Bedrock analyser from BEDROCK_* config (ANALYZER=BEDROCK). */
export const layerConfig: Layer.Layer<Analyzer, ConfigError.ConfigError> = layerConfigWith({})
