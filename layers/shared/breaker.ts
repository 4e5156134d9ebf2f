import * as Cause from "effect/Cause"
import * as Config from "effect/Config"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import { positiveInt } from "./config.js"

// The core both circuit breakers (memory and Redis) share: options and their settings, how an outcome counts,
// the half-open probe with its own deadline, and one Info line per state change.

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
   * A half-open probe with no answer by then counts as failed and is cut short (the caller gets CircuitOpen): a
   * hung CRM would otherwise hold each probe for the whole CRM timeout on top of every wait.
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

/** First probe after 5 s, doubling, jittered, capped at 1 min; 5 consecutive failures open; probes get 5 s. */
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
  Config.validate({
    message: "CIRCUIT_BREAKER_MAX_OPEN_MS must be at least CIRCUIT_BREAKER_OPEN_MS",
    validation: ({ openMs, maxOpenMs }) => maxOpenMs >= openMs
  }),
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
 * Runs a half-open probe with its own deadline. `timedOut` means it was cut at `probeTimeoutMs` (and interrupted):
 * a failure for the breaker.
 */
export const runProbe = <A, E, R>(effect: Effect.Effect<A, E, R>, probeTimeoutMs: number) =>
  Effect.map(Effect.exit(Effect.timeout(effect, probeTimeoutMs)), (exit) => {
    const timedOut =
      Exit.isFailure(exit) && Option.exists(Cause.failureOption(exit.cause), (error) => Cause.isTimeoutException(error))
    return { timedOut, exit: exit as Exit.Exit<A, E> }
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

/** A probe succeeded; `downForMs` is how long calls were refused, when known. */
export const logClosed = (name: string, downForMs: number | undefined) =>
  Effect.logInfo("circuit breaker closed").pipe(
    Effect.annotateLogs(
      downForMs === undefined ? { breaker: name } : { breaker: name, downForMs: Math.round(downForMs) }
    )
  )
