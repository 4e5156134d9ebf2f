import { randomUUID } from "node:crypto"
import { assert, describe, it, layer } from "@effect/vitest"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as TestClock from "effect/TestClock"
import * as MemoryRateLimiter from "../../layers/memory/RateLimiter.js"
import * as RedisClientLayer from "../../layers/shared/RedisClient.js"
import * as RedisRateLimiter from "../../layers/redis/RateLimiter.js"
import { RateLimited, RateLimiter, type Tier } from "../../services/RateLimiter.js"
import { redisTestLayer, testPrefix, unreachableRedisUrl } from "../support/redis.js"

const tier = (name: string, limit: number, windowMs: number): Tier => ({
  name,
  key: `${name}-${randomUUID()}`,
  limit,
  windowMs
})

const acquire = (tiers: ReadonlyArray<Tier>) => Effect.flatMap(RateLimiter, (limiter) => limiter.acquire(tiers))
const attempt = (tiers: ReadonlyArray<Tier>) => Effect.either(acquire(tiers))
/** The RateLimited refusal of an acquire that must be refused (an outage fails the test). */
const refusal = (tiers: ReadonlyArray<Tier>) =>
  Effect.flip(acquire(tiers)).pipe(
    Effect.filterOrDieMessage((e): e is RateLimited => e._tag === "RateLimited", "expected RateLimited")
  )

/** Move the TestClock to the start of a fresh window of `windowMs`, plus `offsetMs`. */
const toWindowStart = (windowMs: number, offsetMs = 0) =>
  Effect.flatMap(Clock.currentTimeMillis, (now) => TestClock.adjust(windowMs - (now % windowMs) + offsetMs))

const prefix = testPrefix()
const backends: ReadonlyArray<readonly [string, Layer.Layer<RateLimiter>]> = [
  ["memory", MemoryRateLimiter.layer],
  ["redis", RedisRateLimiter.layer.pipe(Layer.provide(redisTestLayer(prefix)))]
]

