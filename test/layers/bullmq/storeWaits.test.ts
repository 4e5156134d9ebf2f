import { randomUUID } from "node:crypto"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as BullJobQueue from "../../../layers/bullmq/JobQueue.js"
import { fateOf } from "../../../src/pipeline/fate.js"
import { JobDelay, type JobFate, type JobInfo, JobQueue } from "../../../services/JobQueue.js"
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

/**
 * One lead's job consumed until it is dead-lettered, each run failing with `fateOfRun(run number)`: the attempts
 * spent before each run, and the dead letter.
 */
const runUntilDeadLettered = (fateOfRun: (run: number) => JobFate) =>
  Effect.gen(function* () {
    const queue = yield* JobQueue
    const runs: Array<number> = []
    const deadLettered: Array<JobInfo> = []
    yield* queue.consume({
      concurrency: 1,
      process: (job) =>
        Effect.suspend(() => {
          runs.push(job.attemptsMade)
          return Effect.fail(fateOfRun(runs.length))
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
    return { leadId, runs, deadLettered, deadLetters: yield* queue.deadLetters(10) }
  })

// the store's wait as the pipeline decides it, shortened for the test
const storeDown = fateOf(new StoreUnavailable({ message: "read-only", sqlState: "25006" }))
const storeWait = storeDown._tag === "JobDelay" ? new JobDelay({ delayMs: 20, reason: storeDown.reason }) : storeDown

describe("JobQueue (bullmq): waits for the lead store", () => {
  it.live(
    "spend no attempt, up to maxStoreWaits; past it the job retries and dead-letters, so a store broken for good ends somewhere",
    () =>
      Effect.gen(function* () {
        const { leadId, runs, deadLettered, deadLetters } = yield* runUntilDeadLettered(() => storeWait)
        // three waits spent nothing (attempt 0 each time), then two attempts were spent and the job dead-lettered
        expect(runs).toEqual([0, 0, 0, 0, 1])
        expect(deadLettered.map((job) => [job.leadId, job.attemptsMade])).toEqual([[leadId, 2]])
        expect(deadLetters.map((dead) => dead.reason)).toEqual(["StoreUnavailable: read-only"])
      }).pipe(Effect.scoped, Effect.provide(storeWaitsQueue())),
    30_000
  )

  it.live(
    "are counted on their own: delays of other kinds before them (a CRM outage's) spend none of the bound",
    () =>
      Effect.gen(function* () {
        // five waits for an open circuit breaker first, then the store is down
        const { runs } = yield* runUntilDeadLettered((run) =>
          run <= 5 ? new JobDelay({ delayMs: 20, reason: "circuit open for hubspot" }) : storeWait
        )
        // five breaker waits and three store waits spent nothing, then the two attempts
        expect(runs).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 1])
      }).pipe(Effect.scoped, Effect.provide(storeWaitsQueue())),
    30_000
  )
})
