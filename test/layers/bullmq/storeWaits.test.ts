import { randomUUID } from "node:crypto"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as BullJobQueue from "../../../layers/bullmq/JobQueue.js"
import { fateOf } from "../../../src/pipeline/fate.js"
import { JobDelay, type JobInfo, JobQueue } from "../../../services/JobQueue.js"
import { StoreUnavailable } from "../../../services/LeadStore.js"
import { redisTestLayer, testPrefix } from "../../support/redis.js"

/** A BullMQ queue of its own: two attempts, three store waits. */
const storeWaitsQueue = () =>
  BullJobQueue.layer({
    queueName: `store-waits-${randomUUID().slice(0, 8)}`,
    attempts: 2,
    backoffMs: 10,
    maxStoreWaits: 3,
    shutdownTimeoutMs: 1000
  }).pipe(Layer.provide(redisTestLayer(testPrefix())))

describe("JobQueue (bullmq): waits for the lead store", () => {
  it.live(
    "spend no attempt, up to maxStoreWaits; past it the job retries and dead-letters, so a store broken for good ends somewhere",
    () =>
      Effect.gen(function* () {
        const queue = yield* JobQueue
        const runs: Array<number> = []
        const deadLettered: Array<JobInfo> = []
        const storeDown = fateOf(new StoreUnavailable({ message: "read-only", sqlState: "25006" }))
        yield* queue.consume({
          concurrency: 1,
          process: (job) =>
            Effect.suspend(() => {
              runs.push(job.attemptsMade)
              // the store's wait as the pipeline decides it, shortened for the test
              return Effect.fail(
                storeDown._tag === "JobDelay" ? new JobDelay({ delayMs: 20, reason: storeDown.reason }) : storeDown
              )
            }),
          onDeadLetter: (job) => Effect.sync(() => void deadLettered.push(job))
        })
        const leadId = randomUUID()
        yield* queue.enqueue({ leadId })
        const started = Date.now()
        while (deadLettered.length === 0) {
          if (Date.now() - started > 15_000) throw new Error(`never dead-lettered; runs: ${runs.join(",")}`)
          yield* Effect.sleep(20)
        }
        // three waits spent nothing (attempt 0 each time), then two attempts were spent and the job dead-lettered
        expect(runs).toEqual([0, 0, 0, 0, 1])
        expect(deadLettered.map((job) => [job.leadId, job.attemptsMade])).toEqual([[leadId, 2]])
        expect((yield* queue.deadLetters(10)).map((dead) => dead.reason)).toEqual(["StoreUnavailable: read-only"])
      }).pipe(Effect.scoped, Effect.provide(storeWaitsQueue())),
    30_000
  )

  it.live(
    "are counted on their own: delays of other kinds before them (a CRM outage's) spend none of the bound",
    () =>
      Effect.gen(function* () {
        const queue = yield* JobQueue
        const runs: Array<number> = []
        const deadLettered: Array<JobInfo> = []
        const storeDown = fateOf(new StoreUnavailable({ message: "read-only", sqlState: "25006" }))
        yield* queue.consume({
          concurrency: 1,
          process: (job) =>
            Effect.suspend(() => {
              runs.push(job.attemptsMade)
              // five waits for an open circuit breaker first, then the store is down
              if (runs.length <= 5)
                return Effect.fail(new JobDelay({ delayMs: 20, reason: "circuit open for hubspot" }))
              return Effect.fail(
                storeDown._tag === "JobDelay" ? new JobDelay({ delayMs: 20, reason: storeDown.reason }) : storeDown
              )
            }),
          onDeadLetter: (job) => Effect.sync(() => void deadLettered.push(job))
        })
        yield* queue.enqueue({ leadId: randomUUID() })
        const started = Date.now()
        while (deadLettered.length === 0) {
          if (Date.now() - started > 15_000) throw new Error(`never dead-lettered; runs: ${runs.join(",")}`)
          yield* Effect.sleep(20)
        }
        // five breaker waits and three store waits spent nothing, then the two attempts
        expect(runs).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 1])
      }).pipe(Effect.scoped, Effect.provide(storeWaitsQueue())),
    30_000
  )
})