for (const [backend, limiterLayer] of backends) {
  layer(limiterLayer)(`RateLimiter (${backend})`, (it) => {
    it.effect("allows `limit` acquisitions per window, then refuses naming the tier", () =>
      Effect.gen(function* () {
        const lead = tier("lead", 3, 60_000)
        for (let i = 0; i < 3; i++) yield* acquire([lead])
        const refused = yield* refusal([lead])
        assert.instanceOf(refused, RateLimited)
        assert.strictEqual(refused.tier, "lead")
      })
    )

    it.effect("a tier with a cost takes that many permits, all or none", () =>
      Effect.gen(function* () {
        yield* toWindowStart(60_000)
        const lead = tier("lead", 4, 60_000)
        const calls = tier("crm", 10, 60_000)
        yield* acquire([lead, { ...calls, cost: 4 }])
        yield* acquire([lead, { ...calls, cost: 4 }])
        // 8 of 10 permits taken: a 3-call action does not fit, and takes nothing from the lead tier either
        const refused = yield* refusal([lead, { ...calls, cost: 3 }])
        assert.strictEqual(refused.tier, "crm")
        yield* acquire([lead, { ...calls, cost: 2 }])
        yield* acquire([lead])
        assert.strictEqual((yield* refusal([lead])).tier, "lead")
      })
    )

    it.effect("consumes nothing from any tier when a later tier refuses", () =>
      Effect.gen(function* () {
        const account = tier("account", 3, 60_000)
        const crm = tier("crm", 1, 60_000)
        yield* acquire([account, crm])
        const refused = yield* refusal([account, crm])
        assert.strictEqual(refused.tier, "crm")
        // account used 1 of 3: the refused call must not have taken a second one
        yield* acquire([account])
        yield* acquire([account])
        assert.isTrue(Either.isLeft(yield* attempt([account])))
      })
    )

    it.effect("retry-after is the time left in the refusing tier's window", () =>
      Effect.gen(function* () {
        yield* toWindowStart(10_000, 2_500)
        const lead = tier("lead", 1, 10_000)
        yield* acquire([lead])
        const refused = yield* refusal([lead])
        assert.strictEqual(refused.retryAfterMs, 7_500)
      })
    )

    it.effect("reports the longest wait when several tiers refuse", () =>
      Effect.gen(function* () {
        yield* toWindowStart(60_000, 1_000)
        const short = tier("lead", 1, 10_000)
        const long = tier("account", 1, 60_000)
        yield* acquire([short, long])
        const refused = yield* refusal([short, long])
        assert.deepStrictEqual([refused.tier, refused.retryAfterMs], ["account", 59_000])
      })
    )

    it.effect("a window resets once its retry-after has passed", () =>
      Effect.gen(function* () {
        const lead = tier("lead", 2, 30_000)
        yield* acquire([lead])
        yield* acquire([lead])
        const refused = yield* refusal([lead])
        yield* TestClock.adjust(refused.retryAfterMs - 1)
        assert.isTrue(Either.isLeft(yield* attempt([lead])), "still the same window 1 ms before it ends")
        yield* TestClock.adjust(1)
        yield* acquire([lead])
        yield* acquire([lead])
        assert.isTrue(Either.isLeft(yield* attempt([lead])))
      })
    )

    it.effect("no tiers: always allowed", () => acquire([]))

    it.effect("acquireEach takes groups in order up to the first that does not fit, and only those", () =>
      Effect.gen(function* () {
        yield* toWindowStart(60_000)
        const limiter = yield* RateLimiter
        const lead = tier("lead", 5, 60_000)
        const calls = tier("crm", 10, 60_000)
        // a lead's actions: one lead permit each, 3 + 3 + 3 + 3 calls; the fourth would make 12 of 10 calls
        const action = [lead, { ...calls, cost: 3 }]
        const taken = yield* limiter.acquireEach([action, action, action, action])
        assert.strictEqual(taken.granted, 3)
        // what was taken is exactly three actions' worth: 2 lead permits and 1 call are left
        yield* acquire([lead, calls])
        assert.strictEqual((yield* refusal([calls])).tier, "crm")
        yield* acquire([lead])
        assert.strictEqual((yield* refusal([lead])).tier, "lead")
      })
    )

    it.effect("acquireEach refuses, consuming nothing, when the first group does not fit", () =>
      Effect.gen(function* () {
        yield* toWindowStart(60_000, 4_000)
        const limiter = yield* RateLimiter
        const lead = tier("lead", 1, 60_000)
        const account = tier("account", 2, 60_000)
        const refused = yield* Effect.flip(limiter.acquireEach([[lead, { ...account, cost: 3 }], [lead]]))
        assert.deepStrictEqual(refused, new RateLimited({ tier: "account", retryAfterMs: 56_000 }))
        yield* acquire([lead, { ...account, cost: 2 }])
      })
    )

    it.effect("refund gives back unused permits of the window they were taken in, never below zero", () =>
      Effect.gen(function* () {
        yield* toWindowStart(60_000)
        const limiter = yield* RateLimiter
        const lead = tier("lead", 3, 60_000)
        const taken = yield* limiter.acquireEach([[lead], [lead], [lead]])
        assert.strictEqual(taken.granted, 3)
        assert.isTrue(Either.isLeft(yield* attempt([lead])))
        // two of the three actions were never sent
        yield* limiter.refund([[lead], [lead]], taken.at)
        yield* acquire([lead])
        yield* acquire([lead])
        assert.isTrue(Either.isLeft(yield* attempt([lead])))
        // more than was taken: the window's count stops at zero
        yield* limiter.refund([[{ ...lead, cost: 10 }]], taken.at)
        for (let i = 0; i < 3; i++) yield* acquire([lead])
        assert.isTrue(Either.isLeft(yield* attempt([lead])))
        // a refund for a window that has ended leaves the current one alone
        yield* TestClock.adjust(60_000)
        yield* acquire([lead])
        yield* limiter.refund([[lead]], taken.at)
        yield* acquire([lead])
        yield* acquire([lead])
        assert.isTrue(Either.isLeft(yield* attempt([lead])))
      })
    )

    it.effect("200 concurrent acquirers: exactly `limit` succeed", () =>
      Effect.gen(function* () {
        const crm = tier("crm", 37, 600_000)
        const results = yield* Effect.all(
          Array.from({ length: 200 }, () => attempt([crm])),
          { concurrency: "unbounded" }
        )
        assert.strictEqual(results.filter(Either.isRight).length, 37)
      })
    )
  })
}

describe("RateLimiter (redis, shared by replicas)", () => {
  // Two replicas = two RedisClients (two TCP connections) on the same prefix.
  const replica = () =>
    Layer.build(RedisRateLimiter.layer.pipe(Layer.provide(redisTestLayer(prefix)), Layer.fresh)).pipe(
      Effect.map((context) => context.unsafeMap.get(RateLimiter.key) as RateLimiter.Service)
    )

  it.scoped("200 acquires from two connections: exactly `limit` succeed", () =>
    Effect.gen(function* () {
      const [a, b] = [yield* replica(), yield* replica()]
      const crm = tier("crm", 50, 600_000)
      const results = yield* Effect.all(
        Array.from({ length: 200 }, (_, i) => Effect.either((i % 2 === 0 ? a : b).acquire([crm]))),
        { concurrency: "unbounded" }
      )
      assert.strictEqual(results.filter(Either.isRight).length, 50)
      const refused = results.filter(Either.isLeft).map((r) => r.left)
      assert.isTrue(refused.every((e) => e._tag === "RateLimited" && e.tier === "crm"))
    })
  )

  it.live("Redis down: RateLimiterUnavailable within 2 s, without the password", () =>
    Effect.gen(function* () {
      const limiter = yield* RateLimiter
      const started = Date.now()
      const error = yield* Effect.flip(limiter.acquire([tier("crm", 5, 1000)]))
      assert.strictEqual(error._tag, "RateLimiterUnavailable")
      assert.isBelow(Date.now() - started, 2000)
      assert.notInclude(error.message, "s3cret")
    }).pipe(
      Effect.provide(
        RedisRateLimiter.layer.pipe(Layer.provide(RedisClientLayer.layer({ url: unreachableRedisUrl, prefix })))
      )
    )
  )
})
