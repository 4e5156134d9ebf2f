import * as Cause from "effect/Cause"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import { redactText } from "../../src/domain/redact.js"
import type { JobFate } from "../../services/JobQueue.js"

/** What a queue backend does with a job once its processor has run (BullMQ, SQS). */
export type Outcome =
  | { readonly _tag: "Done" }
  | { readonly _tag: "Delay"; readonly delayMs: number }
  | { readonly _tag: "Retry"; readonly reason: string }
  | { readonly _tag: "Permanent"; readonly reason: string }

/**
 * The outcome of a processor's exit. Interrupted (cancelled, shut down mid-run): back to the queue at once, without
 * spending an attempt. A defect is a retry whose reason, kept with the job and stored as the lead's error, is masked
 * like every stored error text; `describe` renders the defect (a backend may scrub its own connection strings).
 */
export const outcomeOf = (exit: Exit.Exit<void, JobFate>, describe: (defect: unknown) => string): Outcome => {
  if (Exit.isSuccess(exit)) return { _tag: "Done" }
  const failure = Cause.failureOption(exit.cause)
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
  if (Cause.isInterruptedOnly(exit.cause)) return { _tag: "Delay", delayMs: 0 }
  return { _tag: "Retry", reason: `defect: ${redactText(describe(Cause.squash(exit.cause)))}` }
}
