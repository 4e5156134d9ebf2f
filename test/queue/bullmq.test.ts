import { randomUUID } from "node:crypto"
import { assert, describe, it, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import * as BullJobQueue from "../../layers/bullmq/JobQueue.js"
import type { BullMqOptions } from "../../layers/bullmq/JobQueueOptions.js"
import * as RedisClientLayer from "../../layers/redis/RedisClient.js"
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
import { redisTestLayer, testPrefix, unreachableRedisUrl } from "../limits/redisFixture.js"

const leadId = () => randomUUID()
const sleep = (ms: number) => Effect.sleep(ms)

/** Poll `check` until it holds (BullMQ works on its own timers), failing the test after `timeoutMs`. */
const waitFor = (what: string, check: () => boolean, timeoutMs = 10_000) =>
  Effect.gen(function* () {
    const started = Date.now()
    while (!check()) {
      if (Date.now() - started > timeoutMs) return yield* Effect.die(new Error(`timed out waiting for ${what}`))
      yield* sleep(20)
    }
  })

/** Poll the queue's stats until `until` holds; returns them. */
const statsUntil = (queue: JobQueue.Service, until: (stats: QueueStats) => boolean) =>
  Effect.gen(function* () {
    const started = Date.now()
    for (;;) {
      const stats = yield* queue.stats
      if (until(stats)) return stats
      if (Date.now() - started > 10_000)
        return yield* Effect.die(new Error(`stats never matched: ${JSON.stringify(stats)}`))
      yield* sleep(20)
    }
  })

/** What a processor saw: every run with its time, and every dead-letter call. */
const recorder = () => {
  const runs: Array<JobInfo & { readonly at: number }> = []
  const deadLetters: Array<{ readonly leadId: string; readonly reason: string; readonly attemptsMade: number }> = []
  const consumeWith = (
    decide: (job: JobInfo, run: number) => Effect.Effect<void, JobFate>,
    concurrency = 2
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

/** A queue of its own (random name) for one test; its keys go with the prefix at the end of the run. */
const withQueue = <A, E>(options: BullMqOptions, f: (queue: JobQueue.Service) => Effect.Effect<A, E, Scope.Scope>) =>
  Effect.scoped(Effect.flatMap(JobQueue, f)).pipe(
    Effect.provide(
      BullJobQueue.layer({ queueName: `lead-processing-${randomUUID().slice(0, 8)}`, backoffMs: 50, ...options })
    )
  )

// Live clock: BullMQ runs on real timers, and the worker's shutdown timeout must really elapse.
layer(redisTestLayer(testPrefix()), { excludeTestServices: true })("JobQueue (bullmq)", (it) => {
  it.effect("enqueueing a lead twice makes one job, processed once", () =>
    withQueue({}, (queue) =>
      Effect.gen(function* () {
        const id = leadId()
        yield* queue.enqueue({ leadId: id })
        yield* queue.enqueue({ leadId: id })
        assert.strictEqual((yield* queue.stats).waiting, 1)
        const { runs, consumeWith } = recorder()
        yield* queue.consume(consumeWith(() => Effect.void))
        yield* waitFor("completion", () => runs.length === 1)
        yield* sleep(200)
        assert.strictEqual(runs.length, 1)
      })
    )
  )

  it.effect("a successful run completes the job and hands the processor the payload", () =>
    withQueue({ attempts: 4 }, (queue) =>
      Effect.gen(function* () {
        const id = leadId()
        const traceContext = { traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" }
        const { runs, consumeWith } = recorder()
        yield* queue.consume(consumeWith(() => Effect.void))
        yield* queue.enqueue({ leadId: id, traceContext })
        yield* waitFor("completion", () => runs.length === 1)
        assert.deepInclude(runs[0], { leadId: id, traceContext, attemptsMade: 0, maxAttempts: 4 })
        yield* statsUntil(queue, (s) => s.completed === 1)
        const stats = yield* queue.stats
        assert.deepStrictEqual([stats.completed, stats.failed, stats.waiting], [1, 0, 0])
      })
    )
  )

  it.effect("JobDelay runs the job again after the delay without spending an attempt", () =>
    withQueue({ attempts: 2 }, (queue) =>
      Effect.gen(function* () {
        const id = leadId()
        const { runs, deadLetters, consumeWith } = recorder()
        // Three delays with only 2 attempts: if a delay spent an attempt the job would be dead-lettered.
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
        yield* statsUntil(queue, (s) => s.completed === 1)
        assert.strictEqual((yield* queue.stats).failed, 0)
        assert.lengthOf(deadLetters, 0)
      })
    )
  )

  it.effect("JobRetry backs off, dead-letters after the last attempt, and replay runs it again once", () =>
    withQueue({ attempts: 3, backoffMs: 100, backoffJitter: 0.5 }, (queue) =>
      Effect.gen(function* () {
        const id = leadId()
        let healthy = false
        const { runs, deadLetters, consumeWith } = recorder()
        yield* queue.consume(
          consumeWith(() => (healthy ? Effect.void : Effect.fail(new JobRetry({ reason: "CRM 503" }))))
        )
        yield* queue.enqueue({ leadId: id })
        yield* waitFor("dead letter", () => deadLetters.length === 1)
        yield* sleep(300)
        assert.deepStrictEqual(
          runs.map((r) => r.attemptsMade),
          [0, 1, 2]
        )
        // exponential backoff with 50% jitter: >= 50 ms, then >= 100 ms
        assert.isAtLeast(runs[1]!.at - runs[0]!.at, 45)
        assert.isAtLeast(runs[2]!.at - runs[1]!.at, 95)
        assert.deepStrictEqual(deadLetters, [{ leadId: id, reason: "CRM 503", attemptsMade: 2 }])

        yield* statsUntil(queue, (s) => s.failed === 1)
        const [letter] = yield* queue.deadLetters(10)
        assert.deepInclude(letter, { leadId: id, reason: "CRM 503", attemptsMade: 3 })

        healthy = true
        assert.isTrue(yield* queue.replay(id))
        assert.isFalse(yield* queue.replay(id), "a second replay of a job no longer failed is a no-op")
        yield* waitFor("replayed run", () => runs.length === 4)
        assert.strictEqual(runs[3]!.attemptsMade, 0, "replay starts with fresh attempts")
        yield* statsUntil(queue, (s) => s.completed === 1)
        yield* sleep(200)
        assert.lengthOf(runs, 4)
        assert.lengthOf(yield* queue.deadLetters(10), 0)
        assert.isFalse(yield* queue.replay(id), "a completed job is not replayed")
        assert.isFalse(yield* queue.replay(leadId()), "an unknown lead is not replayed")
      })
    )
  )

  it.effect("JobPermanent dead-letters at once, without retries", () =>
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
        assert.lengthOf(deadLetters, 1)
        const letters = yield* queue.deadLetters(10)
        assert.deepStrictEqual(
          letters.map((l) => [l.leadId, l.reason]),
          [[id, "CRM 400: bad field"]]
        )
      })
    )
  )

  it.effect("stats count jobs by state and age the oldest waiting job", () =>
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
        yield* queue.enqueue({ leadId: leadId() })
        yield* sleep(300)
        yield* queue.enqueue({ leadId: leadId() })
        yield* queue.enqueue({ leadId: leadId() })
        yield* sleep(100)
        const stats = yield* queue.stats
        assert.strictEqual(stats.waiting, 3)
        // the oldest job, not the newest, sets the age
        assert.isAtLeast(stats.oldestWaitingAgeMs, 390)
        assert.isBelow(stats.oldestWaitingAgeMs, 5000)
        const { runs, consumeWith } = recorder()
        yield* queue.consume(consumeWith(() => Effect.void))
        yield* waitFor("three runs", () => runs.length === 3)
        const after = yield* statsUntil(queue, (s) => s.completed === 3)
        assert.deepStrictEqual([after.waiting, after.oldestWaitingAgeMs], [0, 0])
      })
    )
  )

  it.effect("closing waits for a job that finishes within the shutdown timeout", () =>
    withQueue({ shutdownTimeoutMs: 5000 }, (queue) =>
      Effect.gen(function* () {
        const { runs, consumeWith } = recorder()
        const scope = yield* Scope.make()
        yield* queue.consume(consumeWith(() => sleep(300))).pipe(Scope.extend(scope))
        yield* queue.enqueue({ leadId: leadId() })
        yield* waitFor("start", () => runs.length === 1)
        yield* Scope.close(scope, Exit.void)
        assert.strictEqual((yield* queue.stats).completed, 1)
      })
    )
  )

  it.effect("closing interrupts a job past the shutdown timeout and puts it back without spending an attempt", () =>
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
        assert.isBelow(elapsed, 2000)
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

describe("JobQueue (bullmq, Redis unreachable)", () => {
  it.live("enqueue and stats fail fast with QueueUnavailable, never naming the password", () =>
    Effect.gen(function* () {
      const queue = yield* JobQueue
      const started = Date.now()
      const error = yield* Effect.flip(queue.enqueue({ leadId: leadId() }))
      assert.strictEqual(error._tag, "QueueUnavailable")
      assert.isBelow(Date.now() - started, 2000)
      assert.notInclude(error.message, "s3cret")
      assert.strictEqual((yield* Effect.flip(queue.stats))._tag, "QueueUnavailable")
    }).pipe(
      Effect.provide(
        BullJobQueue.layer({ queueName: "lead-processing" }).pipe(
          Layer.provide(RedisClientLayer.layer({ url: unreachableRedisUrl, prefix: testPrefix() }))
        )
      )
    )
  )
})
