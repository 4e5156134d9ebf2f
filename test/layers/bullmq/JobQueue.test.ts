import { randomUUID } from "node:crypto"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as BullJobQueue from "../../../layers/bullmq/JobQueue.js"
import * as RedisClientLayer from "../../../layers/shared/RedisClient.js"
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
