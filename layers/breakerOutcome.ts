import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"

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
