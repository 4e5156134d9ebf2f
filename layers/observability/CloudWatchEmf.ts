import * as Clock from "effect/Clock"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import { type BreakerState, CircuitBreaker } from "../../services/CircuitBreaker.js"
import { breakerNamesInContext } from "../shared/breakerNames.js"
import { JobQueue, type QueueStats } from "../../services/JobQueue.js"
import { checkedOr, validated } from "../shared/config.js"

/**
 * The autoscaling signals as CloudWatch metrics, in the Embedded Metric Format: JSON lines on stdout each interval
 * (the queue's, and one per circuit breaker the program runs), which CloudWatch Logs (the awslogs driver ships stdout
 * there) turns into metrics. Chosen over PutMetricData because it costs no API call, needs no IAM permission (the
 * task role stays without a "*" resource: cloudwatch:PutMetricData cannot be scoped) and cannot slow or fail the
 * program when CloudWatch is throttling; the Prometheus metrics stay as they are.
 */
export interface EmfOptions {
  readonly namespace: string
  readonly queueName: string
  readonly intervalMs: number
  /** Where each line goes; default process.stdout. */
  readonly write?: (line: string) => void
}

/** CLOUDWATCH_METRICS (OFF or EMF), CLOUDWATCH_NAMESPACE, CLOUDWATCH_METRICS_INTERVAL_MS, QUEUE_NAME. */
export const config = Config.all({
  mode: Config.literal("OFF", "EMF")("CLOUDWATCH_METRICS").pipe(Config.withDefault("OFF" as const)),
  namespace: Config.string("CLOUDWATCH_NAMESPACE").pipe(
    Config.validate({ message: "must be 1 to 255 characters", validation: (s) => s.length > 0 && s.length <= 255 }),
    Config.withDefault("RevenueFlow")
  ),
  intervalMs: validated("CLOUDWATCH_METRICS_INTERVAL_MS", Config.integer(), {
    message: "must be a whole number of milliseconds, at least 1000",
    validation: (n) => n >= 1000
  }).pipe(Config.withDefault(15_000)),
  queueName: Config.string("QUEUE_NAME").pipe(Config.withDefault("lead-processing"))
})

/** A circuit breaker's state in a sample, by the breaker's name (the Provider dimension's value). */
export interface BreakerSample {
  readonly provider: string
  readonly state: BreakerState
}

/**
 * The EMF documents of one sample: the queue figures under the Queue dimension, once, then, in a program that runs
 * breakers (the consumer), one document per breaker with CircuitBreakerOpen under the Provider dimension. One each:
 * a dimension's value is a member of its document, so a document holds one Provider and one CircuitBreakerOpen.
 */
export const documents = (
  options: { readonly namespace: string; readonly queueName: string },
  sample: { readonly timestamp: number; readonly stats: QueueStats; readonly breakers: ReadonlyArray<BreakerSample> }
) => [
  {
    _aws: {
      Timestamp: sample.timestamp,
      CloudWatchMetrics: [
        {
          Namespace: options.namespace,
          Dimensions: [["Queue"]],
          Metrics: [
            { Name: "QueueDepth", Unit: "Count" },
            { Name: "OldestWaitingJobAgeSeconds", Unit: "Seconds" },
            { Name: "DeadLetters", Unit: "Count" }
          ]
        }
      ]
    },
    Queue: options.queueName,
    QueueDepth: sample.stats.waiting,
    OldestWaitingJobAgeSeconds: sample.stats.oldestWaitingAgeMs / 1000,
    DeadLetters: sample.stats.failed
  },
  ...breakerDocuments(options, sample)
]

/** One EMF document per breaker: CircuitBreakerOpen (1 open, 0 otherwise) under the Provider dimension. */
export const breakerDocuments = (
  options: { readonly namespace: string },
  sample: { readonly timestamp: number; readonly breakers: ReadonlyArray<BreakerSample> }
) =>
  sample.breakers.map((breaker) => ({
    _aws: {
      Timestamp: sample.timestamp,
      CloudWatchMetrics: [
        {
          Namespace: options.namespace,
          Dimensions: [["Provider"]],
          Metrics: [{ Name: "CircuitBreakerOpen", Unit: "Count" }]
        }
      ]
    },
    Provider: breaker.provider,
    CircuitBreakerOpen: breaker.state === "open" ? 1 : 0
  }))

/** The state of each breaker the services in context run (none without a CircuitBreaker: the ingest). */
const breakerStates: Effect.Effect<ReadonlyArray<BreakerSample>> = Effect.gen(function* () {
  const breaker = yield* Effect.serviceOption(CircuitBreaker)
  if (Option.isNone(breaker)) return []
  const names = yield* breakerNamesInContext
  return yield* Effect.forEach(names, (provider) =>
    Effect.map(breaker.value.state(provider), (state) => ({ provider, state }))
  )
})

const stdoutLine = (line: string) => {
  process.stdout.write(`${line}\n`)
}

/**
 * One sample of the breakers' states as EMF lines, when CLOUDWATCH_METRICS=EMF (else nothing): what the Lambda
 * consumer writes after each batch, where no interval runs (a container is frozen between invocations) and the
 * queue's figures are SQS's own metrics. Never fails: a sample that cannot be taken is skipped, not invented.
 */
export const emitBreakerSample = (write: (line: string) => void = stdoutLine): Effect.Effect<void> =>
  Effect.gen(function* () {
    const settings = yield* config
    if (settings.mode !== "EMF") return
    const breakers = yield* breakerStates
    const timestamp = yield* Clock.currentTimeMillis
    for (const doc of breakerDocuments(settings, { timestamp, breakers })) write(JSON.stringify(doc))
  }).pipe(Effect.catchAll((error) => Effect.logDebug("cloudwatch metrics sample skipped", error)))

/** Emits one sample now and then every `intervalMs`; a sample whose queue read fails is skipped, not invented. */
export const layer = (options: EmfOptions): Layer.Layer<never, never, JobQueue> =>
  Layer.scopedDiscard(
    Effect.gen(function* () {
      const queue = yield* JobQueue
      // the ingest runs no breaker, CRM, analyser or enrichment: it publishes the queue figures alone
      const breaker = Option.getOrUndefined(yield* Effect.serviceOption(CircuitBreaker))
      const names = breaker === undefined ? [] : yield* breakerNamesInContext
      const write = options.write ?? ((line: string) => process.stdout.write(`${line}\n`))
      const emit = Effect.gen(function* () {
        const stats = yield* queue.stats.pipe(Effect.timeout(Duration.seconds(2)))
        const breakers =
          breaker === undefined
            ? []
            : yield* Effect.forEach(names, (provider) =>
                Effect.map(breaker.state(provider), (state) => ({ provider, state }))
              )
        const timestamp = yield* Clock.currentTimeMillis
        // one line each: CloudWatch Logs reads every line as a log event of its own
        for (const doc of documents(options, { timestamp, stats, breakers })) write(JSON.stringify(doc))
      }).pipe(Effect.catchAll((error) => Effect.logDebug("cloudwatch metrics sample skipped", error)))
      yield* emit.pipe(Effect.repeat(Schedule.spaced(Duration.millis(options.intervalMs))), Effect.forkScoped)
    })
  )

/** The emitter when CLOUDWATCH_METRICS=EMF, else nothing. */
export const layerConfig: Layer.Layer<never, ConfigError.ConfigError, JobQueue> = Layer.unwrapEffect(
  Effect.map(checkedOr(config), (settings) => (settings.mode === "EMF" ? layer(settings) : Layer.empty))
)
