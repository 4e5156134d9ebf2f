import { randomUUID } from "node:crypto"
import { assert, describe, it } from "@effect/vitest"
import { Queue } from "bullmq"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as BullJobQueue from "../../../layers/bullmq/JobQueue.js"
import * as RedisClientLayer from "../../../layers/shared/RedisClient.js"
import { RedisClient } from "../../../layers/shared/RedisClient.js"
import { JobQueue } from "../../../services/JobQueue.js"
import { redisTestLayer, testPrefix, unreachableRedisUrl } from "../../support/redis.js"
import { jobQueueSuite } from "../jobQueueSuite.js"

// Each test: a queue of its own (random name) under a key prefix of its own, deleted when the test ends.
jobQueueSuite("bullmq", (options) =>
  BullJobQueue.layer({
    queueName: `lead-processing-${randomUUID().slice(0, 8)}`,
    attempts: options.attempts ?? 5,
    backoffMs: options.backoffMs ?? 50,
    backoffJitter: 0.5,
    shutdownTimeoutMs: options.shutdownTimeoutMs ?? 10_000
  }).pipe(Layer.provide(redisTestLayer(testPrefix())))
)

describe("JobQueue (bullmq, a job whose data Redis lost)", () => {
  it.live("is processed as the lead its id names, not dead-lettered (the job id is the lead id)", () =>
    Effect.gen(function* () {
      const queueName = `lead-processing-${randomUUID().slice(0, 8)}`
      const redis = yield* RedisClient
      const raw = new Queue(queueName, { connection: redis.client, prefix: redis.prefix })
      const vanished = randomUUID()
      // what a worker reads back when the job's hash is gone: an id and no data
      yield* Effect.promise(() => raw.add("lead", {}, { jobId: vanished }))
      const valid = randomUUID()
      yield* Effect.promise(() => raw.add("lead", { leadId: valid }, { jobId: valid }))
      const processed: Array<string> = []
      const deadLettered: Array<string> = []
      yield* Effect.scoped(
        Effect.gen(function* () {
          const queue = yield* JobQueue
          yield* queue.consume({
            concurrency: 2,
            process: (job) => Effect.sync(() => void processed.push(job.leadId)),
            onDeadLetter: (job) => Effect.sync(() => void deadLettered.push(job.leadId))
          })
          for (let i = 0; i < 100 && processed.length < 2; i++) yield* Effect.sleep("20 millis")
        }).pipe(
          Effect.provide(
            BullJobQueue.layer({ queueName, attempts: 1 }).pipe(Layer.provide(Layer.succeed(RedisClient, redis)))
          )
        )
      )
      assert.deepStrictEqual([...processed].sort(), [valid, vanished].sort())
      assert.deepStrictEqual(deadLettered, [])
      // nothing is left under the lead's id but a completed job, as for any processed lead
      const states = yield* Effect.promise(() => Promise.all([raw.getJobState(vanished), raw.getJobState(valid)]))
      assert.deepStrictEqual(states, ["completed", "completed"])
      yield* Effect.promise(() => raw.close())
    }).pipe(Effect.provide(redisTestLayer(testPrefix())))
  )
})

describe("JobQueue (bullmq, Redis unreachable)", () => {
  it.live("enqueue and stats fail fast with QueueUnavailable, never naming the password", () =>
    Effect.gen(function* () {
      const queue = yield* JobQueue
      const started = Date.now()
      const error = yield* Effect.flip(queue.enqueue({ leadId: randomUUID() }))
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
