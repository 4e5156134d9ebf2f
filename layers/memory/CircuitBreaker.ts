import type * as ConfigError from "effect/ConfigError"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as ScheduleIntervals from "effect/ScheduleIntervals"
import { type BreakerState, CircuitBreaker, CircuitOpen } from "../../services/CircuitBreaker.js"
import { type BreakerOptions, config, defaultOptions } from "../shared/breaker.js"
import { logClosed, logOpened, logProbing } from "../shared/breaker.js"
import { countedFailure, runProbe } from "../shared/breaker.js"
import { checkedOr } from "../shared/config.js"

export { type BreakerOptions, defaultOptions } from "../shared/breaker.js"

interface Breaker {
  readonly state: BreakerState
  readonly consecutive: number
  /** Outcomes in the rolling window, counted per tenth of the window (constant work per call at any rate). */
  readonly buckets: ReadonlyArray<Bucket>
  readonly nextProbeAt: number
  readonly probing: boolean
  /** The probe schedule's state: reset when the breaker closes, stepped each time it opens. */
  readonly scheduleState: unknown
  /** When this run of openings began (0 while closed), to log how long calls were refused. */
  readonly openedAt: number
}

interface Bucket {
  /** floor(time / bucket length) */
  readonly slot: number
  readonly calls: number
  readonly failures: number
}

/** The window is counted in this many buckets: the ratio rule sees calls at most a tenth of a window too old. */
const BUCKETS = 10

/** Add an outcome to the buckets and drop the ones that left the window. */
const count = (buckets: ReadonlyArray<Bucket>, now: number, windowMs: number, failed: boolean) => {
  const size = Math.max(1, Math.floor(windowMs / BUCKETS))
  const slot = Math.floor(now / size)
  const kept = buckets.filter((bucket) => bucket.slot > slot - BUCKETS)
  const last = kept[kept.length - 1]
  if (last?.slot === slot) {
    return [...kept.slice(0, -1), { slot, calls: last.calls + 1, failures: last.failures + (failed ? 1 : 0) }]
  }
  return [...kept, { slot, calls: 1, failures: failed ? 1 : 0 }]
}

interface Admission {
  readonly admitted: boolean
  readonly probe: boolean
  readonly retryAfterMs: number
}

const closed = (options: BreakerOptions): Breaker => ({
  state: "closed",
  consecutive: 0,
  buckets: [],
  nextProbeAt: 0,
  probing: false,
  scheduleState: options.probeSchedule.initial,
  openedAt: 0
})

/** Steps the probe schedule once to learn how long to stay open. */
const open = (options: BreakerOptions, breaker: Breaker, now: number) =>
  Effect.map(options.probeSchedule.step(now, undefined, breaker.scheduleState), ([scheduleState, , decision]) => {
    const start = decision._tag === "Done" ? now + 300_000 : ScheduleIntervals.start(decision.intervals)
    return {
      ...breaker,
      state: "open",
      probing: false,
      consecutive: 0,
      buckets: [],
      nextProbeAt: Math.max(start, now + 1),
      scheduleState,
      openedAt: breaker.openedAt === 0 ? now : breaker.openedAt
    } satisfies Breaker
  })

/** Why a breaker opened, for its log line. */
const openReason = (probe: boolean, timedOut: boolean, consecutive: number, options: BreakerOptions) =>
  probe
    ? timedOut
      ? `the half-open probe got no answer within ${options.probeTimeoutMs} ms`
      : "the half-open probe failed"
    : consecutive >= options.consecutiveFailures
      ? `${consecutive} consecutive failures`
      : `failure ratio of at least ${options.failureRatio} over ${options.minimumCalls}+ calls`

/**
 * Builds the in-process breaker: one state machine per name, shared by every fiber of this process.
 *
 * A change that needs no effect (the everyday call through a closed breaker, a failure that does not trip it, a
 * refusal, the probe taken) is made at once: JavaScript runs it to its end before any other fiber. A change that
 * steps the probe schedule or logs (opening, closing) runs under a lock, and while one is held or awaited every other
 * change waits for the lock too, so none is lost to a write made from older state.
 */
