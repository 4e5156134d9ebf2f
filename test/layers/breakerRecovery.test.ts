import { describe, expect, it } from "@effect/vitest"
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as TestClock from "effect/TestClock"
import * as TestServices from "effect/TestServices"
import * as MemoryBreaker from "../../layers/memory/CircuitBreaker.js"
import * as RedisBreaker from "../../layers/redis/CircuitBreaker.js"
import { CircuitBreaker, type CircuitOpen } from "../../services/CircuitBreaker.js"
import { makeLogCapture } from "../support/logCapture.js"
import { redisTestLayer, testPrefix } from "../support/redis.js"

// Both breakers with their default settings (first wait 5 s ±20%, doubling, cap 1 min; probes cut at 5 s).
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

    it.scoped("a half-open probe the CRM never answers is cut at the probe timeout, not the CRM's", () =>
      Effect.gen(function* () {
        const breaker = yield* CircuitBreaker
        for (let i = 0; i < 5; i++) yield* Effect.either(breaker.protect("crm", Effect.fail("503")))
        const first = yield* Effect.either(breaker.protect("crm", Effect.succeed("ok")))
        expect(isOpen(first)).toBe(true)
        if (!isOpen(first)) return
        yield* TestClock.adjust(first.left.retryAfterMs)

        const started = yield* Deferred.make<void>()
        const interrupted = yield* Ref.make(false)
        // a CRM call that hangs until CRM_TIMEOUT_MS (10 s)
        const hung = Deferred.succeed(started, undefined).pipe(
          Effect.zipRight(Effect.sleep("10 seconds")),
          Effect.zipRight(Effect.fail("timeout" as const)),
          Effect.onInterrupt(() => Ref.set(interrupted, true))
        )
        const probe = yield* Effect.fork(Effect.either(breaker.protect("crm", hung)))
        yield* Deferred.await(started)
        yield* TestClock.adjust("5 seconds")
        const answered = yield* Fiber.await(probe).pipe(
          Effect.timeout("5 seconds"),
          TestServices.provideLive,
          Effect.option
        )
        expect(Option.isSome(answered), "the probe was not answered at the probe timeout").toBe(true)
        const result = yield* Fiber.join(probe)
        expect(isOpen(result)).toBe(true)
        if (!isOpen(result)) return
        // reopened with the next, doubled wait (10 s, jittered)
        expect(result.left.retryAfterMs).toBeGreaterThanOrEqual(8_000)
        expect(result.left.retryAfterMs).toBeLessThanOrEqual(12_000)
        expect(yield* Ref.get(interrupted)).toBe(true)
        expect(yield* breaker.state("crm")).toBe("open")
      }).pipe(Effect.provide(layer()))
    )
  })
}
