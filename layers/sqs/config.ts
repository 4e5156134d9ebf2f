import * as Config from "effect/Config"
import * as ConfigError from "effect/ConfigError"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import { jobSettings } from "../../services/AppConfig.js"
import { positiveInt } from "../shared/config.js"

/** How to reach the SQS queue. The client reads region, credentials and AWS_ENDPOINT_URL_SQS the SDK's own way. */
export interface SqsOptions {
  /**
   * The lead-job queue (SQS_QUEUE_URL). Standard or FIFO (a .fifo URL: the lead id is the group id, and each send has
   * a deduplication id of its own, so nothing sent is dropped as a duplicate).
   */
  readonly queueUrl: string
  /** Its dead-letter queue (SQS_DLQ_URL): listed and replayed by the CLI; permanent failures are moved there. */
  readonly deadLetterQueueUrl?: string | undefined
  /** Attempts when the queue has no redrive policy to read maxReceiveCount from (JOB_ATTEMPTS). */
  readonly attempts?: number | undefined
  /**
   * How long a send (an enqueue, a delayed job's copy) may take, the SDK's retries included, before it fails as
   * QueueUnavailable (QUEUE_TIMEOUT_MS; default 2000): an accepted lead's answer waits on its enqueue, and one that
   * fails leaves the lead to the outbox sweep. The other calls get 10 s.
   */
  readonly sendTimeoutMs?: number | undefined
  /** Long-poll wait of the polling consumer (the consumer program; Lambda polls for itself). */
  readonly waitTimeSeconds?: number | undefined
  /**
   * The polling consumer's lease on a message it runs (default 30 s): received hidden for this long, and renewed
   * (ChangeMessageVisibility) every third of it while its job runs, so a job longer than the queue's visibility
   * timeout is not delivered to a second consumer meanwhile (each such receive counts toward maxReceiveCount).
   */
  readonly leaseSeconds?: number | undefined
  /**
   * When the polling consumer's scope closes (SIGTERM): it stops receiving, and its running jobs have this long to
   * finish before they are interrupted (SHUTDOWN_TIMEOUT_MS; default 10 s); an interrupted job is sent again at once
   * (a fresh message: the cut run spends no receive).
   */
  readonly shutdownTimeoutMs?: number | undefined
}

const url = (name: string) =>
  Config.validate(Config.string(name), {
    message: "must be an SQS queue URL (https://sqs.<region>.amazonaws.com/<account>/<name>)",
    validation: (value) => /^https?:\/\/[^/]+\/[^/]+\/[^/]+$/.test(value)
  })

/**
 * SQS_QUEUE_URL (required with QUEUE_BACKEND=SQS), SQS_DLQ_URL (optional), JOB_ATTEMPTS, SHUTDOWN_TIMEOUT_MS,
 * QUEUE_TIMEOUT_MS.
 */
export const config: Config.Config<SqsOptions> = Config.all({
  queueUrl: url("SQS_QUEUE_URL"),
  deadLetterQueueUrl: Config.option(url("SQS_DLQ_URL")).pipe(Config.map(Option.getOrUndefined)),
  attempts: jobSettings.attempts,
  shutdownTimeoutMs: jobSettings.shutdownTimeoutMs,
  sendTimeoutMs: positiveInt("QUEUE_TIMEOUT_MS", 2000)
})

/** SQS_DLQ_URL, required where jobs are consumed (permanent failures and unreadable messages go there). */
export const deadLetterQueueRequired: Config.Config<string> = Config.option(url("SQS_DLQ_URL")).pipe(
  Config.mapOrFail((value) =>
    Option.match(value, {
      onSome: Either.right,
      onNone: () =>
        Either.left(
          ConfigError.InvalidData(
            ["SQS_DLQ_URL"],
            "is required for a consumer with QUEUE_BACKEND=SQS: permanent failures and unreadable messages are moved there"
          )
        )
    })
  )
)

/** Which queue the environment selects (QUEUE_BACKEND): unset keeps today's choice, BullMQ with REDIS_URL else memory. */
export const queueBackendConfig = Config.option(Config.literal("MEMORY", "BULLMQ", "SQS")("QUEUE_BACKEND"))

/** The queue in use: QUEUE_BACKEND's, or when it is unset BullMQ if REDIS_URL is set, else memory. */
export const selectedQueueBackend = (
  backend: Option.Option<"MEMORY" | "BULLMQ" | "SQS">,
  redisUrl: Option.Option<unknown>
): "MEMORY" | "BULLMQ" | "SQS" => Option.getOrElse(backend, () => (Option.isSome(redisUrl) ? "BULLMQ" : "MEMORY"))
