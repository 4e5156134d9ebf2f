import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as FiberId from "effect/FiberId"
import * as Runtime from "effect/Runtime"
import * as Option from "effect/Option"
import { canonicalJson } from "../domain/canonical.js"
import type { LeadInput, LeadSource } from "../domain/lead.js"
import { leadKey } from "../domain/leadKey.js"
import { withSpanWhenTraced } from "../domain/spans.js"
import type { LeadRecord } from "../domain/record.js"
import { JobQueue, type QueueUnavailable } from "../../services/JobQueue.js"
import { LeadStore, StoreUnavailable } from "../../services/LeadStore.js"
import { Metrics } from "../../services/Metrics.js"
import { requeue } from "./replay.js"

/**
 * What ingest answers: 202 for a new lead, or for a FAILED one whose corrected submission replaced its input
 * (`revised`); 200 with the existing one for a duplicate.
 */
export interface Accepted {
  readonly lead: LeadRecord
  readonly created: boolean
  readonly revised?: boolean
}

/** Options of acceptLead. */
export interface AcceptOptions {
  /** Give up waiting for the store after this long (StoreUnavailable); default: wait for its own timeouts. */
  readonly storeTimeoutMs?: number | undefined
}

/**
 * `effect`, or `onTimeout()` once `ms` have passed; on the deadline `effect` is interrupted without waiting for it
 * (an insert already sent finishes on its own). `Effect.timeoutFail` says the same but races two forked fibers
 * (the effect and a sleep) on every call, which costs the ingest more CPU per lead than the rest of the accept
 * (docs/performance-log.md); this runs `effect` in one fiber watched by a plain timer.
 */
const withDeadline = <A, E, R, E1>(effect: Effect.Effect<A, E, R>, ms: number, onTimeout: () => E1) =>
  Effect.flatMap(Effect.runtime<R>(), (runtime) =>
    Effect.async<A, E | E1>((resume) => {
      // interruptible even inside the caller's uninterruptible region: a submission not yet sent is withdrawn
      const fiber = Runtime.runFork(runtime)(Effect.interruptible(effect))
      const timer = setTimeout(() => {
        fiber.unsafeInterruptAsFork(FiberId.none)
        resume(Effect.fail(onTimeout()))
      }, ms)
      fiber.addObserver((exit) => {
        clearTimeout(timer)
        resume(exit)
      })
      return Effect.sync(() => {
        clearTimeout(timer)
        fiber.unsafeInterruptAsFork(FiberId.none)
      })
    })
  )

/**
 * How long after a failed enqueue new leads skip the queue (QUEUE_SKIP_MS): they are inserted RECEIVED, which the
 * outbox sweeper enqueues, and answered at once. A queue that does not answer (a frozen Redis connection, a
 * partition) fails each enqueue only after its own deadline (2 s by default): without this, every batch of leads
 * would wait that long for a failure the batch before already met. The first lead after the window tries the queue
 * again; a success ends the outage. Per queue (a process may hold more than one runtime); no round trip.
 */
const QUEUE_SKIP_MS = 1000
const queueDownUntil = new WeakMap<object, number>()

/**
 * Accept a decoded lead. It is acknowledged only once it is durable in the store. It is inserted QUEUED (one
 * write on the hot path) and then enqueued; if the queue is down it is put back to RECEIVED and the outbox sweeper
 * enqueues it later — as it does for a QUEUED lead whose job was lost — so losing Redis loses no lead. For
 * QUEUE_SKIP_MS after a failed enqueue, new leads are inserted RECEIVED and not enqueued: the same end, without
 * waiting for the queue's deadline again.
 *
 * With `storeTimeoutMs`, a store that does not answer in time fails the accept with StoreUnavailable. The insert
 * may still commit afterwards (its batch is not abandoned); the lead is then QUEUED without a job, which the
 * sweeper enqueues, and the client's retry finds it as a duplicate: not lost, not written twice.
 *
 * Written with plain combinators on services read once from the context, not `Effect.gen` with three service
 * lookups: this runs once per ingest request, and each Effect operation a request makes is CPU the raw baseline
 * does not spend (docs/performance-log.md).
 */
