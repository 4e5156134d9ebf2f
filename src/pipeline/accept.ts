import * as Effect from "effect/Effect"
import type { LeadInput, LeadSource } from "../domain/lead.js"
import { leadKey } from "../domain/leadKey.js"
import type { LeadRecord } from "../domain/record.js"
import { JobQueue } from "../../services/JobQueue.js"
import { LeadStore } from "../../services/LeadStore.js"
import { Metrics } from "../../services/Metrics.js"

/** What ingest answers: 202 for a new lead, 200 with the existing one for a duplicate. */
export interface Accepted {
  readonly lead: LeadRecord
  readonly created: boolean
}

/**
 * Accept a decoded lead. It is acknowledged only once it is durable in the store; if the queue is down after the
 * insert the lead stays RECEIVED and the outbox sweeper enqueues it later, so losing Redis loses no lead.
 */
export const acceptLead = (lead: LeadInput, source: LeadSource, traceContext?: Record<string, string>) =>
  Effect.gen(function* () {
    const store = yield* LeadStore
    const queue = yield* JobQueue
    const metrics = yield* Metrics
    const result = yield* store
      .accept({ leadKey: leadKey(lead.email, lead.campaignId), source, lead })
      .pipe(Effect.tapError(() => metrics.leadIngested(source, "unavailable")))
    if (!result.created) {
      yield* metrics.leadIngested(source, "duplicate")
      return result satisfies Accepted
    }
    yield* metrics.leadIngested(source, "accepted")
    const id = result.lead.id
    const queued = yield* queue.enqueue(traceContext ? { leadId: id, traceContext } : { leadId: id }).pipe(
      Effect.as(true),
      Effect.catchTag("QueueUnavailable", (error) =>
        Effect.logWarning("queue unavailable; the outbox sweeper will enqueue the lead").pipe(
          Effect.annotateLogs({ leadId: id, error: error.message }),
          Effect.as(false)
        )
      )
    )
    if (!queued) return result satisfies Accepted
    // The consumer may already have moved the lead on; then its state is newer than QUEUED and wins.
    const lead2 = yield* store.transition(id, ["RECEIVED"], "QUEUED").pipe(
      Effect.catchTags({
        StaleTransition: () => Effect.succeed(result.lead),
        LeadNotFound: () => Effect.succeed(result.lead)
      }),
      Effect.catchTag("StoreUnavailable", () => Effect.succeed(result.lead))
    )
    return { lead: lead2, created: true } satisfies Accepted
  }).pipe(Effect.withSpan("pipeline.accept"))
