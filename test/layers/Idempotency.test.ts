import { randomUUID } from "node:crypto"
import { assert, describe, it, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as TestClock from "effect/TestClock"
import * as MemoryIdempotency from "../../layers/memory/Idempotency.js"
import * as RedisClientLayer from "../../layers/shared/RedisClient.js"
import * as RedisIdempotency from "../../layers/redis/Idempotency.js"
import { Idempotency } from "../../services/Idempotency.js"
import { redisTestLayer, testPrefix, unreachableRedisUrl } from "../support/redis.js"

const key = () => `action-${randomUUID()}`
const begin = (k: string, ttlMs = 60_000) => Effect.flatMap(Idempotency, (s) => s.begin(k, ttlMs))
const complete = (k: string, result: unknown, ttlMs = 60_000) =>
  Effect.flatMap(Idempotency, (s) => s.complete(k, result, ttlMs))
const release = (k: string) => Effect.flatMap(Idempotency, (s) => s.release(k))

const sleepReal = (ms: number) => Effect.promise(() => new Promise((resolve) => setTimeout(resolve, ms)))

const prefix = testPrefix()
// Memory keys expire on the Effect Clock (TestClock here); Redis keys expire on the server's clock, so time passes for real.
const backends: ReadonlyArray<readonly [string, Layer.Layer<Idempotency>, (ms: number) => Effect.Effect<void>]> = [
  ["memory", MemoryIdempotency.layer, (ms) => TestClock.adjust(ms)],
  ["redis", RedisIdempotency.layer.pipe(Layer.provide(redisTestLayer(prefix))), sleepReal]
]

for (const [backend, idempotencyLayer, elapse] of backends) {
  layer(idempotencyLayer)(`Idempotency (${backend})`, (it) => {
    it.effect("begin claims a key once; others see InProgress", () =>
      Effect.gen(function* () {
        const k = key()
        assert.deepStrictEqual(yield* begin(k), { _tag: "Acquired" })
        assert.deepStrictEqual(yield* begin(k), { _tag: "InProgress" })
        assert.deepStrictEqual(yield* begin(key()), { _tag: "Acquired" }, "keys are independent")
      })
    )

    it.effect("complete stores the result; begin then returns it as Completed", () =>
      Effect.gen(function* () {
        const k = key()
        yield* begin(k)
        yield* complete(k, { crmId: "00Q123", created: true, at: new Date(0) })
        assert.deepStrictEqual(yield* begin(k), {
          _tag: "Completed",
          result: { crmId: "00Q123", created: true, at: "1970-01-01T00:00:00.000Z" }
        })
        // a result that is itself the claim marker's word stays a result
        const other = key()
        yield* complete(other, "inprogress")
        assert.deepStrictEqual(yield* begin(other), { _tag: "Completed", result: "inprogress" })
        const empty = key()
        yield* complete(empty, undefined)
        assert.deepStrictEqual(yield* begin(empty), { _tag: "Completed", result: null })
      })
    )

    it.effect("release drops an in-progress claim so a retry may acquire it", () =>
      Effect.gen(function* () {
        const k = key()
        yield* begin(k)
        yield* release(k)
        assert.deepStrictEqual(yield* begin(k), { _tag: "Acquired" })
      })
    )

    it.effect("release never drops a completed result (or a missing key)", () =>
      Effect.gen(function* () {
        const k = key()
        yield* begin(k)
        yield* complete(k, { ok: 1 })
        yield* release(k)
        assert.deepStrictEqual(yield* begin(k), { _tag: "Completed", result: { ok: 1 } })
        yield* release(key())
      })
    )

    it.effect("beginEach answers each key as begin would; releaseEach drops only claims", () =>
      Effect.gen(function* () {
        const idempotency = yield* Idempotency
        const [held, done, fresh] = [key(), key(), key()]
        yield* begin(held)
        yield* complete(done, { crmId: "00Q1" })
        const claims = yield* idempotency.beginEach([held, done, fresh], 60_000)
        assert.deepStrictEqual(claims, [
          { _tag: "InProgress" },
          { _tag: "Completed", result: { crmId: "00Q1" } },
          { _tag: "Acquired" }
        ])
        assert.deepStrictEqual(yield* begin(fresh), { _tag: "InProgress" }, "beginEach claimed the free key")
        assert.deepStrictEqual(yield* idempotency.beginEach([], 60_000), [])
        yield* idempotency.releaseEach([held, done, fresh, key()])
        assert.deepStrictEqual(yield* begin(held), { _tag: "Acquired" })
        assert.deepStrictEqual(yield* begin(fresh), { _tag: "Acquired" })
        assert.deepStrictEqual(yield* begin(done), { _tag: "Completed", result: { crmId: "00Q1" } })
      })
    )

    it.effect("an abandoned claim expires after its TTL", () =>
      Effect.gen(function* () {
        const k = key()
        yield* begin(k, 150)
        assert.deepStrictEqual(yield* begin(k, 150), { _tag: "InProgress" })
        yield* elapse(400)
        assert.deepStrictEqual(yield* begin(k, 150), { _tag: "Acquired" })
      })
    )

    it.effect("a claim held while its holder works (renew) outlives its TTL until it is released or completed", () =>
      Effect.gen(function* () {
        const idempotency = yield* Idempotency
        const [held, each, lapsing] = [key(), key(), key()]
        assert.deepStrictEqual(yield* idempotency.begin(held, 300, { renew: true }), { _tag: "Acquired" })
        assert.deepStrictEqual(yield* idempotency.beginEach([each], 300, { renew: true }), [{ _tag: "Acquired" }])
        yield* begin(lapsing, 300)
        yield* elapse(1000)
        assert.deepStrictEqual(yield* begin(held), { _tag: "InProgress" }, "still held after three TTLs")
        assert.deepStrictEqual(yield* begin(each), { _tag: "InProgress" })
        assert.deepStrictEqual(yield* begin(lapsing), { _tag: "Acquired" }, "a claim without renew lapses")
        yield* release(held)
        yield* complete(each, "done")
        yield* elapse(1000)
        assert.deepStrictEqual(yield* begin(held, 300), { _tag: "Acquired" })
        assert.deepStrictEqual(yield* begin(each), { _tag: "Completed", result: "done" })
      })
    )

    it.effect(
      "holds: a claim is held from its begin until completed, released or run out (a renewed one does not)",
      () =>
        Effect.gen(function* () {
          const idempotency = yield* Idempotency
          const [renewed, plain, each, never] = [key(), key(), key(), key()]
          yield* idempotency.begin(renewed, 300, { renew: true })
          yield* idempotency.begin(plain, 300)
          yield* idempotency.beginEach([each], 300, { renew: true })
          assert.deepStrictEqual(yield* Effect.forEach([renewed, plain, each, never], (k) => idempotency.holds(k)), [
            true,
            true,
            true,
            false
          ])
          yield* elapse(1000)
          assert.isTrue(yield* idempotency.holds(renewed), "a renewed claim is held past its TTL")
          assert.isFalse(yield* idempotency.holds(plain), "a claim that ran out is not held")
          yield* complete(renewed, "done")
          yield* release(each)
          assert.isFalse(yield* idempotency.holds(renewed), "a completed claim is not held")
          assert.isFalse(yield* idempotency.holds(each), "a released claim is not held")
        })
    )

    it.effect("two callers of one process: a key the first lost and the second took is the second's alone", () =>
      Effect.gen(function* () {
        const idempotency = yield* Idempotency
        const [first, second] = [{ owner: {} }, { renew: true, owner: {} }]
        const k = key()
        assert.deepStrictEqual(yield* idempotency.begin(k, 150, first), { _tag: "Acquired" })
        // the first caller's claim runs out (its run stalled, the store was out of reach) and the second takes the key
        yield* elapse(400)
        assert.deepStrictEqual(yield* idempotency.begin(k, 60_000, second), { _tag: "Acquired" })
        assert.isFalse(yield* idempotency.holds(k, first), "the first caller must not send under the second's claim")
        assert.isTrue(yield* idempotency.holds(k, second))
        // the first caller's failure handler lets go of its claims: the second's stays
        yield* idempotency.releaseEach([k], first)
        yield* idempotency.letLapse([k], first)
        assert.deepStrictEqual(yield* begin(k), { _tag: "InProgress" })
        yield* idempotency.release(k, second)
        assert.deepStrictEqual(yield* begin(k), { _tag: "Acquired" })
      })
    )

    it.effect("a completed result expires after its TTL", () =>
      Effect.gen(function* () {
        const k = key()
        yield* begin(k)
        yield* complete(k, "done", 150)
        assert.deepStrictEqual(yield* begin(k), { _tag: "Completed", result: "done" })
        yield* elapse(400)
        assert.deepStrictEqual(yield* begin(k), { _tag: "Acquired" })
      })
    )

    it.effect("concurrent begins on one key: exactly one acquires", () =>
      Effect.gen(function* () {
        const k = key()
        const claims = yield* Effect.all(
          Array.from({ length: 50 }, () => begin(k)),
          { concurrency: "unbounded" }
        )
        assert.strictEqual(claims.filter((c) => c._tag === "Acquired").length, 1)
      })
    )
  })
}

describe("Idempotency (redis down)", () => {
  it.live("fails with IdempotencyUnavailable within 2 s, without the password", () =>
    Effect.gen(function* () {
      const idempotency = yield* Idempotency
      const started = Date.now()
      const error = yield* Effect.flip(idempotency.begin(key(), 1000))
      assert.strictEqual(error._tag, "IdempotencyUnavailable")
      assert.isBelow(Date.now() - started, 2000)
      assert.notInclude(error.message, "s3cret")
    }).pipe(
      Effect.provide(
        RedisIdempotency.layer.pipe(
          Layer.provide(RedisClientLayer.layer({ url: unreachableRedisUrl, prefix: testPrefix() }))
        )
      )
    )
  )
})
