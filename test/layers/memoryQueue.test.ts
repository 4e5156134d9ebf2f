import { describe, expect, it } from "@effect/vitest"
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Queue from "effect/Queue"
import * as Ref from "effect/Ref"
import * as Scope from "effect/Scope"
import * as TestClock from "effect/TestClock"
import * as MemoryQueue from "../../layers/memory/JobQueue.js"
import {
  type JobFate,
  type JobInfo,
  JobDelay,
  JobPermanent,
  JobRetry,
  type QueueStats
} from "../../services/JobQueue.js"

const options: MemoryQueue.MemoryQueueOptions = { attempts: 3, backoffMs: 1_000, shutdownTimeoutMs: 2_000 }

/** Let the queue's fibers run until `predicate` holds on its stats (no time passes). */
const settle = (
  queue: Effect.Effect.Success<ReturnType<typeof MemoryQueue.make>>,
  predicate: (s: QueueStats) => boolean
) =>
  Effect.gen(function* () {
    for (let i = 0; i < 1_000; i++) {
      const stats = yield* queue.stats
      if (predicate(stats)) return stats
      yield* Effect.yieldNow()
    }
    return yield* Effect.dieMessage(`queue never settled: ${JSON.stringify(yield* queue.stats)}`)
  })

/** Yield enough for any runnable fiber to have run. */
const quiesce = Effect.forEach(Array.from({ length: 50 }), () => Effect.yieldNow(), { discard: true })

/**
 * A memory queue consumed in the current scope by a processor that reports every run on `runs` and then does what
 * `decide` says; dead letters are recorded.
 */
const setup = (decide: (job: JobInfo, run: number) => Effect.Effect<void, JobFate>, concurrency = 1) =>
  Effect.gen(function* () {
    const queue = yield* MemoryQueue.make(options)
    const runs = yield* Queue.unbounded<JobInfo & { readonly at: number }>()
    const counter = yield* Ref.make(0)
    const deadLetters = yield* Ref.make<ReadonlyArray<readonly [JobInfo, string]>>([])
    const consume = queue.consume({
      concurrency,
      process: (job) =>
        Ref.updateAndGet(counter, (n) => n + 1).pipe(
          Effect.tap(() => Effect.flatMap(Clock.currentTimeMillis, (at) => Queue.offer(runs, { ...job, at }))),
          Effect.flatMap((run) => decide(job, run))
        ),
      onDeadLetter: (job, reason) => Ref.update(deadLetters, (all) => [...all, [job, reason] as const])
    })
    return { queue, runs, consume, deadLetters: Ref.get(deadLetters), runCount: Ref.get(counter) }
  })

