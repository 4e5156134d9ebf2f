import * as Effect from "effect/Effect"
import { errorText } from "../domain/redact.js"
import { JobQueue, type LeadJob, type QueueUnavailable } from "../../services/JobQueue.js"
import { LeadStore } from "../../services/LeadStore.js"

/**
 * A lead's job to run again: its finished one revived with fresh attempts (a dead letter, on SQS moved back from the
 * dead-letter queue), or a new one when the queue has none (enqueue is a no-op while a finished job is kept).
 */
export const requeue = (queue: JobQueue.Service, job: LeadJob): Effect.Effect<void, QueueUnavailable> =>
  Effect.flatMap(queue.replay(job.leadId), (revived) => (revived ? Effect.void : queue.enqueue(job)))

/**
 * Replay a dead-lettered lead: back to QUEUED, then its failed job retried with fresh attempts (or a new job
 * when the queue lost it). Idempotent: a lead that is not FAILED is left alone and reported as such.
 */
export const replayLead = (leadId: string) =>
  Effect.gen(function* () {
    const store = yield* LeadStore
    const queue = yield* JobQueue
    const lead = yield* store.get(leadId)
    if (lead.status !== "FAILED") return { leadId, replayed: false, status: lead.status } as const
    // QUEUED first: a worker that picked the job up before this would see FAILED and skip it.
    yield* store.transition(leadId, ["FAILED"], "QUEUED")
    // If the queue cannot take it now, put the lead back to FAILED so it stays listed and replayable.
    yield* requeue(queue, { leadId }).pipe(
      Effect.tapError(() =>
        store.transition(leadId, ["QUEUED"], "FAILED", { error: errorText(lead.error ?? "replay failed") })
      )
    )
    return { leadId, replayed: true, status: "QUEUED" } as const
  })

/** Replay every FAILED lead (up to `limit`), oldest first. */
export const replayAll = (limit: number) =>
  Effect.gen(function* () {
    const store = yield* LeadStore
    const failed = yield* store.listByStatus({ statuses: ["FAILED"], olderThanMs: 0, limit })
    return yield* Effect.forEach(failed, (lead) => replayLead(lead.id))
  })