export const make = (options: BreakerOptions = defaultOptions) =>
  Effect.gen(function* () {
    const breakers = new Map<string, Breaker>()
    const lock = yield* Effect.makeSemaphore(1)
    /** Fibers holding or awaiting the lock: while any, no change is made outside it. */
    let locking = 0

    const get = (name: string) => breakers.get(name) ?? closed(options)

    /** Run a change under the lock. */
    const exclusive = <A>(change: (now: number) => Effect.Effect<A>): Effect.Effect<A> =>
      Effect.acquireUseRelease(
        Effect.sync(() => locking++),
        () => lock.withPermits(1)(Effect.clockWith((clock) => change(clock.unsafeCurrentTimeMillis()))),
        () => Effect.sync(() => locking--)
      )

    /** Decide whether a call may run now; marks the half-open probe as taken. */
    const admitAt = (name: string, now: number): Admission => {
      const breaker = get(name)
      if (breaker.state === "closed") return { admitted: true, probe: false, retryAfterMs: 0 }
      if (breaker.probing || now < breaker.nextProbeAt) {
        const retryAfterMs = breaker.probing ? 1_000 : breaker.nextProbeAt - now
        return { admitted: false, probe: false, retryAfterMs }
      }
      breakers.set(name, { ...breaker, state: "half-open", probing: true })
      return { admitted: true, probe: true, retryAfterMs: 0 }
    }
    const admit = (name: string): Effect.Effect<Admission> =>
      Effect.clockWith((clock) =>
        locking === 0
          ? Effect.succeed(admitAt(name, clock.unsafeCurrentTimeMillis()))
          : exclusive((now) => Effect.succeed(admitAt(name, now)))
      )

    /**
     * The state after an outcome when reaching it needs no effect (neither the probe schedule nor a log line), else
     * undefined. `failed` undefined: the call was interrupted and proves nothing.
     */
    const settledAt = (breaker: Breaker, now: number, probe: boolean, failed: boolean | undefined) => {
      if (failed === undefined) return probe ? { ...breaker, probing: false } : breaker
      if (probe) return undefined
      if (breaker.state !== "closed") return breaker
      const buckets = count(breaker.buckets, now, options.windowMs, failed)
      const consecutive = failed ? breaker.consecutive + 1 : 0
      let calls = 0
      let failures = 0
      for (const bucket of buckets) {
        calls += bucket.calls
        failures += bucket.failures
      }
      const trips =
        consecutive >= options.consecutiveFailures ||
        (calls >= options.minimumCalls && failures / calls >= options.failureRatio)
      return trips ? undefined : { ...breaker, buckets, consecutive }
    }

    /** Opening or closing: steps the probe schedule, logs the change. Runs under the lock. */
    const transition = (name: string, now: number, probe: boolean, failed: boolean, timedOut: boolean) =>
      Effect.gen(function* () {
        const breaker = get(name)
        const next =
          settledAt(breaker, now, probe, failed) ??
          (probe && !failed ? closed(options) : yield* open(options, breaker, now))
        const consecutive = failed ? breaker.consecutive + 1 : 0
        breakers.set(name, next)
        if (next.state === "open" && next.nextProbeAt !== breaker.nextProbeAt) {
          yield* logOpened(name, openReason(probe, timedOut, consecutive, options), next.nextProbeAt - now)
        } else if (probe && !failed) {
          yield* logClosed(name, breaker.openedAt === 0 ? undefined : now - breaker.openedAt)
        }
        return next.state === "open" ? next.nextProbeAt - now : 0
      })

    /** Make an effect-free change now; undefined when it needs the probe schedule or a log line. */
    const settleNow = (name: string, now: number, probe: boolean, failed: boolean | undefined) => {
      const next = settledAt(get(name), now, probe, failed)
      if (next === undefined) return undefined
      breakers.set(name, next)
      return next.state === "open" ? next.nextProbeAt - now : 0
    }

    /** Record an outcome, and return how long the breaker now stays open (0 when it is not open). */
    const settle = (name: string, probe: boolean, failed: boolean | undefined, timedOut = false) =>
      Effect.clockWith((clock): Effect.Effect<number> => {
        const openForMs = locking === 0 ? settleNow(name, clock.unsafeCurrentTimeMillis(), probe, failed) : undefined
        if (openForMs !== undefined) return Effect.succeed(openForMs)
        return exclusive((now) =>
          failed === undefined
            ? Effect.sync(() => settleNow(name, now, probe, failed) ?? 0)
            : transition(name, now, probe, failed, timedOut)
        )
      })

    /**
     * A probe's call succeeded after its deadline reopened the breaker: the CRM answers, so close it, if the breaker
     * is still in that opening (`reopened`: the state the deadline left; any change since makes a new one).
     */
    const closeLate = (name: string, reopened: Breaker) =>
      exclusive((now) => {
        const breaker = get(name)
        if (breaker !== reopened || breaker.state !== "open") return Effect.void
        breakers.set(name, closed(options))
        return logClosed(name, breaker.openedAt === 0 ? undefined : now - breaker.openedAt, true)
      })

    /**
     * Any call: admitted or refused, its outcome counted. A probe is decided at the probe deadline if it has not
     * ended by then, but never cut: its caller gets the call's own outcome (see runProbe).
     */
    const guarded = <A, E, R>(
      name: string,
      effect: Effect.Effect<A, E, R>,
      isFailure: (error: E) => boolean
    ): Effect.Effect<A, E | CircuitOpen, R> =>
      Effect.uninterruptibleMask((restore) =>
        Effect.gen(function* () {
          const { admitted, probe, retryAfterMs } = yield* admit(name)
          if (!admitted) return yield* new CircuitOpen({ name, retryAfterMs: Math.ceil(retryAfterMs) })
          if (!probe) {
            const exit = yield* Effect.exit(restore(effect))
            yield* settle(name, false, countedFailure(exit, isFailure))
            return yield* exit
          }
          yield* logProbing(name)
          return yield* runProbe(restore(effect), {
            probeTimeoutMs: options.probeTimeoutMs,
            isFailure,
            settle: (failed, timedOut) => Effect.map(settle(name, true, failed, timedOut), () => get(name)),
            settleLate: (reopened) => closeLate(name, reopened)
          })
        })
      )

    const protect = <A, E, R>(
      name: string,
      effect: Effect.Effect<A, E, R>,
      isFailure: (error: E) => boolean = () => true
    ): Effect.Effect<A, E | CircuitOpen, R> =>
      Effect.suspend(() =>
        // The everyday call: a closed breaker admits it without taking anything; its outcome is counted when it ends.
        locking === 0 && get(name).state === "closed"
          ? Effect.onExit(effect, (exit) => {
              const failed = countedFailure(exit, isFailure)
              return failed === undefined ? Effect.void : settle(name, false, failed)
            })
          : guarded(name, effect, isFailure)
      )

    const state = (name: string) => Effect.sync(() => get(name).state)

    return CircuitBreaker.of({ protect, state })
  })

/** In-process breaker with the default thresholds and probe schedule. */
export const layer = Layer.effect(CircuitBreaker, make())

/** In-process breaker with custom thresholds / schedule (tests, tuning). */
export const layerWith = (options: Partial<BreakerOptions>) =>
  Layer.effect(CircuitBreaker, make({ ...defaultOptions, ...options }))

/** In-process breaker configured from the CIRCUIT_BREAKER_* variables (see ../shared/breaker.ts). */
export const layerConfig: Layer.Layer<CircuitBreaker, ConfigError.ConfigError> = Layer.effect(
  CircuitBreaker,
  Effect.flatMap(checkedOr(config), make)
)