describe("memory JobQueue", () => {
  it.scoped("enqueueing the same lead twice makes one job", () =>
    Effect.gen(function* () {
      const { queue, consume, runCount } = yield* setup(() => Effect.void)
      yield* queue.enqueue({ leadId: "lead-1" })
      yield* queue.enqueue({ leadId: "lead-1", traceContext: { traceparent: "00-abc-def-01" } })
      expect((yield* queue.stats).waiting).toBe(1)
      yield* consume
      yield* settle(queue, (s) => s.completed === 1)
      // enqueueing a lead whose job exists (even completed) stays a no-op, as with BullMQ job ids
      yield* queue.enqueue({ leadId: "lead-1" })
      yield* quiesce
      expect(yield* runCount).toBe(1)
      expect(yield* queue.stats).toMatchObject({ waiting: 0, active: 0, completed: 1 })
    })
  )

  it.scoped("JobDelay reruns after the delay without spending an attempt", () =>
    Effect.gen(function* () {
      const { queue, runs, consume, deadLetters } = yield* setup((_, run) =>
        run <= 5 ? Effect.fail(new JobDelay({ delayMs: 5_000, reason: "rate limited" })) : Effect.void
      )
      yield* queue.enqueue({ leadId: "lead-1" })
      yield* consume
      for (let run = 1; run <= 5; run++) {
        const info = yield* Queue.take(runs)
        expect(info).toMatchObject({ leadId: "lead-1", attemptsMade: 0, maxAttempts: 3 })
        yield* settle(queue, (s) => s.delayed === 1)
        yield* quiesce
        yield* TestClock.adjust(4_999)
        yield* quiesce
        expect(yield* Queue.size(runs)).toBe(0)
        yield* TestClock.adjust(1)
      }
      expect((yield* Queue.take(runs)).attemptsMade).toBe(0)
      yield* settle(queue, (s) => s.completed === 1)
      expect(yield* deadLetters).toEqual([])
    })
  )

  it.scoped("JobRetry backs off exponentially, then dead-letters after the attempts, calling onDeadLetter once", () =>
    Effect.gen(function* () {
      const { queue, runs, consume, deadLetters } = yield* setup(() => Effect.fail(new JobRetry({ reason: "CRM 503" })))
      yield* queue.enqueue({ leadId: "lead-1" })
      yield* consume
      const runAt = [(yield* Queue.take(runs)).at]
      // retry n waits between half and all of backoffMs * 2^(n-1), counted from the failed run
      for (const [attempt, ceiling] of [
        [1, 1_000],
        [2, 2_000]
      ] as const) {
        yield* settle(queue, (s) => s.delayed === 1)
        yield* quiesce
        // TestClock wakes each sleeper at its own time, so a run's clock reading is when its delay ended
        yield* TestClock.adjust(ceiling)
        const info = yield* Queue.take(runs)
        runAt.push(info.at)
        expect(info.attemptsMade).toBe(attempt)
      }
      const [first = 0, second = 0, third = 0] = runAt
      expect(first).toBe(0)
      expect(second - first, `runs at ${runAt}`).toBeGreaterThanOrEqual(500)
      expect(second - first, `runs at ${runAt}`).toBeLessThanOrEqual(1_000)
      expect(third - second, `runs at ${runAt}`).toBeGreaterThanOrEqual(1_000)
      expect(third - second, `runs at ${runAt}`).toBeLessThanOrEqual(2_000)
      const stats = yield* settle(queue, (s) => s.failed === 1)
      expect(stats).toMatchObject({ waiting: 0, active: 0, delayed: 0, failed: 1 })
      yield* TestClock.adjust("1 hour")
      yield* quiesce
      expect(yield* Queue.size(runs)).toBe(0)
      const letters = yield* deadLetters
      expect(letters.length).toBe(1)
      expect(letters[0]?.[0]).toMatchObject({ leadId: "lead-1", attemptsMade: 3, maxAttempts: 3 })
      expect(letters[0]?.[1]).toBe("CRM 503")
      const listed = yield* queue.deadLetters(10)
      expect(listed).toEqual([{ leadId: "lead-1", reason: "CRM 503", attemptsMade: 3, failedAt: expect.any(Date) }])
      expect(listed[0]?.failedAt.getTime()).toBeGreaterThanOrEqual(1_500)
    })
  )

  it.scoped("JobPermanent dead-letters at once; replay runs it again with fresh attempts", () =>
    Effect.gen(function* () {
      const { queue, runs, consume, deadLetters } = yield* setup((_, run) =>
        run === 1 ? Effect.fail(new JobPermanent({ reason: "guard blocked" })) : Effect.void
      )
      yield* queue.enqueue({ leadId: "lead-1" })
      yield* consume
      yield* Queue.take(runs)
      yield* settle(queue, (s) => s.failed === 1)
      yield* TestClock.adjust("1 hour")
      yield* quiesce
      expect(yield* Queue.size(runs)).toBe(0)
      expect((yield* deadLetters).map(([job, reason]) => [job.attemptsMade, reason])).toEqual([[1, "guard blocked"]])

      expect(yield* queue.replay("unknown")).toBe(false)
      expect(yield* queue.replay("lead-1")).toBe(true)
      expect((yield* Queue.take(runs)).attemptsMade).toBe(0)
      yield* settle(queue, (s) => s.completed === 1 && s.failed === 0)
      expect(yield* queue.deadLetters(10)).toEqual([])
      // replaying what is no longer a dead letter is a no-op
      expect(yield* queue.replay("lead-1")).toBe(false)
      expect((yield* deadLetters).length).toBe(1)
    })
  )

  it.scoped("stats report waiting, active, delayed, failed and the oldest waiting job's age", () =>
    Effect.gen(function* () {
      const release = yield* Deferred.make<void>()
      const { queue, consume } = yield* setup((job) => {
        switch (job.leadId) {
          case "slow":
            return Deferred.await(release)
          case "delayed":
            return Effect.fail(new JobDelay({ delayMs: 60_000, reason: "breaker open" }))
          case "broken":
            return Effect.fail(new JobPermanent({ reason: "400 from CRM" }))
          default:
            return Effect.void
        }
      })
      expect(yield* queue.stats).toEqual({
        waiting: 0,
        active: 0,
        delayed: 0,
        completed: 0,
        failed: 0,
        oldestWaitingAgeMs: 0
      })
      for (const leadId of ["delayed", "broken", "slow"]) yield* queue.enqueue({ leadId })
      yield* TestClock.adjust(5_000)
      yield* queue.enqueue({ leadId: "later" })
      yield* TestClock.adjust(2_000)
      expect(yield* queue.stats).toMatchObject({ waiting: 4, oldestWaitingAgeMs: 7_000 })
      yield* consume
      // one worker: "delayed" and "broken" are decided, "slow" holds the worker, "later" waits behind it
      const stats = yield* settle(queue, (s) => s.active === 1)
      expect(stats).toEqual({ waiting: 1, active: 1, delayed: 1, completed: 0, failed: 1, oldestWaitingAgeMs: 2_000 })
      yield* TestClock.adjust(3_000)
      expect((yield* queue.stats).oldestWaitingAgeMs).toBe(5_000)
      yield* Deferred.succeed(release, undefined)
      const done = yield* settle(queue, (s) => s.completed === 2)
      expect(done).toMatchObject({ waiting: 0, active: 0, delayed: 1, failed: 1, oldestWaitingAgeMs: 0 })
    })
  )

  it.scoped("closing the consumer drains an active job within the shutdown timeout and takes no new one", () =>
    Effect.gen(function* () {
      const { queue, runs, consume, runCount } = yield* setup(() => Effect.sleep("1 second"))
      const scope = yield* Scope.make()
      yield* queue.enqueue({ leadId: "lead-1" })
      yield* Scope.extend(consume, scope)
      yield* Queue.take(runs)
      const closing = yield* Effect.fork(Scope.close(scope, Exit.void))
      yield* quiesce
      yield* queue.enqueue({ leadId: "lead-2" })
      yield* TestClock.adjust("1 second")
      yield* Fiber.join(closing)
      yield* quiesce
      expect(yield* runCount).toBe(1)
      expect(yield* queue.stats).toMatchObject({ completed: 1, active: 0, waiting: 1 })
    })
  )

  it.scoped("a job longer than the shutdown timeout is interrupted and goes back to waiting, attempts untouched", () =>
    Effect.gen(function* () {
      const interrupted = yield* Ref.make(false)
      const { queue, runs, consume } = yield* setup((_, run) =>
        run === 1 ? Effect.never.pipe(Effect.onInterrupt(() => Ref.set(interrupted, true))) : Effect.void
      )
      const scope = yield* Scope.make()
      yield* queue.enqueue({ leadId: "lead-1" })
      yield* Scope.extend(consume, scope)
      yield* Queue.take(runs)
      // a daemon, so that a close that never ends fails this test instead of hanging it
      const closing = yield* Effect.forkDaemon(Scope.close(scope, Exit.void))
      yield* quiesce
      yield* TestClock.adjust(1_999)
      yield* quiesce
      expect(yield* Ref.get(interrupted)).toBe(false)
      expect(closing.unsafePoll()).toBeNull()
      yield* TestClock.adjust(1)
      yield* quiesce
      expect(closing.unsafePoll(), "shutdown did not end at its timeout").not.toBeNull()
      yield* Fiber.join(closing)
      expect(yield* Ref.get(interrupted)).toBe(true)
      expect(yield* queue.stats).toMatchObject({ waiting: 1, active: 0, failed: 0, delayed: 0 })

      // the next consumer runs it as if for the first time
      yield* consume
      expect((yield* Queue.take(runs)).attemptsMade).toBe(0)
      yield* settle(queue, (s) => s.completed === 1)
    })
  )

  it.effect("closing the queue does not wait for the timers of delayed jobs", () =>
    Effect.gen(function* () {
      const scope = yield* Scope.make()
      const { queue, runs, consume } = yield* Scope.extend(
        setup(() => Effect.fail(new JobDelay({ delayMs: 300_000, reason: "breaker open" }))),
        scope
      )
      yield* queue.enqueue({ leadId: "lead-1" })
      yield* Scope.extend(consume, scope)
      yield* Queue.take(runs)
      yield* settle(queue, (s) => s.delayed === 1)
      const closing = yield* Effect.forkDaemon(Scope.close(scope, Exit.void))
      yield* quiesce
      expect(closing.unsafePoll(), "closing waited for a 5-minute delay timer").not.toBeNull()
    })
  )
})
