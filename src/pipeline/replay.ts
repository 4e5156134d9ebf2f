import * as Effect from "effect/Effect"
import { errorText } from "../domain/redact.js"
import { JobQueue } from "../../services/JobQueue.js"
import { LeadStore } from "../../services/LeadStore.js"

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
    yield* queue.replay(leadId).pipe(
      Effect.flatMap((retried) => (retried ? Effect.void : queue.enqueue({ leadId }))),
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
