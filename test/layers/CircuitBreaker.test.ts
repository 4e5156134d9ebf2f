import { describe, expect, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as Schedule from "effect/Schedule"
import * as TestClock from "effect/TestClock"
import * as TestServices from "effect/TestServices"
import * as Layer from "effect/Layer"
import * as MemoryBreaker from "../../layers/memory/CircuitBreaker.js"
import * as RedisBreaker from "../../layers/redis/CircuitBreaker.js"
import { CircuitBreaker, type CircuitOpen } from "../../services/CircuitBreaker.js"
import { redisTestLayer, testPrefix } from "../support/redis.js"

/** Schedule.jittered scales each delay by a factor in [0.8, 1.2]. */
const jitterRange = (ms: number) => [ms * 0.8, ms * 1.2] as const

/**
 * One suite, both breakers: what a single process sees of a breaker (opening, probing, reopening, what counts) is the
 * same whether its state lives in memory or in Redis (a key prefix of its own per test). What only replicas sharing
 * the Redis state can show is in test/layers/redis/CircuitBreaker.test.ts.
 */
const breakers = [
  ["memory", () => MemoryBreaker.layer],
  ["redis", () => RedisBreaker.layer.pipe(Layer.provide(redisTestLayer(testPrefix())))]
] as const

/** A breaker call that fails (counted) or succeeds, and how many times the protected effect really ran. */
const harness = (name: string) =>
  Effect.gen(function* () {
    const breaker = yield* CircuitBreaker
    const ran = yield* Ref.make(0)
    const call = (outcome: "ok" | "fail") =>
      Effect.either(
        breaker.protect(
          name,
          Ref.update(ran, (n) => n + 1).pipe(
            Effect.zipRight(outcome === "ok" ? Effect.succeed("ok") : Effect.fail("boom"))
          )
        )
      )
    const calls = (outcomes: ReadonlyArray<"ok" | "fail">) => Effect.forEach(outcomes, call)
    const state = breaker.state(name)
    /** The CircuitOpen a call gets now (fails the test when the call was let through). */
    const rejected = Effect.flatMap(call("ok"), (result) => {
      const error = Either.isLeft(result) ? result.left : undefined
      return typeof error === "object" && error._tag === "CircuitOpen"
        ? Effect.succeed(error as CircuitOpen)
        : Effect.dieMessage(`expected CircuitOpen, got ${JSON.stringify(result)}`)
    })
    /**
     * Five failures open the breaker, its wait passes, and a half-open probe running `then` is forked: returned once
     * the probing call has started.
     */
    const probing = <A, E>(then: Effect.Effect<A, E>) =>
      Effect.gen(function* () {
        yield* calls(times(5, "fail"))
        yield* TestClock.adjust((yield* rejected).retryAfterMs)
        const started = yield* Deferred.make<void>()
        const probe = yield* Effect.fork(
          breaker.protect(name, Effect.zipRight(Deferred.succeed(started, undefined), then))
        )
        yield* Deferred.await(started)
        return probe
      })
    return { breaker, ran: Ref.get(ran), call, calls, state, rejected, probing }
  })

const times = <A>(n: number, a: A): ReadonlyArray<A> => Array.from({ length: n }, () => a)

for (const [backend, layer] of breakers) {
  const withBreaker = <A, E>(effect: Effect.Effect<A, E, CircuitBreaker>) => Effect.provide(effect, layer())

  describe(`CircuitBreaker contract (${backend})`, () => {
    it.effect("opens after 5 consecutive failures, not after 4", () =>
      withBreaker(
        Effect.gen(function* () {
          const b = yield* harness("crm")
          expect(yield* b.state).toBe("closed")
          yield* b.calls([...times(4, "fail" as const), "ok", ...times(4, "fail" as const)])
          expect(yield* b.state).toBe("closed")
          yield* b.call("fail")
          expect(yield* b.state).toBe("open")
          expect(yield* b.ran).toBe(10)
          const open = yield* b.rejected
          expect(open.name).toBe("crm")
          // rejected calls never reach the protected effect
          expect(yield* b.ran).toBe(10)
        })
      )
    )

    it.effect("opens at >=50% failures over >=10 calls within 10 s, and not with 9 calls", () =>
      withBreaker(
        Effect.gen(function* () {
          const b = yield* harness("crm")
          const alternating = ["fail", "ok", "fail", "ok", "fail", "ok", "fail", "ok", "fail"] as const
          for (const outcome of alternating) {
            yield* b.call(outcome)
            yield* TestClock.adjust("1 second")
          }
          // 5 of 9 failed (56%), but fewer than 10 calls
          expect(yield* b.state).toBe("closed")
          yield* b.call("ok")
          // 5 of 10 = 50% within 9 s: open, although the last call succeeded
          expect(yield* b.state).toBe("open")
        })
      )
    )

    it.effect("stays closed below 50% failures", () =>
      withBreaker(
        Effect.gen(function* () {
          const b = yield* harness("crm")
          yield* b.calls(["fail", "ok", "fail", "ok", "fail", "ok", "fail", "ok", "ok", "ok"])
          expect(yield* b.state).toBe("closed")
        })
      )
    )

    it.effect("failures older than the window do not count", () =>
      withBreaker(
        Effect.gen(function* () {
          const pattern = [...times(4, "fail" as const), "ok" as const, ...times(4, "fail" as const)]
          // control: the same calls inside one window open the breaker on the 10th call (8 of 10 failed)
          const control = yield* harness("control")
          yield* control.calls(pattern)
          expect(yield* control.state).toBe("closed")
          yield* control.call("ok")
          expect(yield* control.state).toBe("open")

          const b = yield* harness("crm")
          yield* b.calls(pattern)
          yield* TestClock.adjust("10 seconds")
          yield* b.call("ok")
          expect(yield* b.state).toBe("closed")
          yield* b.calls(times(4, "fail"))
          expect(yield* b.state).toBe("closed")
        })
      )
    )

    it.effect("open: CircuitOpen with retryAfterMs; the first probe comes after ~5 s (within the jitter)", () =>
      withBreaker(
        Effect.gen(function* () {
          const b = yield* harness("crm")
          yield* b.calls(times(5, "fail"))
          const first = yield* b.rejected
          const [low, high] = jitterRange(5_000)
          expect(first.retryAfterMs).toBeGreaterThanOrEqual(low)
          expect(first.retryAfterMs).toBeLessThanOrEqual(high)
          yield* TestClock.adjust(first.retryAfterMs - 1_000)
          const later = yield* b.rejected
          expect(later.retryAfterMs).toBe(1_000)
          yield* TestClock.adjust(999)
          expect((yield* b.rejected).retryAfterMs).toBe(1)
          yield* TestClock.adjust(1)
          expect(yield* b.call("ok")).toEqual(Either.right("ok"))
          expect(yield* b.state).toBe("closed")
        })
      )
    )

    it.effect("one probe at a time: a concurrent call while the probe runs gets CircuitOpen; success closes", () =>
      withBreaker(
        Effect.gen(function* () {
          const b = yield* harness("crm")
          const release = yield* Deferred.make<void>()
          const probe = yield* b.probing(Deferred.await(release))
          expect(yield* b.state).toBe("half-open")
          const concurrent = yield* b.rejected
          expect(concurrent.retryAfterMs).toBeGreaterThan(0)
          const ranBefore = yield* b.ran
          yield* Deferred.succeed(release, undefined)
          yield* Fiber.join(probe)
          expect(yield* b.state).toBe("closed")
          expect(yield* b.calls(["ok", "ok"])).toEqual([Either.right("ok"), Either.right("ok")])
          expect(yield* b.ran).toBe(ranBefore + 2)
          // closed again means fresh counting: 4 failures do not reopen it
          yield* b.calls(times(4, "fail"))
          expect(yield* b.state).toBe("closed")
        })
      )
    )

    it.effect("a failed probe reopens with exponentially longer delays, capped at 1 minute", () =>
      withBreaker(
        Effect.gen(function* () {
          const b = yield* harness("crm")
          yield* b.calls(times(5, "fail"))
          const delays: Array<number> = []
          for (let opening = 0; opening < 7; opening++) {
            const open = yield* b.rejected
            expect(yield* b.state).toBe("open")
            delays.push(open.retryAfterMs)
            yield* TestClock.adjust(open.retryAfterMs)
            expect(Either.isLeft(yield* b.call("fail"))).toBe(true)
          }
          // 5 s, 10 s, 20 s, 40 s (each jittered), then min(80 s..., 1 min) = 1 min from then on
          ;[5_000, 10_000, 20_000, 40_000].forEach((base, i) => {
            const [low, high] = jitterRange(base)
            expect(delays[i], `opening ${i + 1}: ${delays}`).toBeGreaterThanOrEqual(low)
            expect(delays[i], `opening ${i + 1}: ${delays}`).toBeLessThanOrEqual(high)
          })
          expect(delays.slice(4)).toEqual([60_000, 60_000, 60_000])

          // a successful probe closes it and resets the schedule: the next opening waits ~5 s again
          yield* TestClock.adjust(60_000)
          yield* b.call("ok")
          expect(yield* b.state).toBe("closed")
          yield* b.calls(times(5, "fail"))
          const [low, high] = jitterRange(5_000)
          const again = (yield* b.rejected).retryAfterMs
          expect(again).toBeGreaterThanOrEqual(low)
          expect(again).toBeLessThanOrEqual(high)
        })
      )
    )

    it.effect("errors excluded by isFailure pass through uncounted", () =>
      withBreaker(
        Effect.gen(function* () {
          const breaker = yield* CircuitBreaker
          const validation = (n: number) =>
            breaker.protect(
              "crm",
              Effect.fail({ kind: "validation" as const, n }),
              (error) => error.kind !== "validation"
            )
          for (let i = 0; i < 12; i++)
            expect(yield* Effect.either(validation(i))).toEqual(Either.left({ kind: "validation", n: i }))
          expect(yield* breaker.state("crm")).toBe("closed")
        })
      )
    )

    it.effect("defects count as failures; breakers are independent per name", () =>
      withBreaker(
        Effect.gen(function* () {
          const breaker = yield* CircuitBreaker
          for (let i = 0; i < 5; i++) yield* Effect.exit(breaker.protect("salesforce", Effect.dieMessage("socket")))
          expect(yield* breaker.state("salesforce")).toBe("open")
          expect(yield* breaker.state("hubspot")).toBe("closed")
          expect(yield* breaker.protect("hubspot", Effect.succeed(1))).toBe(1)
        })
      )
    )

    it.effect("an interrupted probe proves nothing: the next call probes again", () =>
      withBreaker(
        Effect.gen(function* () {
          const b = yield* harness("crm")
          const probe = yield* b.probing(Effect.never)
          yield* Fiber.interrupt(probe)
          expect(yield* b.call("ok")).toEqual(Either.right("ok"))
          expect(yield* b.state).toBe("closed")
        })
      )
    )

    it.effect(
      "a probe its caller interrupts after the probe timeout: the call is interrupted, the breaker stays open",
      () =>
        withBreaker(
          Effect.gen(function* () {
            const b = yield* harness("crm")
            const interrupted = yield* Deferred.make<void>()
            const probe = yield* b.probing(
              Effect.onInterrupt(Effect.never, () => Deferred.succeed(interrupted, undefined))
            )
            // the probe timeout passes: the breaker decides (open again), the call runs on
            yield* TestClock.adjust("5 seconds")
            yield* b.state.pipe(
              Effect.repeat({ until: (state) => state === "open", schedule: Schedule.spaced("5 millis") }),
              Effect.timeout("5 seconds"),
              TestServices.provideLive
            )
            expect(Option.isNone(yield* Fiber.poll(probe)), "the probing call was cut at the probe timeout").toBe(true)
            const { retryAfterMs } = yield* b.rejected
            // its caller (a shutdown, say) can still interrupt it, and that changes nothing for the breaker
            yield* Fiber.interrupt(probe)
            expect(yield* Deferred.isDone(interrupted)).toBe(true)
            expect(yield* b.state).toBe("open")
            expect((yield* b.rejected).retryAfterMs).toBe(retryAfterMs)
            expect(yield* b.ran).toBe(5)
          })
        )
    )

    it.effect(
      "a probe that answers before the probe timeout settles then; the deadline passing later changes nothing",
      () =>
        withBreaker(
          Effect.gen(function* () {
            const b = yield* harness("crm")
            yield* b.calls(times(5, "fail"))
            yield* TestClock.adjust((yield* b.rejected).retryAfterMs)
            expect(yield* b.call("ok")).toEqual(Either.right("ok"))
            expect(yield* b.state).toBe("closed")
            yield* TestClock.adjust("10 seconds")
            yield* TestServices.provideLive(Effect.sleep("50 millis"))
            expect(yield* b.state).toBe("closed")
            expect(yield* b.call("ok")).toEqual(Either.right("ok"))
          })
        )
    )
  })
}
