import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberSet from "effect/FiberSet"
import * as Layer from "effect/Layer"
import * as Queue from "effect/Queue"
import * as Random from "effect/Random"
import { failureOutcome } from "../shared/jobOutcome.js"
import {
  type ConsumeOptions,
  type DeadLetter,
  type JobInfo,
  JobQueue,
  type LeadJob,
  type QueueStats
} from "../../services/JobQueue.js"

/** Retry and shutdown settings, the same ones the BullMQ layer takes. */
export interface MemoryQueueOptions {
  readonly attempts: number
  /** First retry delay; doubles per attempt, with jitter. */
  readonly backoffMs: number
  readonly shutdownTimeoutMs: number
}

type JobState = "waiting" | "delayed" | "active" | "completed" | "failed"

interface Entry {
  readonly job: LeadJob
  readonly state: JobState
  readonly attemptsMade: number
  /** When the job last became ready to run (for the oldest-waiting-job age). */
  readonly readyAt: number
  readonly failedReason?: string
  readonly failedAt?: number
}

/** Exponential backoff with "equal jitter": between half and all of base * 2^(attempt-1). */
export const backoffDelay = (backoffMs: number, attemptsMade: number) =>
  Effect.map(Random.next, (r) => {
    const ceiling = backoffMs * 2 ** Math.max(0, attemptsMade - 1)
    return Math.round(ceiling / 2 + (r * ceiling) / 2)
  })

/** Completed jobs kept, the latest first to stay (as BullMQ's JOB_REMOVE_ON_COMPLETE default). */
export const KEPT_COMPLETED_JOBS = 1000

/**
 * An in-process queue with BullMQ's semantics: job id = lead id, attempts, backoff, delays, dead letters; the latest
 * KEPT_COMPLETED_JOBS completed jobs are kept (an enqueue of one of them is a no-op, as BullMQ's), older ones dropped.
 * The jobs are one map updated in place: each update copied the whole map, and with every completed job kept for
 * good a process's cost per lead grew with every lead it had run (27 ms a lead after 11,000).
 */
