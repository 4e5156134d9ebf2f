import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as ConfigLayer from "../../layers/config.js"
import * as Tracing from "../../layers/observability/Tracing.js"
import { checkConfig, layerFromConfig } from "../../layers/presets.js"
import * as SqsJobQueue from "../../layers/sqs/JobQueue.js"
import { AppConfig } from "../../services/AppConfig.js"
import { JobDelay } from "../../services/JobQueue.js"
import { withParentTrace } from "../domain/traceContext.js"
import { deadLetter, processLead } from "../pipeline/process.js"
import type { LambdaContext, SqsBatchResponse, SqsEvent } from "./events.js"
import { logError } from "./log.js"
import { container } from "./runtime.js"
import { notSqsEvent, receiveCountOf } from "./shapes.js"

/**
 * Every consumer service the configuration selects, with the SQS queue (QUEUE_BACKEND=SQS is the Lambda default;
 * one queue client for both tags: the layer is memoised by reference).
 */
const ConsumerLambdaLive = Layer.mergeAll(layerFromConfig, SqsJobQueue.layerConfig).pipe(
  Layer.provide(Tracing.layerConfig("revenueflow-consumer")),
  Layer.provideMerge(ConfigLayer.layer),
  Layer.provide(Layer.effectDiscard(checkConfig))
)

const consumer = container("consumer", () => ConsumerLambdaLive)

/** Time kept back from the function's timeout to stop unfinished jobs and answer. */
const TIMEOUT_MARGIN_MS = 1000

/**
 * SQS events (an event source mapping with ReportBatchItemFailures): each record is one lead job, processed as the
 * consumer program does (WORKER_CONCURRENCY at once). The answer lists the records to deliver again:
 * - success, or a permanent failure (lead FAILED, job moved to SQS_DLQ_URL): acknowledged;
 * - a delay (rate limit, breaker open): the message's visibility becomes the retry-after, and it is listed;
 * - a retry (transient failure): listed, for the queue's redrive policy (maxReceiveCount, then the DLQ; the lead is
 *   marked FAILED on its last receive).
 * A job still running 1 s before the function's timeout (context.getRemainingTimeInMillis) is interrupted and
 * listed, visible again at once, so the answer for the rest of the batch is not lost with the invocation.
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
  // a job still running this close to the function's timeout is stopped and reported, so the batch answer gets out
  const deadline =
    context?.getRemainingTimeInMillis === undefined
      ? undefined
      : Date.now() + context.getRemainingTimeInMillis() - TIMEOUT_MARGIN_MS
  const withinDeadline = <A, E, R>(job: Effect.Effect<A, E, R>) =>
    deadline === undefined
      ? job
      : Effect.suspend(() =>
          job.pipe(
            // a CRM call in flight finishes on its own (the pipeline never cuts one between the CRM and the audit
            // row): the answer does not wait for it, and the redelivered job finds its idempotency claim held
            Effect.disconnect,
            Effect.timeoutFail({
              duration: Math.max(0, deadline - Date.now()),
              onTimeout: () => new JobDelay({ delayMs: 0, reason: "the Lambda invocation is about to time out" })
            })
          )
        )
  return consumer.run(
    Effect.gen(function* () {
      const sqs = yield* SqsJobQueue.SqsQueue
      const config = yield* AppConfig
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
        process: (job) =>
          processLead(job).pipe(withParentTrace(job.traceContext), Effect.provide(services), withinDeadline),
        onDeadLetter: (job, reason) => deadLetter(job, reason).pipe(Effect.provide(services))
      })
      return { batchItemFailures: failed.map((itemIdentifier) => ({ itemIdentifier })) }
    })
  )
}

/** Releases the consumer's environment (tests). */
export const disposeConsumer = () => consumer.dispose()

/** The bundle's entry (dist/lambda/consumer/index.mjs): handler "index.handler". */
export const handler = consumerHandler
