import * as Cause from "effect/Cause"
import * as Config from "effect/Config"
import * as ConfigError from "effect/ConfigError"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import { positiveInt } from "./config.js"

// The core both circuit breakers (memory and Redis) share: options and their settings, how an outcome counts,
// the half-open probe with the breaker's own deadline for it, and one Info line per state change.

/** When a breaker opens and how it probes again (the memory and Redis breakers share these). */
export interface BreakerOptions {
  /** Open after this many consecutive counted failures. */
  readonly consecutiveFailures: number
  /** ...or when at least `minimumCalls` calls within `windowMs` failed at `failureRatio` or more. */
  readonly failureRatio: number
  readonly minimumCalls: number
  readonly windowMs: number
  /** Delays before each half-open probe: step n gives the wait after the n-th consecutive opening. */
  readonly probeSchedule: Schedule.Schedule<unknown>
  /**
   * The breaker decides at this deadline; the probing call runs on to its own. A half-open probe with no answer by
   * then counts as failed and the breaker reopens with its next wait (a hung CRM would otherwise hold each probe for
   * the whole CRM timeout on top of every wait), but the call is never cut: it was sent and may land at the CRM, so
   * it runs on to its own end (the CRM client's own deadline) and its caller gets its real outcome. When that late
   * outcome is a success, the CRM answers again, only slowly, and it closes the breaker: a CRM slower than this
   * deadline but within its own would otherwise keep the breaker open for good, one lead's call per wait.
   */
  readonly probeTimeoutMs: number
}

/**
 * Waits before each probe: `openMs` after the first opening, doubling (jittered ±20%) while probes keep failing,
 * never more than `maxOpenMs`. A short first wait makes recovery after a short outage take about the outage
 * plus one wait; the doubling keeps a long outage from being probed too often.
 */
export const probeSchedule = (openMs: number, maxOpenMs: number): Schedule.Schedule<unknown> =>
  Schedule.exponential(openMs).pipe(Schedule.jittered, Schedule.union(Schedule.spaced(maxOpenMs)))

/**
 * First probe after 5 s, doubling, jittered, capped at 1 min; 5 consecutive failures open; the breaker decides a
 * probe after 5 s (the probing call itself runs on to the CRM client's own deadline).
 */
export const defaultOptions: BreakerOptions = {
  consecutiveFailures: 5,
  failureRatio: 0.5,
  minimumCalls: 10,
  windowMs: 10_000,
  probeSchedule: probeSchedule(5_000, 60_000),
  probeTimeoutMs: 5_000
}

/**
 * CIRCUIT_BREAKER_FAILURE_THRESHOLD, CIRCUIT_BREAKER_OPEN_MS, CIRCUIT_BREAKER_MAX_OPEN_MS,
 * CIRCUIT_BREAKER_PROBE_TIMEOUT_MS: the settings of either breaker.
 */
export const config: Config.Config<BreakerOptions> = Config.all({
  consecutiveFailures: positiveInt("CIRCUIT_BREAKER_FAILURE_THRESHOLD", defaultOptions.consecutiveFailures),
  openMs: positiveInt("CIRCUIT_BREAKER_OPEN_MS", 5_000),
  maxOpenMs: positiveInt("CIRCUIT_BREAKER_MAX_OPEN_MS", 60_000),
  probeTimeoutMs: positiveInt("CIRCUIT_BREAKER_PROBE_TIMEOUT_MS", defaultOptions.probeTimeoutMs)
}).pipe(
  // named by its key, as every other finding of the start-up check (a whole-config validation is "(root)")
  Config.mapOrFail((options) =>
    options.maxOpenMs >= options.openMs
      ? Either.right(options)
      : Either.left(
          ConfigError.InvalidData(["CIRCUIT_BREAKER_MAX_OPEN_MS"], "must be at least CIRCUIT_BREAKER_OPEN_MS")
        )
  ),
  Config.map(
    ({ consecutiveFailures, openMs, maxOpenMs, probeTimeoutMs }): BreakerOptions => ({
      ...defaultOptions,
      consecutiveFailures,
      probeSchedule: probeSchedule(openMs, maxOpenMs),
      probeTimeoutMs
    })
  )
)

// How a protected call's outcome counts, shared by the memory and Redis breakers.

/**
 * How a call's outcome counts: false for a success, true for a counted failure (typed errors by `isFailure`,
 * defects always), undefined for an interruption, which proves nothing about the CRM.
 */
export const countedFailure = <A, E>(exit: Exit.Exit<A, E>, isFailure: (error: E) => boolean): boolean | undefined =>
  Exit.match(exit, {
    onSuccess: () => false,
    onFailure: (cause) =>
      Option.match(Cause.failureOption(cause), {
        onSome: isFailure,
        onNone: () => (Cause.isInterruptedOnly(cause) ? undefined : true)
      })
  })

