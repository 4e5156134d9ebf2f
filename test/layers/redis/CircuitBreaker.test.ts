import { randomUUID } from "node:crypto"
import { assert, describe, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as Schedule from "effect/Schedule"
import * as TestClock from "effect/TestClock"
import * as TestServices from "effect/TestServices"
import * as RedisBreaker from "../../../layers/redis/CircuitBreaker.js"
import * as RedisClientLayer from "../../../layers/shared/RedisClient.js"
import { CircuitBreaker, CircuitOpen } from "../../../services/CircuitBreaker.js"
import { makeLogCapture } from "../../support/logCapture.js"
import { redisTestLayer, testPrefix, unreachableRedisUrl } from "../../support/redis.js"

// No jitter, so opening delays are exactly 200, 400, 800 ms.
const options: Partial<RedisBreaker.RedisBreakerOptions> = {
  consecutiveFailures: 3,
  failureRatio: 0.5,
  minimumCalls: 6,
  windowMs: 10_000,
  probeSchedule: Schedule.exponential("200 millis"),
  probeTimeoutMs: 30_000
}

/** Two replicas: two breakers on two RedisClients (two TCP connections) sharing one random prefix. */
const replicas = Effect.gen(function* () {
  const prefix = testPrefix()
  const replica = () =>
    Layer.build(RedisBreaker.layerWith(options).pipe(Layer.provide(redisTestLayer(prefix)), Layer.fresh)).pipe(
      Effect.map((context) => Context.get(context, CircuitBreaker))
    )
  return { a: yield* replica(), b: yield* replica(), name: `crm-${randomUUID()}` }
})

/** A CRM call that counts how often it actually ran (what the CRM would see). */
const crm = Effect.gen(function* () {
  const calls = yield* Ref.make(0)
  const hit = Ref.update(calls, (n) => n + 1)
  return {
    calls,
    ok: Effect.as(hit, "ok"),
    down: Effect.zipRight(hit, Effect.fail("down" as const)),
    invalid: Effect.zipRight(hit, Effect.fail("invalid" as const))
  }
})

/** The CircuitOpen refusal of a call that must be refused. */
const refusal = <A, E>(effect: Effect.Effect<A, E | CircuitOpen>) =>
  Effect.flip(effect).pipe(
    Effect.filterOrDieMessage((e): e is CircuitOpen => e instanceof CircuitOpen, "expected CircuitOpen")
  )

/** Open the breaker through `breaker` with `consecutiveFailures` failures. */
const trip = (breaker: CircuitBreaker.Service, name: string, down: Effect.Effect<never, "down">) =>
  Effect.repeatN(Effect.either(breaker.protect(name, down)), 2)

describe("CircuitBreaker (redis, shared by replicas)", () => {
  it.scoped("failures through A open the breaker for B, which then never calls the CRM", () =>
    Effect.gen(function* () {
      const { a, b, name } = yield* replicas
      const { calls, down, ok } = yield* crm
      assert.strictEqual(yield* b.state(name), "closed")
      yield* trip(a, name, down)
      assert.deepStrictEqual([yield* a.state(name), yield* b.state(name)], ["open", "open"])
      const refused = yield* refusal(b.protect(name, ok))
      assert.strictEqual(refused.retryAfterMs, 200)
      assert.strictEqual(yield* Ref.get(calls), 3)
      yield* TestClock.adjust(150)
      assert.strictEqual((yield* refusal(a.protect(name, ok))).retryAfterMs, 50)
    })
  )

  it.scoped("the failure ratio counts calls from both replicas in one window", () =>
    Effect.gen(function* () {
      const { a, b, name } = yield* replicas
      const { down, ok } = yield* crm
      // failures alternate with successes, so never 3 in a row; 3 of 6 calls is the 50% ratio
      for (let i = 0; i < 5; i++) {
        yield* Effect.either((i % 2 === 0 ? a : b).protect(name, i % 2 === 0 ? down : ok))
        yield* TestClock.adjust(500)
      }
      assert.strictEqual(yield* a.state(name), "closed")
      yield* b.protect(name, ok)
      assert.strictEqual(yield* a.state(name), "open")
    })
  )

  it.scoped("calls older than the window no longer count toward the ratio", () =>
    Effect.gen(function* () {
      const { a, b, name } = yield* replicas
      const { down, ok } = yield* crm
      for (let i = 0; i < 4; i++) yield* Effect.either((i % 2 === 0 ? a : b).protect(name, i % 2 === 0 ? down : ok))
      yield* TestClock.adjust(11_000)
      yield* Effect.either(a.protect(name, down))
      yield* b.protect(name, ok)
      assert.strictEqual(yield* b.state(name), "closed", "2 of 2 recent calls is below minimumCalls")
    })
  )

  it.scoped("only one replica gets the half-open probe when twenty calls race for it", () =>
    Effect.gen(function* () {
      const { a, b, name } = yield* replicas
      const { calls, down } = yield* crm
      yield* trip(a, name, down)
      yield* TestClock.adjust(200)
      const gate = yield* Deferred.make<void>()
      const started = yield* Deferred.make<void>()
      const refusedCount = yield* Ref.make(0)
      const allRefused = yield* Deferred.make<void>()
      const probe = Effect.gen(function* () {
        yield* Ref.update(calls, (n) => n + 1)
        yield* Deferred.succeed(started, undefined)
        yield* Deferred.await(gate)
        return "ok"
      })
      const attempt = (i: number) =>
        Effect.either((i % 2 === 0 ? a : b).protect(name, probe)).pipe(
          Effect.tap((result) =>
            Either.isLeft(result)
              ? Effect.flatMap(
                  Ref.updateAndGet(refusedCount, (n) => n + 1),
                  (n) => (n === 19 ? Deferred.succeed(allRefused, undefined) : Effect.void)
                )
              : Effect.void
          )
        )
      const fibers = yield* Effect.forEach(
        Array.from({ length: 20 }, (_, i) => i),
        (i) => Effect.fork(attempt(i))
      )
      yield* Deferred.await(started)
      yield* Deferred.await(allRefused)
      assert.deepStrictEqual([yield* a.state(name), yield* b.state(name)], ["half-open", "half-open"])
      yield* Deferred.succeed(gate, undefined)
      const results = yield* Fiber.join(Fiber.all(fibers))
      assert.strictEqual(results.filter(Either.isRight).length, 1)
      const refused = results.filter(Either.isLeft).map((r) => r.left)
      assert.isTrue(refused.every((e) => e instanceof CircuitOpen && e.retryAfterMs === 1_000))
      assert.strictEqual(yield* Ref.get(calls), 3 + 1, "the CRM saw 3 failures and one probe")
    })
  )

  it.scoped("a successful probe closes the breaker for both replicas and resets the delays", () =>
    Effect.gen(function* () {
      const { a, b, name } = yield* replicas
      const { calls, down, ok } = yield* crm
      yield* trip(a, name, down)
      yield* TestClock.adjust(200)
      assert.strictEqual(yield* b.protect(name, ok), "ok")
      assert.deepStrictEqual([yield* a.state(name), yield* b.state(name)], ["closed", "closed"])
      assert.strictEqual(yield* a.protect(name, ok), "ok")
      assert.strictEqual(yield* Ref.get(calls), 5)
      yield* trip(b, name, down)
      assert.strictEqual((yield* refusal(a.protect(name, ok))).retryAfterMs, 200, "back to the first delay")
    })
  )

  it.scoped("a failed probe reopens the breaker with the next, longer delay", () =>
    Effect.gen(function* () {
      const { a, b, name } = yield* replicas
      const { calls, down, ok } = yield* crm
      yield* trip(a, name, down)
      yield* TestClock.adjust(200)
      assert.isTrue(Either.isLeft(yield* Effect.either(a.protect(name, down))))
      assert.strictEqual(yield* b.state(name), "open")
      assert.strictEqual((yield* refusal(b.protect(name, ok))).retryAfterMs, 400)
      yield* TestClock.adjust(399)
      assert.strictEqual((yield* refusal(b.protect(name, ok))).retryAfterMs, 1)
      yield* TestClock.adjust(1)
      assert.isTrue(Either.isLeft(yield* Effect.either(b.protect(name, down))))
      assert.strictEqual((yield* refusal(a.protect(name, ok))).retryAfterMs, 800)
      assert.strictEqual(yield* Ref.get(calls), 5, "3 failures and two probes reached the CRM")
    })
  )

  it.scoped("an interrupted probe frees the lock for the next caller", () =>
    Effect.gen(function* () {
      const { a, b, name } = yield* replicas
      const { down, ok } = yield* crm
      yield* trip(a, name, down)
      yield* TestClock.adjust(200)
      const started = yield* Deferred.make<void>()
      const fiber = yield* Effect.fork(
        a.protect(name, Effect.zipRight(Deferred.succeed(started, undefined), Effect.never))
      )
      yield* Deferred.await(started)
      yield* Fiber.interrupt(fiber)
      assert.strictEqual(yield* b.state(name), "open")
      assert.strictEqual(yield* b.protect(name, ok), "ok")
      assert.strictEqual(yield* a.state(name), "closed")
    })
  )

  it.scoped(
    "a probe past its deadline frees the lock: another replica probes after the next wait, the call runs on",
    () =>
      Effect.gen(function* () {
        const { a, b, name } = yield* replicas
        const { down, ok } = yield* crm
        yield* trip(a, name, down)
        yield* TestClock.adjust(200)
        const started = yield* Deferred.make<void>()
        // the CRM has recovered but answers this call only after 40 s, past the probe timeout (30 s)
        const slow = Effect.zipRight(
          Deferred.succeed(started, undefined),
          Effect.as(Effect.sleep("40 seconds"), "late")
        )
        const probe = yield* Effect.fork(a.protect(name, slow))
        yield* Deferred.await(started)
        yield* TestClock.adjust(30_000)
        // the deadline reopened the breaker with the next delay and released the probe lock (Redis time has not moved)
        yield* b
          .state(name)
          .pipe(
            Effect.repeat({ until: (state) => state === "open", schedule: Schedule.spaced("5 millis") }),
            Effect.timeout("5 seconds"),
            TestServices.provideLive
          )
        assert.strictEqual((yield* refusal(b.protect(name, ok))).retryAfterMs, 400)
        assert.isTrue(Option.isNone(yield* Fiber.poll(probe)), "the probing call was cut at the probe timeout")
        yield* TestClock.adjust(400)
        assert.strictEqual(yield* b.protect(name, ok), "ok", "the next probe got the lock")
        assert.strictEqual(yield* a.state(name), "closed")
        // the first call's late answer reaches its caller and leaves the closed breaker alone
        yield* TestClock.adjust(10_000)
        assert.strictEqual(yield* Fiber.join(probe).pipe(Effect.timeout("5 seconds"), TestServices.provideLive), "late")
        assert.deepStrictEqual([yield* a.state(name), yield* b.state(name)], ["closed", "closed"])
        assert.strictEqual(yield* a.protect(name, ok), "ok")
      })
  )

  it.live(
    "Redis down: calls go through unguarded, state() reports closed, and one warning says so (not one per call)",
    () => {
      const logs = makeLogCapture()
      return Effect.gen(function* () {
        const breaker = yield* CircuitBreaker
        const { calls, down, ok } = yield* crm
        for (let i = 0; i < 5; i++) assert.strictEqual(yield* Effect.flip(breaker.protect("crm", down)), "down")
        assert.strictEqual(yield* breaker.protect("crm", ok), "ok")
        assert.strictEqual(yield* Ref.get(calls), 6)
        assert.strictEqual(yield* breaker.state("crm"), "closed")
        const warnings = logs.lines.filter((line) => line.includes("circuit breaker state unavailable in Redis"))
        assert.strictEqual(warnings.length, 1, logs.lines.join("\n"))
      }).pipe(
        Effect.provide(
          RedisBreaker.layerWith(options).pipe(
            Layer.provide(RedisClientLayer.layer({ url: unreachableRedisUrl, prefix: testPrefix() }))
          )
        ),
        Effect.provide(logs.layer)
      )
    }
  )
})
