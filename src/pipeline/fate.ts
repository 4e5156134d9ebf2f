import * as Match from "effect/Match"
import type { AnalysisFailed } from "../../services/Analyzer.js"
import type { CircuitOpen } from "../../services/CircuitBreaker.js"
import type { CrmPermanentError, CrmRateLimited, CrmTransientError } from "../../services/CrmExecutor.js"
import type { EnrichmentFailed } from "../../services/Enricher.js"
import type { IdempotencyUnavailable } from "../../services/Idempotency.js"
import {
  JobDelay,
  type JobFate,
  JobPermanent,
  JobRetry,
  type QueueUnavailable,
  STORE_WAIT_REASON
} from "../../services/JobQueue.js"
import type { LeadNotFound, StaleTransition, StoreUnavailable } from "../../services/LeadStore.js"
import type { RateLimited, RateLimiterUnavailable } from "../../services/RateLimiter.js"
import type { GuardBlocked } from "../domain/guard.js"
import { redactText } from "../domain/redact.js"

/**
 * Every typed failure a lead's processing can meet. A new error in the pipeline must be added here, and then
 * `fateOf` does not compile until it decides that error's fate: nothing silently becomes a retry.
 */
export type PipelineFailure =
  | RateLimited
  | CircuitOpen
  | CrmRateLimited
  | AnalysisFailed
  | CrmPermanentError
  | GuardBlocked
  | LeadNotFound
  | StoreUnavailable
  | StaleTransition
  | QueueUnavailable
  | RateLimiterUnavailable
  | IdempotencyUnavailable
  | CrmTransientError
  | EnrichmentFailed
  | JobFate

// A reason is kept with the job (BullMQ's failedReason) and becomes leads.error: no address a CRM echoed in it.
const delay = (failure: RateLimited | CircuitOpen | CrmRateLimited, detail: string) =>
  new JobDelay({ delayMs: Math.max(1, failure.retryAfterMs), reason: `${failure._tag}: ${redactText(detail)}` })
// infrastructure that may come back: retry with backoff, spending an attempt
const retry = (failure: { readonly _tag: string; readonly message: string }) =>
  new JobRetry({ reason: `${failure._tag}: ${redactText(failure.message)}` })

/**
 * How long a job waits, without spending an attempt, for a lead store that cannot take its writes: unreachable,
 * failing over (a writer that became a reader, a stale writer address), read-only, out of disk. Such an outage lasts
 * longer than a job's retries (five in ~15 s), which would otherwise dead-letter every lead it touched, and the
 * dead-lettering itself could not be recorded (it is a write). The BullMQ worker bounds the waits (`maxStoreWaits`):
 * past it the job retries and dead-letters as before, and the outbox sweep revives it when its lead still waits.
 */
export const STORE_WAIT_MS = 5_000

/** The reason of a store wait starts so (the queue's bound on store waits recognises it). */
export { STORE_WAIT_REASON }

/**
 * The store refused the statement itself — its data (22xxx data exception, 23xxx integrity) or the statement (42xxx
 * syntax or access): waiting will not change that, so the job spends its attempts as any other failure.
 */
const refusedStatement = (failure: StoreUnavailable) =>
  failure.sqlState !== undefined && /^(22|23|42)/.test(failure.sqlState)

const storeFate = (failure: StoreUnavailable): JobFate =>
  refusedStatement(failure)
    ? retry(failure)
    : new JobDelay({ delayMs: STORE_WAIT_MS, reason: `${STORE_WAIT_REASON}${redactText(failure.message)}` })

/** The job fate each pipeline failure decides (exhaustive: the compiler checks every tag has one). */
export const fateOf: (failure: PipelineFailure) => JobFate = Match.type<PipelineFailure>().pipe(
  Match.tagsExhaustive({
    RateLimited: (e) => delay(e, e.message),
    CircuitOpen: (e) => delay(e, e.message),
    CrmRateLimited: (e) => delay(e, e.message),
    AnalysisFailed: (e) =>
      e.retryAfterMs === undefined
        ? new JobRetry({ reason: `analysis failed: ${redactText(e.message)}` })
        : new JobDelay({ delayMs: Math.max(1, e.retryAfterMs), reason: `model throttled: ${redactText(e.message)}` }),
    CrmPermanentError: (e) => new JobPermanent({ reason: `CRM rejected the request: ${redactText(e.message)}` }),
    GuardBlocked: (e) => new JobPermanent({ reason: `safety guard blocked ${e.tool}: ${redactText(e.reason)}` }),
    LeadNotFound: (e) => new JobPermanent({ reason: `lead ${e.leadId} does not exist` }),
    StoreUnavailable: storeFate,
    StaleTransition: retry,
    QueueUnavailable: retry,
    RateLimiterUnavailable: retry,
    IdempotencyUnavailable: retry,
    CrmTransientError: retry,
    EnrichmentFailed: retry,
    JobDelay: (fate) => fate,
    JobRetry: (fate) => fate,
    JobPermanent: (fate) => fate
  })
)
