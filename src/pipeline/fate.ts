import { redactText } from "../domain/redact.js"
import { JobDelay, type JobFate, JobPermanent, JobRetry } from "../../services/JobQueue.js"

/** Every typed failure the pipeline can meet, and the job fate it decides. */
export const fateOf = (failure: { readonly _tag: string }): JobFate => {
  const error = failure as { readonly _tag: string } & Record<string, unknown>
  // A reason is kept with the job (BullMQ's failedReason) and becomes leads.error: no address a CRM echoed in it.
  const message = typeof error.message === "string" ? redactText(error.message) : error._tag
  switch (error._tag) {
    case "RateLimited":
    case "CircuitOpen":
    case "CrmRateLimited":
      return new JobDelay({
        delayMs: Math.max(1, Number(error.retryAfterMs ?? 1000)),
        reason: `${error._tag}: ${message}`
      })
    case "AnalysisFailed":
      return typeof error.retryAfterMs === "number"
        ? new JobDelay({ delayMs: Math.max(1, error.retryAfterMs), reason: `model throttled: ${message}` })
        : new JobRetry({ reason: `analysis failed: ${message}` })
    case "CrmPermanentError":
      return new JobPermanent({ reason: `CRM rejected the request: ${message}` })
    case "GuardBlocked":
      return new JobPermanent({
        reason: `safety guard blocked ${String(error.tool)}: ${redactText(String(error.reason))}`
      })
    case "LeadNotFound":
      return new JobPermanent({ reason: `lead ${String(error.leadId)} does not exist` })
    case "JobDelay":
    case "JobRetry":
    case "JobPermanent":
      return error as unknown as JobFate
    default:
      // StoreUnavailable, QueueUnavailable, RateLimiterUnavailable, IdempotencyUnavailable, CrmTransientError,
      // EnrichmentFailed: infrastructure that may come back.
      return new JobRetry({ reason: `${error._tag}: ${message}` })
  }
}
