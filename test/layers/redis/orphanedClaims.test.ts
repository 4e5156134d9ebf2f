import { randomUUID } from "node:crypto"
import { connect, createServer, type Socket } from "node:net"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import * as RedisIdempotency from "../../../layers/redis/Idempotency.js"
import * as RedisClientLayer from "../../../layers/shared/RedisClient.js"
import { testRedisUrl } from "../../../layers/testing/servers.js"
import { Idempotency } from "../../../services/Idempotency.js"
import { makeLogCapture } from "../../support/logCapture.js"
import { redisTestLayer, testPrefix } from "../../support/redis.js"
import { testRedisAddress, throughProxy } from "../../support/servers.js"

/**
 * A proxy that can hold what clients send for a while, then deliver it in order: a Redis that stalls (a slow
 * command, a fork, a failover's pause) and then runs everything it was sent, after the client gave up waiting.
 */
const stallingProxy = (target: { host: string; port: number }) =>
  Effect.acquireRelease(
    Effect.async<{ port: number; stall: () => void; resume: () => void; close: () => void }>((resume) => {
      let stalled = false
      const held: Array<[Socket, Buffer]> = []
      const sockets = new Set<Socket>()
      const server = createServer((client) => {
        const upstream = connect(target.port, target.host)
        sockets.add(client).add(upstream)
        client.on("data", (chunk) => {
          if (stalled) held.push([upstream, chunk])
          else upstream.write(chunk)
        })
        upstream.on("data", (chunk) => client.write(chunk))
        client.on("error", () => upstream.destroy())
        upstream.on("error", () => client.destroy())
        client.on("close", () => upstream.destroy())
        upstream.on("close", () => client.destroy())
      })
      server.listen(0, "127.0.0.1", () => {
        const address = server.address()
        resume(
          Effect.succeed({
            port: typeof address === "object" && address !== null ? address.port : 0,
            stall: () => {
              stalled = true
            },
            resume: () => {
              stalled = false
              for (const [upstream, chunk] of held.splice(0)) upstream.write(chunk)
            },
            close: () => {
              for (const socket of sockets) socket.destroy()
              server.close()
            }
          })
        )
      })
    }),
    (proxy) => Effect.sync(proxy.close)
  )

const idempotencyThrough = (url: string, prefix: string): Effect.Effect<Idempotency.Service, never, Scope.Scope> =>
  Layer.build(
    RedisIdempotency.layer.pipe(
      Layer.provide(
        RedisClientLayer.layer({
          url: Redacted.make(url),
          prefix,
          commandTimeoutMs: 200,
          // the connection is not the subject here: no PING replaces it during the stall
          healthCheckIntervalMs: 60_000,
          timeoutsBeforeReconnect: 100
        }).pipe(Layer.orDie)
      )
    )
  ).pipe(Effect.map((context) => context.unsafeMap.get(Idempotency.key) as Idempotency.Service))

describe("Idempotency (redis): claims set by a call Redis ran after the client stopped waiting", () => {
  it.scopedLive(
    "are dropped once Redis answers, so the retry acquires them at once; another caller's claim is kept",
    () => {
      const logs = makeLogCapture()
      const prefix = testPrefix()
      return Effect.gen(function* () {
        const proxy = yield* stallingProxy(testRedisAddress())
        const stalling = yield* idempotencyThrough(throughProxy(testRedisUrl(), proxy.port), prefix)
        const direct = yield* Idempotency
        const [a, b, held] = [`a-${randomUUID()}`, `b-${randomUUID()}`, `held-${randomUUID()}`]
        // another worker holds one of the keys
        expect(yield* direct.begin(held, 60_000)).toEqual({ _tag: "Acquired" })
        expect(yield* stalling.begin(`warm-${randomUUID()}`, 60_000)).toEqual({ _tag: "Acquired" })

        proxy.stall()
        const failed = yield* Effect.flip(stalling.beginEach([a, b, held], 60_000))
        expect(failed._tag).toBe("IdempotencyUnavailable")
        yield* Effect.sleep("300 millis")
        // the stall ends: Redis runs the claim call the client gave up on, then what followed it
        proxy.resume()
        const started = Date.now()
        let claims = yield* direct.beginEach([a, b], 60_000)
        while (claims.some((claim) => claim._tag !== "Acquired") && Date.now() - started < 5000) {
          yield* Effect.sleep("50 millis")
          claims = yield* direct.beginEach([a, b], 60_000)
        }
        // acquired within seconds, not after the 60 s in-progress TTL
        expect(claims).toEqual([{ _tag: "Acquired" }, { _tag: "Acquired" }])
        expect(Date.now() - started).toBeLessThan(5000)
        // the claim the stalled call did not set (another worker's) is still held
        expect(yield* direct.begin(held, 60_000)).toEqual({ _tag: "InProgress" })
        // (the release's own answer may come too late to be logged; what matters is that the keys are free)
        for (const line of logs.lines) expect(line).not.toContain("redis://")
      }).pipe(
        Effect.provide(logs.layer),
        Effect.provide(RedisIdempotency.layer.pipe(Layer.provide(redisTestLayer(prefix))))
      )
    },
    30_000
  )

  it.scopedLive("a release of a key this process holds no claim on leaves the claim another worker holds", () => {
    const prefix = testPrefix()
    return Effect.gen(function* () {
      const holder = yield* Idempotency
      const other = yield* idempotencyThrough(testRedisUrl(), prefix)
      const k = `foreign-${randomUUID()}`
      expect(yield* holder.beginEach([k], 60_000)).toEqual([{ _tag: "Acquired" }])
      // a process whose own claim on the key it no longer knows of (expired and forgotten) releases it
      yield* other.releaseEach([k])
      expect(yield* other.begin(k, 60_000)).toEqual({ _tag: "InProgress" })
      yield* holder.releaseEach([k])
      expect(yield* other.begin(k, 60_000)).toEqual({ _tag: "Acquired" })
    }).pipe(Effect.provide(RedisIdempotency.layer.pipe(Layer.provide(redisTestLayer(prefix)))))
  })

  it.scopedLive("a late release of an expired claim never drops the claim another worker holds now", () => {
    const prefix = testPrefix()
    return Effect.gen(function* () {
      const first = yield* Idempotency
      const second = yield* idempotencyThrough(testRedisUrl(), prefix)
      const k = `late-${randomUUID()}`
      expect(yield* first.beginEach([k], 150)).toEqual([{ _tag: "Acquired" }])
      // the first worker stalls past its claim's TTL; the second claims the key and is sending
      yield* Effect.sleep("300 millis")
      expect(yield* second.beginEach([k], 60_000)).toEqual([{ _tag: "Acquired" }])
      // the first one fails and releases what it held: only its own claim, which is gone
      yield* first.releaseEach([k])
      expect(yield* first.begin(k, 60_000)).toEqual({ _tag: "InProgress" })
      // the holder's own release still drops it
      yield* second.releaseEach([k])
      expect(yield* first.begin(k, 60_000)).toEqual({ _tag: "Acquired" })
    }).pipe(Effect.provide(RedisIdempotency.layer.pipe(Layer.provide(redisTestLayer(prefix)))))
  })
})
