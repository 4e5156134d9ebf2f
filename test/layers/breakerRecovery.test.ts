import { describe, expect, it } from "@effect/vitest"
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as Schedule from "effect/Schedule"
import * as TestClock from "effect/TestClock"
import * as TestServices from "effect/TestServices"
import * as MemoryBreaker from "../../layers/memory/CircuitBreaker.js"
import * as RedisBreaker from "../../layers/redis/CircuitBreaker.js"
import { CircuitBreaker, type CircuitOpen } from "../../services/CircuitBreaker.js"
import { makeLogCapture } from "../support/logCapture.js"
import { redisTestLayer, testPrefix } from "../support/redis.js"

// Both breakers with their default settings (first wait 5 s ±20%, doubling, cap 1 min; a probe decided at 5 s).
const breakers = [
  ["memory", () => MemoryBreaker.layer],
  ["redis", () => RedisBreaker.layer.pipe(Layer.provide(redisTestLayer(testPrefix())))]
] as const

const OUTAGE_MS = 5_000
/** The longest wait that can be in force when the outage ends: the second one, 10 s, jittered up by 20%. */
const ONE_INTERVAL_MS = 12_000

const isOpen = (result: Either.Either<unknown, unknown>): result is Either.Left<CircuitOpen, never> =>
  Either.isLeft(result) && (result.left as { _tag?: string })._tag === "CircuitOpen"

const breakerLines = (lines: ReadonlyArray<string>, message: string) =>
  lines.filter((line) => line.includes(`message="${message}"`))

