import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as ConfigLayer from "../../layers/config.js"
import * as CloudWatchEmf from "../../layers/observability/CloudWatchEmf.js"
import * as Tracing from "../../layers/observability/Tracing.js"
import { checkConfig, layerFromConfig } from "../../layers/presets.js"
import { positiveInt } from "../../layers/shared/config.js"
import { lazySelected } from "../../layers/shared/optionalPackage.js"
import { NOT_STARTED_REASON, SqsQueue } from "../../layers/sqs/SqsQueue.js"
import { AppConfig } from "../../services/AppConfig.js"
import { JobDelay, JobRetry } from "../../services/JobQueue.js"
import { withParentTrace } from "../domain/traceContext.js"
import { deadLetter, processLead } from "../pipeline/process.js"
import type { LambdaContext, SqsBatchResponse, SqsEvent } from "./events.js"
import { logError } from "./log.js"
import { container } from "./runtime.js"
import { notSqsEvent, receiveCountOf } from "./shapes.js"

/**
 * The SQS queue, loaded when the environment is built (as the presets load it), so that an install without
 * @aws-sdk/client-sqs gets the install hint in the environment's log line, not an import error of the whole entry.
 */
const SqsQueueLive = lazySelected("QUEUE_BACKEND=SQS", () =>
  import("../../layers/sqs/JobQueue.js").then((m) => m.layerConfig)
)

/**
 * Every consumer service the configuration selects, with the SQS queue (QUEUE_BACKEND=SQS is the Lambda default;
 * one queue client for both tags: the layer is memoised by reference).
 */
const ConsumerLambdaLive = Layer.mergeAll(layerFromConfig, SqsQueueLive).pipe(
  Layer.provide(Tracing.layerConfig("revenueflow-consumer")),
  Layer.provideMerge(ConfigLayer.layer),
  Layer.provide(Layer.effectDiscard(checkConfig))
)

const consumer = container("consumer", () => ConsumerLambdaLive)

/** Time kept back from the function's timeout to stop unfinished jobs and answer. */
const TIMEOUT_MARGIN_MS = 1000
/** CRM_TIMEOUT_MS, read as the CRM clients read it (start-up's check has validated it). */
const crmTimeoutMs = Effect.orDie(positiveInt("CRM_TIMEOUT_MS", 10_000))

/**
 * `job` bounded by the invocation's `deadline` (epoch ms), in two steps, so that the batch's answer gets out and a
 * CRM call is neither cut (the audit row must follow the CRM's answer) nor left running unawaited where it can be:
 * - from `deadline - CRM_TIMEOUT_MS` on, a job not yet begun is not started: sent again at once, no attempt spent
 *   (it did nothing). One running is interrupted and awaited — the pipeline lets a CRM call in flight finish and
 *   record itself and starts none after — and left to retry: listed, for the queue's visibility timeout and its
 *   redrive, so it spends an attempt (a lead that never fits in the function's timeout ends FAILED with that reason,
 *   rather than running again without end). This step is taken only when the stop leaves at least CRM_TIMEOUT_MS
 *   after the invocation's start (a function timeout of twice CRM_TIMEOUT_MS and the 1 s margin, or more): earlier,
 *   it would stop jobs before they could do anything;
 * - at `deadline`, what still runs (a call started before that stop was possible, a slow audit write) is left to
 *   finish in the background and its job to retry the same way: it comes back after the queue's visibility timeout
 *   (at least the function's timeout), by when that call has ended and completed or released its claim. (Lambda may
 *   freeze the container when the invocation answers, and the call with it: its claim then lapses after
 *   IDEMPOTENCY_IN_PROGRESS_TTL_MS.)
 */
const withinDeadline =
  (startedAt: number, deadline: number, crmTimeout: number) =>
  <A, E, R>(job: Effect.Effect<A, E, R>): Effect.Effect<A, E | JobDelay | JobRetry, R> => {
    const stopAt = deadline - crmTimeout
    const stops = stopAt - startedAt >= crmTimeout
    return Effect.suspend((): Effect.Effect<A, E | JobDelay | JobRetry, R> => {
      const now = Date.now()
      if (stops && now >= stopAt) {
        return Effect.fail(new JobDelay({ delayMs: 0, reason: NOT_STARTED_REASON }))
      }
      const stopped: Effect.Effect<A, E | JobRetry, R> = stops
        ? Effect.timeoutFail(job, {
            duration: stopAt - now,
            onTimeout: () =>
              new JobRetry({ reason: "stopped before the Lambda invocation's deadline: it did not fit in its timeout" })
          })
        : job
      return stopped.pipe(
        Effect.disconnect,
        Effect.timeoutFail({
          duration: Math.max(0, deadline - now),
          onTimeout: () => new JobRetry({ reason: "the Lambda invocation was about to time out with it running" })
        })
      )
    })
  }

