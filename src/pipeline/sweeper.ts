import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import { JobQueue } from "../../services/JobQueue.js"
import type { LeadStatus } from "../domain/lead.js"
import type { LeadRecord } from "../domain/record.js"
import { LeadStore } from "../../services/LeadStore.js"

/** Default for leads stuck in PROCESSING: their worker and job were lost (a Redis flush); re-enqueue them too. */
const PROCESSING_STUCK_MS = 10 * 60 * 1000
/** SWEEP_RESEND_MIN_AGE_MS's default. */
const RESEND_MIN_AGE_MS = 60 * 60 * 1000

export interface SweepOptions {
  /** RECEIVED / QUEUED leads older than this are (re-)enqueued. */
  readonly minAgeMs: number
  /**
   * PROCESSING leads not updated for this long are re-enqueued (SWEEP_PROCESSING_MIN_AGE_MS). Re-enqueueing one
   * whose job still exists is a no-op (job id = lead id); keep it above the longest single run, since a Redis flush
   * also drops the run's idempotency claims.
   */
  readonly processingMinAgeMs?: number
  /**
   * On a queue that `sendsDuplicates` (SQS): a QUEUED or PROCESSING lead — one whose job was sent — is sent again
   * only when it has not been updated for this long (SWEEP_RESEND_MIN_AGE_MS, default 1 hour), and the sweep then
   * touches it, so a lead waiting in a backlog gets at most one more message per period rather than one per sweep.
   * (SQS keeps what it was sent: such a lead's message is lost only with the dead-letter path's own failure.)
   */
  readonly resendMinAgeMs?: number
  readonly limit?: number
}

/**
 * The outbox sweep: enqueue every lead still RECEIVED / QUEUED (or long PROCESSING). Enqueue is idempotent by
 * lead id on BullMQ and memory, so it is safe in every replica and against jobs that still exist, and a lead still
 * waiting on a job that has finished gets it run again (`reviveFinished`) — a PROCESSING lead as soon as it is
 * `minAgeMs` old, not only once long PROCESSING (a job dead-lettered while the store refused the lead's FAILED mark);
 * on a queue that sends duplicates (SQS) a lead already sent is sent again only after `resendMinAgeMs`. Returns how
 * many it enqueued or ran again.
 */
export const sweepOnce = (options: SweepOptions) =>
  Effect.gen(function* () {
    const store = yield* LeadStore
    const queue = yield* JobQueue
    const limit = options.limit ?? 500
    const duplicates = queue.sendsDuplicates === true
    const resendAge = (age: number) => (duplicates ? Math.max(age, options.resendMinAgeMs ?? RESEND_MIN_AGE_MS) : age)
    const received = yield* store.listByStatus({ statuses: ["RECEIVED"], olderThanMs: options.minAgeMs, limit })
    const queued = yield* store.listByStatus({
      statuses: ["QUEUED"],
      olderThanMs: resendAge(options.minAgeMs),
      limit
    })
    const staleAgeMs = resendAge(Math.max(options.minAgeMs, options.processingMinAgeMs ?? PROCESSING_STUCK_MS))
    const stale = yield* store.listByStatus({ statuses: ["PROCESSING"], olderThanMs: staleAgeMs, limit })
    const staleIds = new Set(stale.map((lead) => lead.id))
    // PROCESSING leads younger than that, on a queue that keeps finished jobs: their job may have finished while the
    // lead could not be moved on (dead-lettered while the store refused writes, so never marked FAILED). Their job is
    // looked up now rather than after the stuck age: one finished is run again; one still running is left alone.
    const processing =
      queue.finishedJobs === undefined || staleAgeMs <= options.minAgeMs
        ? []
        : (yield* store.listByStatus({ statuses: ["PROCESSING"], olderThanMs: options.minAgeMs, limit })).filter(
            (lead) => !staleIds.has(lead.id)
          )
    const leads = [...received, ...queued, ...stale]
    yield* Effect.forEach(leads, (lead) => queue.enqueue({ leadId: lead.id }), { discard: true, concurrency: 10 })
    const revived = yield* reviveFinished([...leads, ...processing], new Set(leads.map((lead) => lead.id)))
    // a lead's status (and its age) moves only if it is still where the sweep found it: the consumer may have it now
    const touch = (lead: LeadRecord, to: LeadStatus) => store.transition(lead.id, [lead.status], to).pipe(Effect.ignore)
    yield* Effect.forEach(received, (lead) => touch(lead, "QUEUED"), { discard: true })
    // sent again on a queue that duplicates: the lead's age starts over, so its next copy is a whole period away
    if (duplicates) {
      yield* Effect.forEach([...queued, ...stale], (lead) => touch(lead, lead.status), { discard: true })
    }
    if (leads.length > 0) {
      yield* Effect.logInfo(
        `outbox sweep re-enqueued ${leads.length} lead(s)${revived.stale > 0 ? `, ${revived.stale} of them on a finished job run again` : ""}`
      )
    }
    if (revived.processing > 0) {
      yield* Effect.logInfo(`outbox sweep ran ${revived.processing} PROCESSING lead(s) again whose job had finished`)
    }
    return leads.length + revived.processing
  }).pipe(Effect.withSpan("pipeline.sweep", { captureStackTrace: false }))

/**
 * A lead that still waits (RECEIVED, QUEUED, long PROCESSING) on a queue keeping one job per lead (BullMQ, memory)
 * may have its job finished — dead-lettered, or completed — and then nothing runs it again and `enqueue` is a no-op:
 * a replay that landed between the consumer marking the lead FAILED and the queue filing its job failed, a FAILED
 * mark that never landed, or a revised lead (a corrected resubmission) whose job could not be revived then. Such a job is run again (`replay`). The lead is read after its job was seen finished: a job is
 * filed failed only after its lead was marked FAILED, and completed only once the lead had left the waiting states,
 * so a lead still waiting at that read has nothing left to run it. Returns how many were revived.
 */
const waiting: ReadonlyArray<LeadStatus> = ["RECEIVED", "QUEUED", "PROCESSING"]
const reviveFinished = (leads: ReadonlyArray<LeadRecord>, enqueued: ReadonlySet<string>) =>
  Effect.gen(function* () {
    const queue = yield* JobQueue
    const store = yield* LeadStore
    const revived = { stale: 0, processing: 0 }
    if (queue.finishedJobs === undefined || leads.length === 0) return revived
    const finished = yield* queue.finishedJobs(leads.map((lead) => lead.id))
    for (const leadId of finished) {
      const lead = yield* Effect.option(store.get(leadId))
      if (lead._tag === "None" || !waiting.includes(lead.value.status)) continue
      if (yield* queue.replay(leadId)) {
        if (enqueued.has(leadId)) revived.stale++
        else revived.processing++
      }
    }
    return revived
  })

/** Sweep forever on an interval; a failed sweep (store or queue down) is logged and tried again next time. */
export const runSweeper = (options: SweepOptions & { readonly intervalMs: number }) =>
  sweepOnce(options).pipe(
    // the failure's own message (a store's names host:port and the driver's error, never a password) says what is
    // down, as the ingest's lines do
    Effect.catchAll((error) =>
      Effect.logWarning(`outbox sweep failed: ${error._tag}`).pipe(Effect.annotateLogs({ error: error.message }))
    ),
    Effect.repeat(Schedule.spaced(options.intervalMs)),
    Effect.asVoid
  )
