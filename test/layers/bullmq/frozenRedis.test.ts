import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import { startTcpProxy } from "../../../scripts/lib/tcpProxy.js"
import * as BullJobQueue from "../../../layers/bullmq/JobQueue.js"
import * as RedisClientLayer from "../../../layers/shared/RedisClient.js"
import { RedisClient } from "../../../layers/shared/RedisClient.js"
import { JobQueue } from "../../../services/JobQueue.js"
import { makeLogCapture, withMessage } from "../../support/logCapture.js"
import { waitUntil } from "../../support/poll.js"
import { redisTestLayer, testPrefix } from "../../support/redis.js"
import { testRedisAddress, throughProxy } from "../../support/servers.js"
import { testRedisUrl } from "../../../layers/testing/servers.js"

describe("a Redis connection that goes silent (frozen socket, new connections would work)", () => {
  it.scopedLive(
    "is replaced: the queue takes and runs jobs again within seconds, and the outage is logged once each way",
    () => {
      const logs = makeLogCapture()
      const prefix = testPrefix()
      return Effect.gen(function* () {
        const proxy = yield* startTcpProxy(testRedisAddress())
        const redis = RedisClientLayer.layer({
          url: Redacted.make(throughProxy(testRedisUrl(), proxy.port)),
          prefix,
          commandTimeoutMs: 300,
          healthCheckIntervalMs: 100
        }).pipe(Layer.orDie)
        const queueLayer = BullJobQueue.layer({
          queueName: `frozen-${prefix}`,
          attempts: 3,
          backoffMs: 20,
          shutdownTimeoutMs: 1000,
          operationTimeoutMs: 300,
          connectionCheckIntervalMs: 100,
          connectionCheckTimeoutMs: 300
        })
        yield* Effect.gen(function* () {
          const queue = yield* JobQueue
          const client = yield* RedisClient
          const processed = new Set<string>()
          yield* queue.consume({
            concurrency: 2,
            process: (job) => Effect.sync(() => void processed.add(job.leadId)),
            onDeadLetter: () => Effect.void
          })
          yield* queue.enqueue({ leadId: "before-freeze" })
          yield* waitUntil("the first job", () => processed.has("before-freeze"), { timeoutMs: 15_000 })

          // every open connection hangs (bytes swallowed, no reset); new connections reach Redis again
          yield* proxy.blackhole
          yield* proxy.up
          const started = Date.now()
          // the queue answers again: an enqueue goes through (each try is bounded; a failure is QueueUnavailable)
          let enqueued = false
          while (!enqueued) {
            if (Date.now() - started > 15_000) throw new Error(`the queue never recovered:\n${logs.lines.join("\n")}`)
            enqueued = Either.isRight(yield* Effect.either(queue.enqueue({ leadId: "after-freeze" })))
            if (!enqueued) yield* Effect.sleep(100)
          }
          // the worker's own connection was replaced too: it takes the new job
          yield* waitUntil("the job enqueued after the freeze", () => processed.has("after-freeze"), {
            timeoutMs: 15_000
          })
          expect(Date.now() - started).toBeLessThan(15_000)
          expect(yield* client.use((c) => c.ping())).toBe("PONG")
          expect((yield* queue.stats).failed).toBe(0)

          yield* waitUntil("the back-online line", () => withMessage(logs.lines, "Redis reachable again").length > 0, {
            timeoutMs: 15_000
          })
          yield* Effect.sleep("500 millis")
          expect(withMessage(logs.lines, "Redis unreachable (commands time out)"), logs.lines.join("\n")).toHaveLength(
            1
          )
          expect(withMessage(logs.lines, "Redis reachable again"), logs.lines.join("\n")).toHaveLength(1)
          for (const line of logs.lines) expect(line).not.toContain("redis://")
        }).pipe(Effect.provide(Layer.merge(queueLayer, Layer.empty).pipe(Layer.provideMerge(redis))))
      }).pipe(Effect.provide(logs.layer), Effect.provide(redisTestLayer(prefix)))
    },
    40_000
  )
})