export const make = (options: MemoryQueueOptions) =>
  Effect.gen(function* () {
    const entries = new Map<string, Entry>()
    // completed job ids, oldest first
    const completed = new Set<string>()
    const ready = yield* Queue.unbounded<string>()
    const timers = yield* FiberSet.make()

    const set = (id: string, entry: Entry) => {
      entries.set(id, entry)
      if (entry.state === "completed") {
        completed.delete(id)
        completed.add(id)
        if (completed.size > KEPT_COMPLETED_JOBS) {
          const oldest = completed.values().next().value as string
          completed.delete(oldest)
          entries.delete(oldest)
        }
      } else completed.delete(id)
    }

    const update = (id: string, f: (entry: Entry) => Entry) =>
      Effect.sync(() => {
        const entry = entries.get(id)
        if (entry !== undefined) set(id, f(entry))
      })

    const makeReady = (id: string) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) =>
        update(id, (entry) => ({ ...entry, state: "waiting", readyAt: now })).pipe(
          Effect.zipRight(Queue.offer(ready, id))
        )
      )

    // runJob calls this while uninterruptible, and a forked fiber inherits that: without `interruptible` the
    // timer could not be interrupted and closing the queue would wait out every pending delay
    const delay = (id: string, ms: number) =>
      update(id, (entry) => ({ ...entry, state: "delayed" })).pipe(
        Effect.zipRight(
          FiberSet.run(timers, Effect.interruptible(Effect.sleep(ms)).pipe(Effect.zipRight(makeReady(id))))
        ),
        Effect.asVoid
      )

    const enqueue = (job: LeadJob) =>
      Effect.gen(function* () {
        const now = yield* Clock.currentTimeMillis
        if (entries.has(job.leadId)) return
        set(job.leadId, { job, state: "waiting", attemptsMade: 0, readyAt: now })
        yield* Queue.offer(ready, job.leadId)
      })

    const stats = Effect.gen(function* () {
      const now = yield* Clock.currentTimeMillis
      const all = [...entries.values()]
      const count = (state: JobState) => all.filter((entry) => entry.state === state).length
      const waitingSince = all.filter((entry) => entry.state === "waiting").map((entry) => entry.readyAt)
      return {
        waiting: count("waiting"),
        active: count("active"),
        delayed: count("delayed"),
        completed: count("completed"),
        failed: count("failed"),
        oldestWaitingAgeMs: waitingSince.length === 0 ? 0 : now - Math.min(...waitingSince)
      } satisfies QueueStats
    })

    const deadLetters = (limit: number) =>
      Effect.sync(() =>
        [...entries.values()]
          .filter((entry) => entry.state === "failed")
          .slice(0, limit)
          .map(
            (entry): DeadLetter => ({
              leadId: entry.job.leadId,
              reason: entry.failedReason ?? "unknown",
              attemptsMade: entry.attemptsMade,
              failedAt: new Date(entry.failedAt ?? 0)
            })
          )
      )

    const replay = (leadId: string) =>
      Effect.gen(function* () {
        const entry = entries.get(leadId)
        if (entry?.state !== "failed" && entry?.state !== "completed") return false
        set(leadId, { job: entry.job, state: "delayed", attemptsMade: 0, readyAt: 0 })
        yield* makeReady(leadId)
        return true
      })

    /** Run one job and apply its fate. An interrupted job (shutdown) goes back to waiting, attempts untouched. */
    const runJob = (id: string, consume: ConsumeOptions) =>
      Effect.uninterruptibleMask((restore) =>
        Effect.gen(function* () {
          const entry = entries.get(id)
          if (entry === undefined || entry.state !== "waiting") return
          yield* update(id, (e) => ({ ...e, state: "active" }))
          const info: JobInfo = { ...entry.job, attemptsMade: entry.attemptsMade, maxAttempts: options.attempts }
          const exit = yield* Effect.exit(restore(consume.process(info)))
          if (Exit.isSuccess(exit)) return yield* update(id, (e) => ({ ...e, state: "completed" }))
          if (Exit.isInterrupted(exit)) return yield* makeReady(id)
          // the same fates as BullMQ's and SQS's, a defect included: a retry whose reason names it
          const outcome = failureOutcome(exit.cause)
          if (outcome._tag === "Delay") return yield* delay(id, outcome.delayMs)
          if (Cause.isDie(exit.cause)) {
            yield* Effect.logError("job failed with a defect (a bug: the lead is retried, then dead-lettered)").pipe(
              Effect.annotateLogs({ leadId: id, defect: outcome.reason })
            )
          }
          const attemptsMade = entry.attemptsMade + 1
          const reason = outcome.reason
          if (outcome._tag === "Permanent" || attemptsMade >= options.attempts) {
            yield* consume.onDeadLetter({ ...info, attemptsMade }, reason)
            const failedAt = yield* Clock.currentTimeMillis
            return yield* update(id, (e) => ({ ...e, state: "failed", attemptsMade, failedReason: reason, failedAt }))
          }
          yield* update(id, (e) => ({ ...e, attemptsMade }))
          yield* delay(id, yield* backoffDelay(options.backoffMs, attemptsMade))
        })
      )

    const consume = (consumeOptions: ConsumeOptions) =>
      Effect.gen(function* () {
        const active = yield* FiberSet.make()
        // Each job runs in `active`, so shutdown can let it finish while no new job is taken. Taking an id and
        // handing it to `active` is one uninterruptible step: a shutdown in between would strand the job. (The job
        // itself must stay interruptible, or a shutdown past its timeout could not stop it.)
        const worker = Effect.forever(
          Effect.uninterruptibleMask((restore) =>
            Effect.flatMap(restore(Queue.take(ready)), (id) =>
              FiberSet.run(active, Effect.interruptible(runJob(id, consumeOptions)))
            )
          ).pipe(Effect.flatMap((fiber) => fiber.await))
        )
        const workers = yield* FiberSet.make()
        for (let i = 0; i < consumeOptions.concurrency; i++) yield* FiberSet.run(workers, worker)
        yield* Effect.addFinalizer(() =>
          Effect.gen(function* () {
            yield* FiberSet.clear(workers)
            // finalizers run uninterruptibly: the wait must be made interruptible, or the timeout could never stop it
            yield* FiberSet.awaitEmpty(active).pipe(
              Effect.interruptible,
              Effect.timeout(options.shutdownTimeoutMs),
              Effect.ignore
            )
            yield* FiberSet.clear(active)
          })
        )
      })

    const finishedJobs = (leadIds: ReadonlyArray<string>) =>
      Effect.sync(() => {
        const finished = (id: string) => entries.get(id)?.state === "failed" || entries.get(id)?.state === "completed"
        return new Set(leadIds.filter(finished))
      })

    return JobQueue.of({ enqueue, stats, deadLetters, replay, finishedJobs, consume })
  })

/** An in-memory queue for the embedded preset and tests. */
export const layer = (options: MemoryQueueOptions) => Layer.scoped(JobQueue, make(options))
