import * as Effect from "effect/Effect"
import { AppConfig } from "../../services/AppConfig.js"
import { JobQueue } from "../../services/JobQueue.js"
import { withParentTrace } from "../domain/traceContext.js"
import { deadLetter, processLead } from "./process.js"
import { runSweeper } from "./sweeper.js"

/**
 * The consumer: process lead jobs with WORKER_CONCURRENCY and run the outbox sweeper, until the scope closes
 * (closing drains active jobs within SHUTDOWN_TIMEOUT_MS).
 */
export const runConsumer = Effect.gen(function* () {
  const config = yield* AppConfig
  const queue = yield* JobQueue
  const context = yield* Effect.context<Effect.Effect.Context<ReturnType<typeof processLead>>>()
  yield* queue.consume({
    concurrency: config.workerConcurrency,
    process: (job) => processLead(job).pipe(withParentTrace(job.traceContext), Effect.provide(context)),
    onDeadLetter: (job, reason) => deadLetter(job, reason).pipe(Effect.provide(context))
  })
  yield* Effect.forkScoped(
    runSweeper({
      intervalMs: config.sweepIntervalMs,
      minAgeMs: config.sweepMinAgeMs,
      processingMinAgeMs: config.sweepProcessingMinAgeMs,
      resendMinAgeMs: config.sweepResendMinAgeMs
    })
  )
})
