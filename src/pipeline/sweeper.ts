import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import { JobQueue } from "../../services/JobQueue.js"
import { LeadStore } from "../../services/LeadStore.js"

/** Default for leads stuck in PROCESSING: their worker and job were lost (a Redis flush); re-enqueue them too. */
const PROCESSING_STUCK_MS = 10 * 60 * 1000

export interface SweepOptions {
  /** RECEIVED / QUEUED leads older than this are (re-)enqueued. */
  readonly minAgeMs: number
  /**
   * PROCESSING leads not updated for this long are re-enqueued (SWEEP_PROCESSING_MIN_AGE_MS). Re-enqueueing one
   * whose job still exists is a no-op (job id = lead id); keep it above the longest single run, since a Redis flush
   * also drops the run's idempotency claims.
   */
  readonly processingMinAgeMs?: number
  readonly limit?: number
}

/**
 * The outbox sweep: enqueue every lead still RECEIVED / QUEUED (or long PROCESSING). Enqueue is idempotent by
 * lead id, so it is safe in every replica and against jobs that still exist. Returns how many it enqueued.
 */
export const sweepOnce = (options: SweepOptions) =>
  Effect.gen(function* () {
    const store = yield* LeadStore
    const queue = yield* JobQueue
    const limit = options.limit ?? 500
    const fresh = yield* store.listByStatus({ statuses: ["RECEIVED", "QUEUED"], olderThanMs: options.minAgeMs, limit })
    const stale = yield* store.listByStatus({
      statuses: ["PROCESSING"],
      olderThanMs: Math.max(options.minAgeMs, options.processingMinAgeMs ?? PROCESSING_STUCK_MS),
      limit
    })
    const leads = [...fresh, ...stale]
    yield* Effect.forEach(leads, (lead) => queue.enqueue({ leadId: lead.id }), { discard: true, concurrency: 10 })
    yield* Effect.forEach(
      fresh.filter((lead) => lead.status === "RECEIVED"),
      (lead) => store.transition(lead.id, ["RECEIVED"], "QUEUED").pipe(Effect.ignore),
      { discard: true }
    )
    if (leads.length > 0) yield* Effect.logInfo(`outbox sweep re-enqueued ${leads.length} lead(s)`)
    return leads.length
  }).pipe(Effect.withSpan("pipeline.sweep", { captureStackTrace: false }))

/** Sweep forever on an interval; a failed sweep (store or queue down) is logged and tried again next time. */
export const runSweeper = (options: SweepOptions & { readonly intervalMs: number }) =>
  sweepOnce(options).pipe(
    Effect.catchAll((error) => Effect.logWarning(`outbox sweep failed: ${error._tag}`)),
    Effect.repeat(Schedule.spaced(options.intervalMs)),
    Effect.asVoid
  )