for (const [backend, layer] of breakers) {
  describe(`${backend} CircuitBreaker recovery`, () => {
    it.scoped("a 5 s CRM outage: closed again by the outage plus one wait, one log line per state change", () => {
      const logs = makeLogCapture()
      return Effect.gen(function* () {
        const breaker = yield* CircuitBreaker
        const crmCalls = yield* Ref.make(0)
        // the CRM answers 503 during the outage and works afterwards; a consumer calls every 100 ms
        const crm = Effect.gen(function* () {
          yield* Ref.update(crmCalls, (n) => n + 1)
          const now = yield* Clock.currentTimeMillis
          return now < OUTAGE_MS ? yield* Effect.fail("503" as const) : "ok"
        })
        let opened = false
        let closedAt: number | undefined
        let refused = 0
        for (let t = 0; t <= 60_000 && closedAt === undefined; t += 100) {
          const result = yield* Effect.either(breaker.protect("crm", crm))
          if (isOpen(result)) refused++
          const state = yield* breaker.state("crm")
          if (state !== "closed") opened = true
          else if (opened) closedAt = t
          yield* TestClock.adjust(100)
        }
        expect(opened).toBe(true)
        expect(closedAt, "the breaker never closed").toBeDefined()
        expect(closedAt).toBeLessThanOrEqual(OUTAGE_MS + ONE_INTERVAL_MS)
        // while open the CRM was spared: the 5 failures that opened it and a probe or two
        expect(yield* Ref.get(crmCalls)).toBeLessThanOrEqual(5 + 3 + 1)

        const openedLines = breakerLines(logs.lines, "circuit breaker opened")
        const probes = breakerLines(logs.lines, "circuit breaker half-open: probing")
        expect(breakerLines(logs.lines, "circuit breaker closed")).toHaveLength(1)
        // each failed probe reopens it: one "opened" for the first opening and one per failed probe, none per refusal
        expect(openedLines.length).toBe(probes.length)
        expect(refused).toBeGreaterThan(openedLines.length * 10)
        expect(openedLines[0]).toContain("breaker=crm")
        expect(openedLines[0]).toMatch(/openForMs=\d+/)
        expect(openedLines[0]).toMatch(/reason=".*(consecutive|threshold).*"/)
      }).pipe(Effect.provide(Layer.merge(layer(), logs.layer)))
    })

    it.scoped("30 calls failing at once open it once: one log line, every call counted, then it refuses", () => {
      const logs = makeLogCapture()
      return Effect.gen(function* () {
        const breaker = yield* CircuitBreaker
        const gate = yield* Deferred.make<void>()
        const admitted = yield* Ref.make(0)
        // every call is let through while the breaker is closed, then all fail together, concurrently
        const call = Ref.update(admitted, (n) => n + 1).pipe(
          Effect.zipRight(Deferred.await(gate)),
          Effect.zipRight(Effect.fail("503" as const))
        )
        const calls = yield* Effect.fork(
          Effect.forEach(Array.from({ length: 30 }), () => Effect.either(breaker.protect("crm", call)), {
            concurrency: "unbounded"
          })
        )
        while ((yield* Ref.get(admitted)) < 30) yield* Effect.yieldNow()
        yield* Deferred.succeed(gate, undefined)
        const results = yield* Fiber.join(calls)
        expect(results.filter(isOpen)).toHaveLength(0)
        expect(results.every((result) => Either.isLeft(result) && result.left === "503")).toBe(true)
        expect(yield* breaker.state("crm")).toBe("open")
        expect(breakerLines(logs.lines, "circuit breaker opened")).toHaveLength(1)
        expect(isOpen(yield* Effect.either(breaker.protect("crm", Effect.succeed("ok"))))).toBe(true)
        expect(yield* Ref.get(admitted)).toBe(30)
      }).pipe(Effect.provide(Layer.merge(layer(), logs.layer)))
    })

    /** Open the breaker (5 failures), then wait out its first wait: the next call is the half-open probe. */
    const openAndWaitOut = (breaker: CircuitBreaker.Service) =>
      Effect.gen(function* () {
        for (let i = 0; i < 5; i++) yield* Effect.either(breaker.protect("crm", Effect.fail("503")))
        const first = yield* Effect.either(breaker.protect("crm", Effect.succeed("ok")))
        expect(isOpen(first)).toBe(true)
        if (isOpen(first)) yield* TestClock.adjust(first.left.retryAfterMs)
      })

    /**
     * A probe that has not answered by the probe timeout: the breaker decides at once (open again) but the call runs
     * on. Waits (on the real clock) until the breaker has reopened, then returns how long it refuses a concurrent call.
     */
    const reopenedAtDeadline = (breaker: CircuitBreaker.Service) =>
      Effect.gen(function* () {
        yield* TestClock.adjust("5 seconds")
        // the deadline's decision (a Redis round trip for the shared breaker) lands soon after the clock moved
        yield* breaker
          .state("crm")
          .pipe(
            Effect.repeat({ until: (state) => state === "open", schedule: Schedule.spaced("5 millis") }),
            Effect.timeout("5 seconds"),
            TestServices.provideLive
          )
        const concurrent = yield* Effect.either(breaker.protect("crm", Effect.succeed("ok")))
        expect(isOpen(concurrent), "a concurrent call after the probe timeout was let through").toBe(true)
        return isOpen(concurrent) ? concurrent.left.retryAfterMs : 0
      })

    /** A half-open probe whose call gives `answer` after `after`: forked, returned once the call has started. */
    const probeAnswering = <A, E>(
      breaker: CircuitBreaker.Service,
      after: Duration.DurationInput,
      answer: Effect.Effect<A, E>,
      isFailure?: (error: E) => boolean
    ) =>
      Effect.gen(function* () {
        const started = yield* Deferred.make<void>()
        const call = Deferred.succeed(started, undefined).pipe(
          Effect.zipRight(Effect.sleep(after)),
          Effect.zipRight(answer)
        )
        const probe = yield* Effect.fork(Effect.either(breaker.protect("crm", call, isFailure)))
        yield* Deferred.await(started)
        return probe
      })

    /** Join a fiber on the real clock: a probe that does not end promptly fails the test instead of hanging it. */
    const joinLive = <A, E>(fiber: Fiber.Fiber<A, E>) =>
      Fiber.join(fiber).pipe(Effect.timeout("5 seconds"), TestServices.provideLive)

    it.scoped(
      "a half-open probe the CRM never answers: the breaker decides at the probe timeout, the call runs on",
      () => {
        const logs = makeLogCapture()
        return Effect.gen(function* () {
          const breaker = yield* CircuitBreaker
          yield* openAndWaitOut(breaker)

          const started = yield* Deferred.make<void>()
          const interrupted = yield* Ref.make(false)
          // a CRM call that hangs until CRM_TIMEOUT_MS (10 s), then fails with the CRM client's own timeout
          const hung = Deferred.succeed(started, undefined).pipe(
            Effect.zipRight(Effect.sleep("10 seconds")),
            Effect.zipRight(Effect.fail("timeout" as const)),
            Effect.onInterrupt(() => Ref.set(interrupted, true))
          )
          const probe = yield* Effect.fork(Effect.either(breaker.protect("crm", hung)))
          yield* Deferred.await(started)

          // at the probe timeout the breaker is open again, with the next, doubled wait (10 s, jittered)...
          const retryAfterMs = yield* reopenedAtDeadline(breaker)
          expect(retryAfterMs).toBeGreaterThanOrEqual(8_000)
          expect(retryAfterMs).toBeLessThanOrEqual(12_000)
          // ...while the probing call was not cut: it is still running
          expect(yield* Ref.get(interrupted), "the probing call was interrupted").toBe(false)
          expect(Option.isNone(yield* Fiber.poll(probe)), "the probing call ended at the probe timeout").toBe(true)

          // at the CRM's own deadline its caller gets the call's own outcome, not CircuitOpen
          yield* TestClock.adjust("5 seconds")
          const result = yield* joinLive(probe)
          expect(result).toEqual(Either.left("timeout"))
          expect(yield* Ref.get(interrupted)).toBe(false)
          // the late end changed nothing: still open, until the same moment as before
          expect(yield* breaker.state("crm")).toBe("open")
          const after = yield* Effect.either(breaker.protect("crm", Effect.succeed("ok")))
          expect(isOpen(after)).toBe(true)
          if (isOpen(after)) expect(after.left.retryAfterMs).toBe(retryAfterMs - 5_000)
          // one line for the reopening at the deadline, none for the call's late end
          const reopened = breakerLines(logs.lines, "circuit breaker opened").slice(1)
          expect(reopened).toHaveLength(1)
          expect(reopened[0]).toContain('reason="the half-open probe got no answer within 5000 ms"')
        }).pipe(Effect.provide(Layer.merge(layer(), logs.layer)))
      }
    )

    it.scoped(
      "a probe that answers after the probe timeout: its caller gets its success, and the success closes",
      () => {
        const logs = makeLogCapture()
        return Effect.gen(function* () {
          const breaker = yield* CircuitBreaker
          yield* openAndWaitOut(breaker)

          // the CRM has recovered but answers slowly: after 7 s, within CRM_TIMEOUT_MS but past the probe timeout
          const probe = yield* probeAnswering(breaker, "7 seconds", Effect.succeed("crm-id-1"))

          const retryAfterMs = yield* reopenedAtDeadline(breaker)
          expect(retryAfterMs).toBeGreaterThanOrEqual(8_000)
          expect(retryAfterMs).toBeLessThanOrEqual(12_000)

          yield* TestClock.adjust("2 seconds")
          expect(yield* joinLive(probe)).toEqual(Either.right("crm-id-1"))
          // it reopened at the deadline, and the late success closed it: the CRM answers, only slower than the probe
          // timeout; left open, a CRM this slow would get one call through per wait for good
          expect(yield* breaker.state("crm")).toBe("closed")
          expect(yield* breaker.protect("crm", Effect.succeed("ok"))).toBe("ok")
          const closedLines = breakerLines(logs.lines, "circuit breaker closed")
          expect(closedLines).toHaveLength(1)
          expect(closedLines[0]).toContain('reason="a half-open probe answered after the probe timeout"')
        }).pipe(Effect.provide(Layer.merge(layer(), logs.layer)))
      }
    )

    it.scoped("a late success older than the breaker's news (another probe failed since) leaves it open", () =>
      Effect.gen(function* () {
        const breaker = yield* CircuitBreaker
        yield* openAndWaitOut(breaker)
        // the first probe's call is answered only when the test says: long past its deadline and the next wait
        const answer = yield* Deferred.make<void>()
        const first = yield* probeAnswering(breaker, 0, Effect.as(Deferred.await(answer), "crm-id-1"))
        const retryAfterMs = yield* reopenedAtDeadline(breaker)
        // the next probe, after that wait, finds the CRM failing now: open again, with a longer wait
        yield* TestClock.adjust(retryAfterMs)
        expect(yield* Effect.either(breaker.protect("crm", Effect.fail("503" as const)))).toEqual(Either.left("503"))
        expect(yield* breaker.state("crm")).toBe("open")
        // the first call's success comes in: older news than the failed probe, so the breaker stays open, in the
        // failed probe's (longer) wait
        yield* Deferred.succeed(answer, undefined)
        expect(yield* joinLive(first)).toEqual(Either.right("crm-id-1"))
        expect(yield* breaker.state("crm")).toBe("open")
        const refused = yield* Effect.either(breaker.protect("crm", Effect.succeed("ok")))
        expect(isOpen(refused)).toBe(true)
        if (isOpen(refused)) expect(refused.left.retryAfterMs).toBeGreaterThan(retryAfterMs)
      }).pipe(Effect.provide(layer()))
    )

    it.scoped("a late answer the caller does not count as a failure (a throttle: the service answered) closes it", () =>
      Effect.gen(function* () {
        const breaker = yield* CircuitBreaker
        yield* openAndWaitOut(breaker)
        // Bedrock answering a slow probe "throttled" (its own wait, counted as no failure) after the probe timeout
        const probe = yield* probeAnswering(
          breaker,
          "7 seconds",
          Effect.fail("throttled" as const),
          (error) => error !== "throttled"
        )
        yield* reopenedAtDeadline(breaker)
        yield* TestClock.adjust("2 seconds")
        expect(yield* joinLive(probe)).toEqual(Either.left("throttled"))
        expect(yield* breaker.state("crm")).toBe("closed")
      }).pipe(Effect.provide(layer()))
    )

    it.scoped("a probe that answers after the probe timeout with a failure leaves the reopened breaker as it is", () =>
      Effect.gen(function* () {
        const breaker = yield* CircuitBreaker
        yield* openAndWaitOut(breaker)
        const probe = yield* probeAnswering(breaker, "7 seconds", Effect.fail("503" as const))
        const retryAfterMs = yield* reopenedAtDeadline(breaker)
        yield* TestClock.adjust("2 seconds")
        expect(yield* joinLive(probe)).toEqual(Either.left("503"))
        expect(yield* breaker.state("crm")).toBe("open")
        const after = yield* Effect.either(breaker.protect("crm", Effect.succeed("ok")))
        expect(isOpen(after)).toBe(true)
        if (isOpen(after)) expect(after.left.retryAfterMs).toBe(retryAfterMs - 2_000)
      }).pipe(Effect.provide(layer()))
    )
  })
}
