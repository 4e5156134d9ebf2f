import * as Config from "effect/Config"
import * as Schedule from "effect/Schedule"

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

const positive = (name: string, fallback: number) =>
  // validate before withDefault: the other way round the error loses the key's name
  Config.integer(name).pipe(
    Config.validate({ message: "must be a positive integer", validation: (n) => n > 0 }),
    Config.withDefault(fallback)
  )

/**
 * CIRCUIT_BREAKER_FAILURE_THRESHOLD, CIRCUIT_BREAKER_OPEN_MS, CIRCUIT_BREAKER_MAX_OPEN_MS,
 * CIRCUIT_BREAKER_PROBE_TIMEOUT_MS: the settings of either breaker.
 */
export const config: Config.Config<BreakerOptions> = Config.all({
  consecutiveFailures: positive("CIRCUIT_BREAKER_FAILURE_THRESHOLD", defaultOptions.consecutiveFailures),
  openMs: positive("CIRCUIT_BREAKER_OPEN_MS", 5_000),
  maxOpenMs: positive("CIRCUIT_BREAKER_MAX_OPEN_MS", 60_000),
  probeTimeoutMs: positive("CIRCUIT_BREAKER_PROBE_TIMEOUT_MS", defaultOptions.probeTimeoutMs)
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