/**
 * Runs a half-open probe: the lead's real CRM call, which the breaker never cuts, and settles the probe's outcome for
 * the breaker exactly once through `settle` (`failed` as `countedFailure` gives it; `timedOut` when the deadline
 * decided it).
 *
 * - The call ends before `probeTimeoutMs`: its outcome settles the probe (a success closes the breaker, a counted
 *   failure reopens it, an interruption proves nothing).
 * - The deadline passes first: the probe counts as failed (`settle(true, true)`: the breaker reopens with its next
 *   wait, so a hung CRM does not stretch it), while the call runs on to its own end. A success at that later end
 *   closes the breaker if it is still in the opening the deadline made (`settleLate`, given what that `settle`
 *   answered): the CRM answers, if slower than the probe deadline; so does a late answer that is no counted failure
 *   (a throttle, a refusal of the request: the service answered). Once anything came after that opening (another
 *   probe taken, the breaker reopened or closed), the late answer is older news and changes nothing; nor does a late
 *   counted failure or interruption, the breaker having counted the probe as failed already.
 *
 * Either way the caller gets the call's own outcome (its success, or its own error such as the CRM client's
 * timeout), never CircuitOpen: the request has gone out and may have landed at the CRM, and CircuitOpen would tell
 * the pipeline it was never sent.
 *
 * Run it where the breaker's own steps are uninterruptible (inside `Effect.uninterruptibleMask`), with `call` under
 * that mask's `restore`: the call stays interruptible by its caller, while the deadline's fiber (a child of this one)
 * is interrupted, and awaited, as soon as the call ends, so it never outlives the call and a settlement it began is
 * finished before the call's own outcome is looked at.
 */
export const runProbe = <A, E, R, S>(
  call: Effect.Effect<A, E, R>,
  options: {
    readonly probeTimeoutMs: number
    readonly isFailure: (error: E) => boolean
    /** Settles the probe; what it answers for the deadline's settlement is handed to `settleLate`. */
    readonly settle: (failed: boolean | undefined, timedOut: boolean) => Effect.Effect<S>
    /** The call succeeded after the deadline decided the probe: close the breaker if it is still as `atDeadline` left it. */
    readonly settleLate: (atDeadline: S) => Effect.Effect<unknown>
  }
): Effect.Effect<A, E, R> =>
  Effect.gen(function* () {
    let settled = false
    let atDeadline: Option.Option<S> = Option.none()
    const settleOnce = (failed: boolean | undefined, timedOut: boolean) =>
      Effect.uninterruptible(
        Effect.suspend(() => {
          if (settled) return Effect.void
          settled = true
          return Effect.map(options.settle(failed, timedOut), (answer) => {
            if (timedOut) atDeadline = Option.some(answer)
          })
        })
      )
    // only the wait is interruptible: once the deadline has passed, its settlement runs to its end
    const deadline = yield* Effect.fork(
      Effect.zipRight(Effect.interruptible(Effect.sleep(options.probeTimeoutMs)), settleOnce(true, true))
    )
    const exit = yield* Effect.exit(call)
    yield* Fiber.interrupt(deadline)
    if (!settled) yield* settleOnce(countedFailure(exit, options.isFailure), false)
    // an answer that is no counted failure (a success, a throttle, a refusal of the request) shows the service up
    else if (countedFailure(exit, options.isFailure) === false && Option.isSome(atDeadline)) {
      yield* Effect.uninterruptible(options.settleLate(atDeadline.value))
    }
    return yield* exit
  })

// One Info line per state change of a breaker (never per refused call), shared by the memory and Redis breakers.

/** The breaker opened (or reopened after a failed probe) and refuses calls for `openForMs`. */
export const logOpened = (name: string, reason: string, openForMs: number) =>
  Effect.logInfo("circuit breaker opened").pipe(
    Effect.annotateLogs({ breaker: name, reason, openForMs: Math.round(openForMs) })
  )

/** The wait is over: one call goes through as the half-open probe. */
export const logProbing = (name: string) =>
  Effect.logInfo("circuit breaker half-open: probing").pipe(Effect.annotateLogs({ breaker: name }))

/**
 * A probe succeeded; `downForMs` is how long calls were refused, when known. `late`: the success came after the probe
 * deadline had reopened the breaker (the CRM answers, but slower than CIRCUIT_BREAKER_PROBE_TIMEOUT_MS).
 */
export const logClosed = (name: string, downForMs: number | undefined, late = false) =>
  Effect.logInfo("circuit breaker closed").pipe(
    Effect.annotateLogs({
      breaker: name,
      ...(downForMs === undefined ? {} : { downForMs: Math.round(downForMs) }),
      ...(late ? { reason: "a half-open probe answered after the probe timeout" } : {})
    })
  )
