import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import { startTcpProxy } from "../../../scripts/lib/tcpProxy.js"
import * as BullJobQueue from "../../../layers/bullmq/JobQueue.js"
import * as RedisClientLayer from "../../../layers/shared/RedisClient.js"
import { JobQueue } from "../../../services/JobQueue.js"
import { makeLogCapture, withMessage } from "../../support/logCapture.js"
import { waitUntil } from "../../support/poll.js"
import { redisTestLayer, testPrefix } from "../../support/redis.js"
import { testRedisAddress, throughProxy } from "../../support/servers.js"
import { testRedisUrl } from "../../../layers/testing/servers.js"

describe("Redis goes away under a consumer (queue + worker + our client)", () => {
  it.scopedLive(
    "one line when it becomes unreachable (host:port, no URL) and one when it is back: not per retry, not per connection",
    () => {
      const logs = makeLogCapture()
      const prefix = testPrefix()
      return Effect.gen(function* () {
        const proxy = yield* startTcpProxy(testRedisAddress())
        const redis = RedisClientLayer.layer({
          url: Redacted.make(throughProxy(testRedisUrl(), proxy.port)),
          prefix
        }).pipe(Layer.orDie)
        const queueLayer = BullJobQueue.layer({
          queueName: `leads-${prefix}`,
          attempts: 3,
          backoffMs: 20,
          shutdownTimeoutMs: 1000
        }).pipe(Layer.provide(redis))
        yield* Effect.gen(function* () {
          const queue = yield* JobQueue
          yield* queue.consume({ concurrency: 2, process: () => Effect.void, onDeadLetter: () => Effect.void })
          expect((yield* queue.stats).waiting).toBe(0)

          yield* proxy.down
          // a few seconds of reconnect attempts by every connection (ioredis backs off from 200 ms to 2 s)
          yield* Effect.sleep("4 seconds")
          const lost = withMessage(logs.lines, "Redis unreachable")
          expect(lost, logs.lines.join("\n")).toHaveLength(1)
          expect(lost[0]).toContain(`redis=127.0.0.1:${proxy.port}`)
          expect(withMessage(logs.lines, "queue worker error")).toEqual([])

          yield* proxy.up
          yield* waitUntil("the back-online line", () => withMessage(logs.lines, "Redis reachable again").length > 0, {
            timeoutMs: 15_000
          })
          yield* Effect.sleep("1 second")
          expect(withMessage(logs.lines, "Redis reachable again")).toHaveLength(1)
          expect(withMessage(logs.lines, "Redis unreachable")).toHaveLength(1)
          expect((yield* queue.stats).waiting).toBe(0)
          for (const line of logs.lines) expect(line).not.toContain("redis://")
        }).pipe(Effect.provide(queueLayer))
      }).pipe(
        Effect.provide(logs.layer),
        // the queue's keys (BullMQ's meta) are deleted once its layer is closed, through a client of their own
        Effect.provide(redisTestLayer(prefix))
      )
    },
    40_000
  )
})