/**
 * SQS events (an event source mapping with ReportBatchItemFailures): each record is one lead job, processed as the
 * consumer program does (WORKER_CONCURRENCY at once). The answer lists the records to deliver again:
 * - success, or a permanent failure (lead FAILED, job moved to SQS_DLQ_URL): acknowledged;
 * - a delay (rate limit, breaker open, store failing over): the job is sent again, delayed by the retry-after with the
 *   attempts it has spent, and the record acknowledged (a receive kept for a delay would count toward maxReceiveCount);
 * - a retry (transient failure): listed, for the queue's redrive policy (maxReceiveCount, then the DLQ; the lead is
 *   marked FAILED on its last receive).
 * Near the function's timeout (context.getRemainingTimeInMillis) jobs are stopped so that the answer for the batch is
 * not lost with the invocation: see `withinDeadline`.
 *
 * With CLOUDWATCH_METRICS=EMF each batch ends with one EMF line per circuit breaker (CircuitBreakerOpen by Provider).
 *
 * Any event that is not an SQS event (the function wired to an API or a schedule, `{}`) is logged, naming its shape,
 * and refused with a thrown error: Lambda reports a function error and nothing is acknowledged.
 */
export const consumerHandler = async (event: SqsEvent, context?: LambdaContext): Promise<SqsBatchResponse> => {
  const notSqs = notSqsEvent(event as unknown)
  if (notSqs !== undefined) {
    logError("consumer invoked with an unsupported event: nothing processed", { received: notSqs })
    throw new Error(`consumerHandler takes SQS events (an event source mapping); it was invoked with ${notSqs}`)
  }
  // the jobs are bounded by the function's timeout, so that the batch's answer gets out (see withinDeadline)
  const startedAt = Date.now()
  const deadline =
    context?.getRemainingTimeInMillis === undefined
      ? undefined
      : startedAt + context.getRemainingTimeInMillis() - TIMEOUT_MARGIN_MS
  return consumer.run(
    Effect.gen(function* () {
      const sqs = yield* SqsQueue
      const config = yield* AppConfig
      const bounded =
        deadline === undefined
          ? <A, E, R>(job: Effect.Effect<A, E, R>) => job
          : withinDeadline(startedAt, deadline, yield* crmTimeoutMs)
      const services = yield* Effect.context<Effect.Effect.Context<ReturnType<typeof processLead>>>()
      // a count that cannot be read is taken as the last receive (see SqsRecord.receiveCount: the safe guess)
      const records = yield* Effect.forEach(event.Records, (record) => {
        const receiveCount = receiveCountOf(record)
        const read = {
          messageId: record.messageId,
          receiptHandle: record.receiptHandle,
          body: record.body,
          receiveCount
        }
        return receiveCount !== undefined
          ? Effect.succeed(read)
          : Effect.logWarning(
              "SQS record without a readable ApproximateReceiveCount: taken as its last receive (a failure marks the lead FAILED)"
            ).pipe(Effect.annotateLogs({ messageId: record.messageId }), Effect.as(read))
      })
      const failed = yield* sqs.settle(records, {
        concurrency: config.workerConcurrency,
        // a message held in flight until its time (a FIFO queue with maxReceiveCount 1) is let go well before the
        // deadline, so that its copy is sent and the batch answered
        ...(deadline === undefined
          ? {}
          : { holdUntil: deadline - Math.min(yield* crmTimeoutMs, (deadline - startedAt) / 2) }),
        process: (job) => processLead(job).pipe(withParentTrace(job.traceContext), Effect.provide(services), bounded),
        onDeadLetter: (job, reason) => deadLetter(job, reason).pipe(Effect.provide(services))
      })
      // the breakers' states once a batch (CLOUDWATCH_METRICS=EMF): no interval runs in a container frozen between
      // invocations, and the stack's breaker alarms read these lines
      yield* CloudWatchEmf.emitBreakerSample()
      return { batchItemFailures: failed.map((itemIdentifier) => ({ itemIdentifier })) }
    })
  )
}

/** Releases the consumer's environment (tests). */
export const disposeConsumer = () => consumer.dispose()

/** The bundle's entry (dist/lambda/consumer/index.mjs): handler "index.handler". */
export const handler = consumerHandler
