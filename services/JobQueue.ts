import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as Schema from "effect/Schema"

/** The payload of one queue job: one lead. Job id = lead id, so enqueueing a lead twice is a no-op. */
export const LeadJob = Schema.Struct({
  leadId: Schema.String,
  /** W3C trace context (traceparent / tracestate) so one trace runs from the webhook to the CRM call. */
  traceContext: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.String }))
})
export type LeadJob = typeof LeadJob.Type

/** What a processor sees of a job. */
export interface JobInfo extends LeadJob {
  /** Attempts already spent before this run (0 on the first run). Delays do not spend attempts. */
  readonly attemptsMade: number
  readonly maxAttempts: number
}

/** The queue cannot be reached. Ingest still answers 202 (the lead is durable); the outbox sweeper re-enqueues. */
export class QueueUnavailable extends Schema.TaggedError<QueueUnavailable>()("QueueUnavailable", {
  message: Schema.String
}) {}

/**
 * How the reason of a JobDelay that waits for the lead store starts (src/pipeline/fate.ts): the queue backends bound
 * such waits (BullMQ by count, SQS by time), and no other delay.
 */
export const STORE_WAIT_REASON = "StoreUnavailable: "

/** Run the job again after `delayMs` without spending an attempt (rate limited, breaker open, claim held). */
export class JobDelay extends Schema.TaggedError<JobDelay>()("JobDelay", {
  delayMs: Schema.Number,
  reason: Schema.String
}) {}
/** A transient failure: retry with exponential backoff and jitter, spending an attempt. */
export class JobRetry extends Schema.TaggedError<JobRetry>()("JobRetry", { reason: Schema.String }) {}
/** A permanent failure: dead-letter now, no retries. */
export class JobPermanent extends Schema.TaggedError<JobPermanent>()("JobPermanent", { reason: Schema.String }) {}
/** The three fates a processor can decide for a job; success is the fourth. */
export type JobFate = JobDelay | JobRetry | JobPermanent

export interface QueueStats {
  readonly waiting: number
  readonly active: number
  readonly delayed: number
  readonly completed: number
  readonly failed: number
  /** Age in ms of the oldest job waiting to run (0 when none). */
  readonly oldestWaitingAgeMs: number
}

export interface DeadLetter {
  readonly leadId: string
  readonly reason: string
  readonly attemptsMade: number
  readonly failedAt: Date
}

export interface ConsumeOptions {
  readonly concurrency: number
  /** Decides a job's fate. Interrupted when the job is cancelled or the consumer shuts down past its timeout. */
  readonly process: (job: JobInfo) => Effect.Effect<void, JobFate>
  /**
   * Called once when a job is dead-lettered (permanent failure or attempts exhausted), with `attemptsMade` counting
   * the runs spent, the last one included.
   */
  readonly onDeadLetter: (job: JobInfo, reason: string) => Effect.Effect<void>
}

export declare namespace JobQueue {
  export interface Service {
    /**
     * Add a job for a lead; a job with the same lead id already present makes this a no-op, unless the queue
     * `sendsDuplicates`.
     */
    readonly enqueue: (job: LeadJob) => Effect.Effect<void, QueueUnavailable>
    /**
     * True when the queue cannot tell a lead already has a job, so each enqueue adds one (SQS: a message per send,
     * on a FIFO queue too: each send has its own deduplication id). The outbox sweep then sends a lead already sent again only
     * after SWEEP_RESEND_MIN_AGE_MS, once per such period. Absent: false (BullMQ and memory: job id = lead id).
     */
    readonly sendsDuplicates?: boolean
    readonly stats: Effect.Effect<QueueStats, QueueUnavailable>
    readonly deadLetters: (limit: number) => Effect.Effect<ReadonlyArray<DeadLetter>, QueueUnavailable>
    /**
     * Run a lead's finished job again with fresh attempts: dead-lettered (failed), or completed and still kept (a
     * job that found its lead FAILED, then replayed). false when the lead has no such job: none, or one still to run.
     * Idempotent.
     */
    readonly replay: (leadId: string) => Effect.Effect<boolean, QueueUnavailable>
    /**
     * Of these leads, those whose job has finished (failed or completed) and is kept: it will not run again by
     * itself, and `enqueue` is a no-op while it is kept. The outbox sweep revives such a job when its lead still
     * waits. Absent on a queue that keeps no finished jobs (SQS).
     */
    readonly finishedJobs?: (leadIds: ReadonlyArray<string>) => Effect.Effect<ReadonlySet<string>, QueueUnavailable>
    /**
     * Process jobs until the scope closes. Closing stops taking jobs, lets active ones finish within the
     * shutdown timeout, then interrupts the rest, whose jobs go back to be retried.
     */
    readonly consume: (options: ConsumeOptions) => Effect.Effect<void, never, Scope.Scope>
  }
}

/** The lead-processing queue. Layers: bullmq (Redis), memory (same retry / delay / dead-letter semantics). */
export class JobQueue extends Context.Tag("revenueflow/JobQueue")<JobQueue, JobQueue.Service>() {}
