import * as Cause from "effect/Cause"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import { redactText } from "../../src/domain/redact.js"
import type { JobFate } from "../../services/JobQueue.js"

/** What a queue backend does with a job once its processor has run (BullMQ, SQS, memory). */
export type Outcome =
  | { readonly _tag: "Done" }
  | { readonly _tag: "Delay"; readonly delayMs: number }
  | { readonly _tag: "Retry"; readonly reason: string }
  | { readonly _tag: "Permanent"; readonly reason: string }

/**
 * A thrown value (a defect, a client's failure) as a reason or a log names it: an Error's message, else its text.
 * The queue backends and the Redis client build their own descriptions on this one (Redis hides URLs, SQS adds the
 * AWS error's name).
 */
export const describeThrown = (thrown: unknown): string => {
  if (thrown instanceof Error) return thrown.message
  try {
    return String(thrown)
  } catch {
    // an object without a prototype (Object.create(null)) has no text
    return "unknown error"
  }
}

/**
 * The outcome of a processor that did not succeed. Interrupted (cancelled, shut down mid-run): back to the queue at
 * once, without spending an attempt. A defect is a retry whose reason, kept with the job and stored as the lead's
 * error, is masked like every stored error text; `describeDefect` renders the defect (a backend may scrub its own
 * connection strings).
 */
export const failureOutcome = (
  cause: Cause.Cause<JobFate>,
  describeDefect: (defect: unknown) => string = describeThrown
): Exclude<Outcome, { readonly _tag: "Done" }> => {
  const failure = Cause.failureOption(cause)
  if (Option.isSome(failure)) {
    const fate = failure.value
    switch (fate._tag) {
      case "JobDelay":
        return { _tag: "Delay", delayMs: Math.max(0, fate.delayMs) }
      case "JobRetry":
        return { _tag: "Retry", reason: fate.reason }
      case "JobPermanent":
        return { _tag: "Permanent", reason: fate.reason }
    }
  }
  if (Cause.isInterruptedOnly(cause)) return { _tag: "Delay", delayMs: 0 }
  return { _tag: "Retry", reason: `defect: ${redactText(describeDefect(Cause.squash(cause)))}` }
}

/** The outcome of a processor's exit: Done on success, else as `failureOutcome` says. */
export const outcomeOf = (
  exit: Exit.Exit<void, JobFate>,
  describeDefect: (defect: unknown) => string = describeThrown
): Outcome => (Exit.isSuccess(exit) ? { _tag: "Done" } : failureOutcome(exit.cause, describeDefect))

/** The reason of the JobDelay a run ended with, undefined for any other end (a success, an interruption). */
export const delayReasonOf = (exit: Exit.Exit<unknown, JobFate>): string | undefined => {
  if (Exit.isSuccess(exit)) return undefined
  const failure = Cause.failureOption(exit.cause)
  return Option.isSome(failure) && failure.value._tag === "JobDelay" ? failure.value.reason : undefined
}
