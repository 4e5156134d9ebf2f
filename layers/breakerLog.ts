import * as Effect from "effect/Effect"

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
