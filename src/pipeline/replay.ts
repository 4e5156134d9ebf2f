import * as Effect from "effect/Effect"
import type * as Either from "effect/Either"
import type { LeadStatus } from "../domain/lead.js"
import { errorText } from "../domain/redact.js"
import { JobQueue, type LeadJob, type QueueUnavailable } from "../../services/JobQueue.js"
import { type LeadNotFound, LeadStore, type StaleTransition, type StoreUnavailable } from "../../services/LeadStore.js"

/**
 * A lead's job to run again: its finished one revived with fresh attempts (a dead letter, on SQS moved back from the
 * dead-letter queue), or a new one when the queue has none (enqueue is a no-op while a finished job is kept).
 */
export const requeue = (queue: JobQueue.Service, job: LeadJob): Effect.Effect<void, QueueUnavailable> =>
  Effect.flatMap(queue.replay(job.leadId), (revived) => (revived ? Effect.void : queue.enqueue(job)))

/** What a replay did: the lead is QUEUED again, or it was left alone in the status it is in (it was not FAILED). */
export interface ReplayResult {
  readonly leadId: string
  readonly replayed: boolean
  readonly status: LeadStatus
}

/**
 * Why a replay could not be done. StaleTransition: the lead left FAILED between its read and its write (another
 * replay got there first).
 */
export type ReplayError = LeadNotFound | StaleTransition | StoreUnavailable | QueueUnavailable

/** One lead of `replayAll`: what its replay did, or why it could not (the leads after it are tried all the same). */
export interface ReplayOutcome {
  readonly leadId: string
  readonly outcome: Either.Either<ReplayResult, ReplayError>
}

/**
 * Replay a dead-lettered lead: back to QUEUED, then its failed job retried with fresh attempts (or a new job
 * when the queue lost it). Idempotent: a lead that is not FAILED is left alone and reported as such.
 */
export const replayLead = (leadId: string): Effect.Effect<ReplayResult, ReplayError, LeadStore | JobQueue> =>
  Effect.gen(function* () {
    const store = yield* LeadStore
    const queue = yield* JobQueue
    const lead = yield* store.get(leadId)
    if (lead.status !== "FAILED") return { leadId, replayed: false, status: lead.status }
    // QUEUED first: a worker that picked the job up before this would see FAILED and skip it.
    yield* store.transition(leadId, ["FAILED"], "QUEUED")
    // If the queue cannot take it now, put the lead back to FAILED so it stays listed and replayable.
    yield* requeue(queue, { leadId }).pipe(
      Effect.tapError(() =>
        store.transition(leadId, ["QUEUED"], "FAILED", { error: errorText(lead.error ?? "replay failed") })
      )
    )
    return { leadId, replayed: true, status: "QUEUED" }
  })

/**
 * Replay every FAILED lead (up to `limit`), oldest first, each on its own: a lead whose replay fails (the queue or the
 * store did not answer) is reported with its error and the next is still tried. `onEach` sees each outcome as it
 * comes (the CLI prints it then); only the listing itself can fail the whole.
 */
export const replayAll = <E = never, R = never>(
  limit: number,
  onEach: (outcome: ReplayOutcome) => Effect.Effect<void, E, R> = () => Effect.void
): Effect.Effect<ReadonlyArray<ReplayOutcome>, StoreUnavailable | E, LeadStore | JobQueue | R> =>
  Effect.gen(function* () {
    const store = yield* LeadStore
    const failed = yield* store.listByStatus({ statuses: ["FAILED"], olderThanMs: 0, limit })
    return yield* Effect.forEach(failed, (lead) =>
      replayLead(lead.id).pipe(
        Effect.either,
        Effect.map((outcome): ReplayOutcome => ({ leadId: lead.id, outcome })),
        Effect.tap(onEach)
      )
    )
  })
