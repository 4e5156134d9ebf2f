import { randomUUID } from "node:crypto"
import { assert, describe, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import {
  type ConsumeOptions,
  JobDelay,
  type JobFate,
  type JobInfo,
  JobPermanent,
  JobQueue,
  JobRetry,
  type QueueStats
} from "../../services/JobQueue.js"

/** What every JobQueue backend takes; the suite sets them per test. */
export interface SuiteQueueOptions {
  readonly attempts?: number
  /** First retry waits between half and all of this; each next one twice as long. */
  readonly backoffMs?: number
  readonly shutdownTimeoutMs?: number
}

/** A fresh, empty queue of its own (its own name or keys) for one test. */
export type MakeQueue = (options: SuiteQueueOptions) => Layer.Layer<JobQueue, unknown>

const leadId = () => randomUUID()
const sleep = (ms: number) => Effect.sleep(ms)

/** Poll `check` until it holds (a backend may work on its own timers), failing the test after `timeoutMs`. */
export const waitFor = (what: string, check: () => boolean, timeoutMs = 10_000) =>
  Effect.gen(function* () {
    const started = Date.now()
    while (!check()) {
      if (Date.now() - started > timeoutMs) return yield* Effect.die(new Error(`timed out waiting for ${what}`))
      yield* sleep(10)
    }
  })

/** Poll the queue's stats until `until` holds; returns them. */
const statsUntil = (queue: JobQueue.Service, until: (stats: QueueStats) => boolean) =>
  Effect.gen(function* () {
    const started = Date.now()
    for (;;) {
      const stats = yield* queue.stats
      if (until(stats)) return stats
      if (Date.now() - started > 10_000) {
        return yield* Effect.die(new Error(`stats never matched: ${JSON.stringify(stats)}`))
      }
      yield* sleep(10)
    }
  })

/** What a processor saw: every run with its time, and every dead-letter call. */
export const recorder = () => {
  const runs: Array<JobInfo & { readonly at: number }> = []
  const deadLetters: Array<{ readonly leadId: string; readonly reason: string; readonly attemptsMade: number }> = []
  const consumeWith = (
    decide: (job: JobInfo, run: number) => Effect.Effect<void, JobFate>,
    concurrency = 1
  ): ConsumeOptions => ({
    concurrency,
    process: (job) =>
      Effect.suspend(() => {
        runs.push({ ...job, at: Date.now() })
        return decide(job, runs.filter((r) => r.leadId === job.leadId).length)
      }),
    onDeadLetter: (job, reason) =>
      Effect.sync(() => deadLetters.push({ leadId: job.leadId, reason, attemptsMade: job.attemptsMade }))
  })
  return { runs, deadLetters, consumeWith }
}

/**
 * The JobQueue contract, run on live timers against each backend (the memory queue and BullMQ): what the pipeline
 * relies on, whichever queue carries its jobs. Backend-specific behaviour (fake-clock precision, Redis outages)
 * stays in each backend's own file.
 */
export const jobQueueSuite = (name: string, make: MakeQueue) =>
  describe(`JobQueue contract (${name})`, () => {
    const withQueue = <A, E>(
      options: SuiteQueueOptions,
      f: (queue: JobQueue.Service) => Effect.Effect<A, E, Scope.Scope>
    ) => Effect.scoped(Effect.flatMap(JobQueue, f)).pipe(Effect.provide(make({ backoffMs: 50, ...options })))

    it.live("enqueueing a lead twice makes one job, processed once, even after it completed", () =>
      withQueue({}, (queue) =>
        Effect.gen(function* () {
          const id = leadId()
          yield* queue.enqueue({ leadId: id })
          yield* queue.enqueue({ leadId: id, traceContext: { traceparent: "00-abc-def-01" } })
          assert.strictEqual((yield* queue.stats).waiting, 1)
          const { runs, consumeWith } = recorder()
          yield* queue.consume(consumeWith(() => Effect.void))
          yield* statsUntil(queue, (s) => s.completed === 1)
          yield* queue.enqueue({ leadId: id })
          yield* sleep(200)
          assert.strictEqual(runs.length, 1)
          assert.deepInclude(yield* queue.stats, { waiting: 0, active: 0, completed: 1 })
        })
      )
    )

    it.live("a successful run completes the job and hands the processor the payload", () =>
      withQueue({ attempts: 4 }, (queue) =>
        Effect.gen(function* () {
          const id = leadId()
          const traceContext = { traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" }
          const { runs, consumeWith } = recorder()
          yield* queue.consume(consumeWith(() => Effect.void))
          yield* queue.enqueue({ leadId: id, traceContext })
          yield* waitFor("completion", () => runs.length === 1)
          assert.deepInclude(runs[0], { leadId: id, traceContext, attemptsMade: 0, maxAttempts: 4 })
          const stats = yield* statsUntil(queue, (s) => s.completed === 1)
          assert.deepStrictEqual([stats.completed, stats.failed, stats.waiting], [1, 0, 0])
        })
      )
    )

    it.live("JobDelay runs the job again after the delay without spending an attempt", () =>
      withQueue({ attempts: 2 }, (queue) =>
        Effect.gen(function* () {
          const id = leadId()
          const { runs, deadLetters, consumeWith } = recorder()
          // three delays with only 2 attempts: if a delay spent an attempt the job would be dead-lettered
          yield* queue.consume(
            consumeWith((_, run) =>
              run <= 3 ? Effect.fail(new JobDelay({ delayMs: 150, reason: "rate" })) : Effect.void
            )
          )
          yield* queue.enqueue({ leadId: id })
          yield* waitFor("four runs", () => runs.length === 4)
          assert.deepStrictEqual(
            runs.map((r) => r.attemptsMade),
            [0, 0, 0, 0]
          )
          for (let i = 1; i < 4; i++) assert.isAtLeast(runs[i]!.at - runs[i - 1]!.at, 140)
          const stats = yield* statsUntil(queue, (s) => s.completed === 1)
          assert.strictEqual(stats.failed, 0)
          assert.lengthOf(deadLetters, 0)
        })
      )
    )

    it.live(
      "JobRetry backs off, dead-letters after the last attempt (onDeadLetter once), and replay runs it again once",
      () =>
        withQueue({ attempts: 3, backoffMs: 100 }, (queue) =>
          Effect.gen(function* () {
            const id = leadId()
            let healthy = false
            // the replayed run holds here until released, so a second replay meets a job still running
            const release = yield* Deferred.make<void>()
            const { runs, deadLetters, consumeWith } = recorder()
            yield* queue.consume(
              consumeWith(() => (healthy ? Deferred.await(release) : Effect.fail(new JobRetry({ reason: "CRM 503" }))))
            )
            yield* queue.enqueue({ leadId: id })
            yield* waitFor("dead letter", () => deadLetters.length === 1)
            yield* sleep(300)
            assert.deepStrictEqual(
              runs.map((r) => r.attemptsMade),
              [0, 1, 2]
            )
            // exponential backoff with jitter: at least half of 100 ms, then of 200 ms
            assert.isAtLeast(runs[1]!.at - runs[0]!.at, 45)
            assert.isAtLeast(runs[2]!.at - runs[1]!.at, 95)
            assert.deepStrictEqual(deadLetters, [{ leadId: id, reason: "CRM 503", attemptsMade: 3 }])

            const stats = yield* statsUntil(queue, (s) => s.failed === 1)
            assert.deepInclude(stats, { waiting: 0, active: 0, delayed: 0 })
            const [letter] = yield* queue.deadLetters(10)
            assert.deepInclude(letter, { leadId: id, reason: "CRM 503", attemptsMade: 3 })
            assert.instanceOf(letter?.failedAt, Date)

            healthy = true
            assert.isFalse(yield* queue.replay(leadId()), "an unknown lead is not replayed")
            assert.isTrue(yield* queue.replay(id))
            yield* waitFor("replayed run", () => runs.length === 4)
            assert.isFalse(yield* queue.replay(id), "a second replay of a job running again is a no-op")
            yield* Deferred.succeed(release, undefined)
            assert.strictEqual(runs[3]!.attemptsMade, 0, "replay starts with fresh attempts")
            yield* statsUntil(queue, (s) => s.completed === 1 && s.failed === 0)
            yield* sleep(200)
            assert.lengthOf(runs, 4)
            assert.lengthOf(deadLetters, 1)
            assert.lengthOf(yield* queue.deadLetters(10), 0)
            // a completed job is kept and blocks enqueue: replay runs it again (a job that found its lead FAILED,
            // the lead replayed since), as it does a failed one
            assert.deepStrictEqual([...(yield* queue.finishedJobs!([id, leadId()]))], [id])
            assert.isTrue(yield* queue.replay(id), "a completed job is run again")
            yield* waitFor("second replayed run", () => runs.length === 5)
            assert.strictEqual(runs[4]!.attemptsMade, 0)
          })
        )
    )

    it.live("JobPermanent dead-letters at once, without retries", () =>
      withQueue({ attempts: 5 }, (queue) =>
        Effect.gen(function* () {
          const id = leadId()
          const { runs, deadLetters, consumeWith } = recorder()
          yield* queue.consume(consumeWith(() => Effect.fail(new JobPermanent({ reason: "CRM 400: bad field" }))))
          yield* queue.enqueue({ leadId: id })
          yield* waitFor("dead letter", () => deadLetters.length === 1)
          yield* statsUntil(queue, (s) => s.failed === 1)
          yield* sleep(200)
          assert.lengthOf(runs, 1)
          assert.deepStrictEqual(deadLetters, [{ leadId: id, reason: "CRM 400: bad field", attemptsMade: 1 }])
          const letters = yield* queue.deadLetters(10)
          assert.deepStrictEqual(
            letters.map((l) => [l.leadId, l.reason]),
            [[id, "CRM 400: bad field"]]
          )
        })
      )
    )

    it.live("stats count jobs by state and age the oldest waiting job", () =>
      withQueue({}, (queue) =>
        Effect.gen(function* () {
          assert.deepStrictEqual(yield* queue.stats, {
            waiting: 0,
            active: 0,
            delayed: 0,
            completed: 0,
            failed: 0,
            oldestWaitingAgeMs: 0
          })
          const [slow, delayed, broken, later] = [leadId(), leadId(), leadId(), leadId()]
          for (const id of [delayed, broken, slow]) yield* queue.enqueue({ leadId: id })
          yield* sleep(300)
          yield* queue.enqueue({ leadId: later })
          yield* sleep(100)
          const before = yield* queue.stats
          assert.strictEqual(before.waiting, 4)
          // the oldest job, not the newest, sets the age
          assert.isAtLeast(before.oldestWaitingAgeMs, 390)
          assert.isBelow(before.oldestWaitingAgeMs, 5_000)

          let release = false
          const { runs, consumeWith } = recorder()
          yield* queue.consume(
            consumeWith((job) => {
              if (job.leadId === slow) return waitFor("release", () => release, 30_000)
              if (job.leadId === delayed) return Effect.fail(new JobDelay({ delayMs: 60_000, reason: "breaker open" }))
              if (job.leadId === broken) return Effect.fail(new JobPermanent({ reason: "400 from CRM" }))
              return Effect.void
            })
          )
          // one worker: "delayed" and "broken" are decided, "slow" holds the worker, "later" waits behind it
          const busy = yield* statsUntil(queue, (s) => s.active === 1 && s.failed === 1 && s.delayed === 1)
          assert.deepInclude(busy, { waiting: 1, completed: 0 })
          assert.isAtLeast(busy.oldestWaitingAgeMs, 90)
          release = true
          yield* waitFor("four runs", () => runs.length === 4)
          const done = yield* statsUntil(queue, (s) => s.completed === 2)
          assert.deepStrictEqual(done, {
            waiting: 0,
            active: 0,
            delayed: 1,
            completed: 2,
            failed: 1,
            oldestWaitingAgeMs: 0
          })
        })
      )
    )

    it.live("closing the consumer waits for a job that finishes within the shutdown timeout and takes no new one", () =>
      withQueue({ shutdownTimeoutMs: 5_000 }, (queue) =>
        Effect.gen(function* () {
          const { runs, consumeWith } = recorder()
          const scope = yield* Scope.make()
          yield* queue.consume(consumeWith(() => sleep(300))).pipe(Scope.extend(scope))
          yield* queue.enqueue({ leadId: leadId() })
          yield* waitFor("start", () => runs.length === 1)
          yield* Scope.close(scope, Exit.void)
          assert.strictEqual((yield* queue.stats).completed, 1)
          yield* queue.enqueue({ leadId: leadId() })
          yield* sleep(200)
          assert.lengthOf(runs, 1)
          assert.deepInclude(yield* queue.stats, { completed: 1, active: 0, waiting: 1 })
        })
      )
    )

    it.live("closing interrupts a job past the shutdown timeout and puts it back without spending an attempt", () =>
      withQueue({ shutdownTimeoutMs: 500 }, (queue) =>
        Effect.gen(function* () {
          const id = leadId()
          const { runs, consumeWith } = recorder()
          let interrupted = 0
          const scope = yield* Scope.make()
          yield* queue
            .consume(consumeWith(() => Effect.never.pipe(Effect.onInterrupt(() => Effect.sync(() => interrupted++)))))
            .pipe(Scope.extend(scope))
          yield* queue.enqueue({ leadId: id })
          yield* waitFor("start", () => runs.length === 1)
          const started = Date.now()
          yield* Scope.close(scope, Exit.void)
          const elapsed = Date.now() - started
          assert.isAtLeast(elapsed, 450)
          assert.isBelow(elapsed, 2_000)
          assert.strictEqual(interrupted, 1)
          const stats = yield* queue.stats
          assert.deepStrictEqual([stats.waiting + stats.delayed, stats.active, stats.failed], [1, 0, 0])

          const next = recorder()
          yield* queue.consume(next.consumeWith(() => Effect.void))
          yield* waitFor("rerun", () => next.runs.length === 1)
          assert.deepInclude(next.runs[0], { leadId: id, attemptsMade: 0 })
        })
      )
    )
  })
