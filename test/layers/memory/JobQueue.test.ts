import { describe, expect, it } from "@effect/vitest"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Queue from "effect/Queue"
import * as Ref from "effect/Ref"
import * as Scope from "effect/Scope"
import * as TestClock from "effect/TestClock"
import * as MemoryQueue from "../../../layers/memory/JobQueue.js"
import { type JobFate, type JobInfo, JobDelay, JobRetry, type QueueStats } from "../../../services/JobQueue.js"
import { jobQueueSuite } from "../jobQueueSuite.js"

jobQueueSuite("memory", (options) =>
  MemoryQueue.layer({
    attempts: options.attempts ?? 5,
    backoffMs: options.backoffMs ?? 50,
    shutdownTimeoutMs: options.shutdownTimeoutMs ?? 10_000
  })
)

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

describe("memory JobQueue on a fake clock (exact timings)", () => {
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

describe("memory JobQueue: completed jobs", () => {
  it.scoped("keeps the latest KEPT_COMPLETED_JOBS: an enqueue of one of them is a no-op, of an older one runs it", () =>
    Effect.gen(function* () {
      const { queue, consume, runCount } = yield* setup(() => Effect.void)
      yield* consume
      const total = MemoryQueue.KEPT_COMPLETED_JOBS + 5
      for (let i = 0; i < total; i++) yield* queue.enqueue({ leadId: `lead-${i}` })
      const drained = Effect.gen(function* () {
        for (let n = 0; n < 100_000; n++) {
          const now = yield* queue.stats
          if (now.waiting === 0 && now.active === 0) return now
          yield* Effect.yieldNow()
        }
        return yield* Effect.dieMessage(`queue never drained: ${JSON.stringify(yield* queue.stats)}`)
      })
      const stats = yield* drained
      expect(yield* runCount).toBe(total)
      // the five oldest were let go, as BullMQ's removeOnComplete does
      expect(stats.completed).toBe(MemoryQueue.KEPT_COMPLETED_JOBS)
      const asked = ["lead-0", "lead-4", "lead-5", `lead-${total - 1}`]
      const finished = yield* queue.finishedJobs?.(asked) ?? Effect.succeed(new Set<string>())
      expect([...finished].sort()).toEqual([`lead-${total - 1}`, "lead-5"])
      // a kept one is the same job: not run again; a dropped one is a new job
      yield* queue.enqueue({ leadId: `lead-${total - 1}` })
      yield* queue.enqueue({ leadId: "lead-0" })
      yield* quiesce
      yield* drained
      expect(yield* runCount).toBe(total + 1)
    })
  )
})