export const acceptLead = (
  lead: LeadInput,
  source: LeadSource,
  traceContext?: Record<string, string>,
  options: AcceptOptions = {}
): Effect.Effect<Accepted, StoreUnavailable, LeadStore | JobQueue | Metrics> =>
  Effect.contextWithEffect((context: Context.Context<LeadStore | JobQueue | Metrics>) => {
    const store = Context.get(context, LeadStore)
    const queue = Context.get(context, JobQueue)
    const metrics = Context.get(context, Metrics)
    // the queue failed a moment ago: stored RECEIVED, the state the sweeper enqueues, with no wait for the queue
    const skipQueue = (queueDownUntil.get(queue) ?? 0) > Date.now()
    const input = {
      leadKey: leadKey(lead.email, lead.campaignId),
      source,
      lead,
      status: skipQueue ? "RECEIVED" : "QUEUED"
    } as const
    const timeoutMs = options.storeTimeoutMs
    const onTimeout = () => new StoreUnavailable({ message: `the lead store did not answer within ${timeoutMs} ms` })
    // the deadline can cut the wait; a hang-up still cannot (the caller is uninterruptible)
    const stored =
      timeoutMs === undefined
        ? store.accept(input)
        : store.acceptWithin !== undefined
          ? store.acceptWithin(input, { ms: timeoutMs, onTimeout })
          : withDeadline(store.accept(input), timeoutMs, onTimeout)
    const enqueue = (result: Accepted, send: Effect.Effect<void, QueueUnavailable>): Effect.Effect<Accepted> => {
      const id = result.lead.id
      return Effect.matchEffect(send, {
        onSuccess: () => {
          queueDownUntil.delete(queue)
          return Effect.succeed(result)
        },
        onFailure: (error) =>
          Effect.logWarning("queue unavailable; the outbox sweeper will enqueue the lead").pipe(
            Effect.annotateLogs({ leadId: id, error: error.message }),
            Effect.zipLeft(Effect.sync(() => queueDownUntil.set(queue, Date.now() + QUEUE_SKIP_MS))),
            // Best effort: the sweeper re-enqueues QUEUED leads too, so a failure here loses nothing.
            Effect.zipRight(store.transition(id, ["QUEUED"], "RECEIVED").pipe(Effect.orElseSucceed(() => result.lead))),
            Effect.map((lead): Accepted => ({ ...result, lead }))
          )
      })
    }
    const job = (id: string) => (traceContext ? { leadId: id, traceContext } : { leadId: id })
    // A FAILED lead submitted again with other content: the correction replaces its input and it runs again, its
    // dead job revived (or a new one) as a replay does. The same content again is a duplicate: it would fail again.
    const duplicate = (result: Accepted): Effect.Effect<Accepted, StoreUnavailable> =>
      result.lead.status !== "FAILED" ||
      store.revise === undefined ||
      canonicalJson(result.lead.input) === canonicalJson(lead)
        ? Effect.as(metrics.leadIngested(source, "duplicate"), result)
        : Effect.flatMap(store.revise(result.lead.id, { source, lead }), (revised) =>
            Option.isNone(revised)
              ? // another submission or a replay moved it first: a duplicate of the lead as it is now
                Effect.as(metrics.leadIngested(source, "duplicate"), result)
              : Effect.zipRight(
                  metrics.leadIngested(source, "revised"),
                  enqueue({ lead: revised.value, created: false, revised: true }, requeue(queue, job(revised.value.id)))
                )
          )
    return Effect.matchEffect(stored, {
      onFailure: (error) => Effect.zipRight(metrics.leadIngested(source, "unavailable"), Effect.fail(error)),
      onSuccess: (result): Effect.Effect<Accepted, StoreUnavailable> =>
        result.created
          ? Effect.zipRight(
              metrics.leadIngested(source, "accepted"),
              // stored RECEIVED (the queue is failing): durable, and the sweeper's to enqueue
              skipQueue ? Effect.succeed(result) : enqueue(result, queue.enqueue(job(result.lead.id)))
            )
          : duplicate(result)
    })
  }).pipe(
    // Once started, insert and enqueue finish even if the client hangs up: a stored lead gets its job now, not
    // at the next sweep.
    Effect.uninterruptible,
    acceptSpan
  )

const acceptSpan = withSpanWhenTraced("pipeline.accept", { captureStackTrace: false })
