import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import type * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import type { Grounding, Analysis } from "../src/domain/analysis.js"
import type { LeadInput, LeadSource, LeadStatus } from "../src/domain/lead.js"
import type { LeadRecord } from "../src/domain/record.js"
import type { ErrorText } from "../src/domain/redact.js"

/** The lead store cannot be reached or failed; ingest answers 503 + Retry-After, the consumer retries. */
export class StoreUnavailable extends Schema.TaggedError<StoreUnavailable>()("StoreUnavailable", {
  message: Schema.String,
  /** The database's SQLSTATE when it refused a statement (e.g. "22P05"); absent when it could not be reached. */
  sqlState: Schema.optional(Schema.String)
}) {}

/** A lead id that the store does not hold. */
export class LeadNotFound extends Schema.TaggedError<LeadNotFound>()("LeadNotFound", { leadId: Schema.String }) {}

/** A transition was asked from a state the lead is no longer in (another worker moved it). */
export class StaleTransition extends Schema.TaggedError<StaleTransition>()("StaleTransition", {
  leadId: Schema.String,
  expected: Schema.Array(Schema.String),
  actual: Schema.String
}) {}

export interface AcceptResult {
  readonly lead: LeadRecord
  /** false when a lead with the same key already existed; nothing was written. */
  readonly created: boolean
}

/**
 * What the often-asked views of the pipeline (`GET /ops/state`, polled by the console; MCP's `queue_stats`, which an
 * agent may poll) count each status up to, with `countByStatusUpTo`: an exact count reads every lead of its status (a
 * second a million rows, and the table grows by every lead ever accepted). What an operator watches (waiting, failed)
 * is rarely near it.
 */
export const STATUS_COUNT_UP_TO = 10_000

/** What `accept` stores. */
export interface AcceptInput {
  readonly leadKey: string
  readonly source: LeadSource
  readonly lead: LeadInput
  /** The state a new lead starts in (default RECEIVED); ingest inserts QUEUED when it is about to enqueue. */
  readonly status?: "RECEIVED" | "QUEUED"
}

/** What `listRecent` is asked for. */
export interface LeadPageRequest {
  readonly limit: number
  /** Only leads in these statuses (default: every status). */
  readonly statuses?: ReadonlyArray<LeadStatus>
  /** The `next` of the previous page: this page starts after its last lead. */
  readonly after?: LeadCursor
}

/** Where a page of `listRecent` ended: its last lead's update time, in microseconds since 1970, and its id. */
export interface LeadCursor {
  readonly updatedAtMicros: bigint
  readonly id: string
}

/** A page of `listRecent`: `next` is there when more leads follow. */
export interface LeadPage {
  readonly leads: ReadonlyArray<LeadRecord>
  readonly next?: LeadCursor
}

export declare namespace LeadStore {
  export interface Service {
    /** Insert if absent by lead key, in one statement (no check-then-insert race). */
    readonly accept: (input: AcceptInput) => Effect.Effect<AcceptResult, StoreUnavailable>
    /**
     * Optional: `accept`, failing with `onTimeout()` after `ms` without waiting for an insert already sent (which
     * still completes). A store that can bound the wait itself offers it; the ingest bounds `accept` otherwise. A wrapper that changes
     * `accept` must wrap or drop this too.
     */
    readonly acceptWithin?: (
      input: AcceptInput,
      deadline: { readonly ms: number; readonly onTimeout: () => StoreUnavailable }
    ) => Effect.Effect<AcceptResult, StoreUnavailable>
    /**
     * Optional: a FAILED lead's input replaced by a corrected submission (same lead key), its analysis, grounding
     * and error cleared and its status QUEUED, so it runs again as the new lead it now is; none when the lead is no
     * longer FAILED (another submission or a replay got there first). Absent: a resubmission stays a duplicate.
     */
    readonly revise?: (
      id: string,
      revision: { readonly source: LeadSource; readonly lead: LeadInput }
    ) => Effect.Effect<Option.Option<LeadRecord>, StoreUnavailable>
    readonly get: (id: string) => Effect.Effect<LeadRecord, LeadNotFound | StoreUnavailable>
    /** The lead with this lead key, if one was accepted (MCP tool calls name their lead by its key). */
    readonly findByKey: (leadKey: string) => Effect.Effect<Option.Option<LeadRecord>, StoreUnavailable>
    /**
     * Move a lead from one of `from` to `to`; fails with StaleTransition when it is elsewhere. `error` is made by
     * `errorText`, which masks the PII a failure message may echo.
     */
    readonly transition: (
      id: string,
      from: ReadonlyArray<LeadStatus>,
      to: LeadStatus,
      detail?: { readonly error?: ErrorText }
    ) => Effect.Effect<LeadRecord, LeadNotFound | StaleTransition | StoreUnavailable>
    /**
     * Saves a lead's analysis and grounding unless it has them already, and answers with the grounding it keeps: the
     * first saved. Two deliveries of one job that analyse at once (SQS delivers a message at least once; BullMQ
     * re-runs a job whose lock it lost) then plan from the same analysis — an LLM's second answer may differ — so
     * they make the same action keys, and the idempotency claims let only one of them write each action.
     */
    readonly saveAnalysis: (
      id: string,
      analysis: Analysis,
      grounding: Grounding
    ) => Effect.Effect<Grounding, LeadNotFound | StoreUnavailable>
    /**
     * Leads in `statuses` not updated for `olderThanMs`, least recently updated first: what the outbox sweeper
     * re-enqueues, the dead letters (FAILED), and the readiness probe (one RECEIVED row).
     */
    readonly listByStatus: (options: {
      readonly statuses: ReadonlyArray<LeadStatus>
      readonly olderThanMs: number
      readonly limit: number
    }) => Effect.Effect<ReadonlyArray<LeadRecord>, StoreUnavailable>
    /**
     * A page of the most recently updated leads, newest first (`GET /leads`, the console): of every status or of
     * `statuses`, starting after `after` (the `next` of the page before). Its cost follows `limit`, not the table:
     * the console asks every two seconds of a table that grows by every lead ever accepted.
     */
    readonly listRecent: (page: LeadPageRequest) => Effect.Effect<LeadPage, StoreUnavailable>
    /** Count of leads per status, every status present (the CLI's `stats`, MCP's pipeline status). */
    readonly countByStatus: Effect.Effect<Readonly<Record<string, number>>, StoreUnavailable>
    /**
     * Optional: counts per status that stop at `upTo` (a count of `upTo` means "at least"), for what is asked
     * often (`GET /ops/state`, polled by the console): an exact count reads every row of its status, a second a
     * million rows. Absent: callers use `countByStatus`.
     */
    readonly countByStatusUpTo?: (upTo: number) => Effect.Effect<Readonly<Record<string, number>>, StoreUnavailable>
    /**
     * Optional: succeeds when the store would take writes now, without writing (readiness): fails with
     * StoreUnavailable (sqlState 25006) when it answers reads but refuses writes — a standby after a failover (a stale
     * writer address), a read-only server or session. A read alone says "ok" throughout such an outage. (A full disk
     * shows only on a write.) Absent: the store cannot tell; a read stands for it.
     */
    readonly checkWritable?: Effect.Effect<void, StoreUnavailable>
  }
}

/** The source of truth for leads. Layers: postgres (postgres.js), embedded (PGlite), memory. */
export class LeadStore extends Context.Tag("revenueflow/LeadStore")<LeadStore, LeadStore.Service>() {}

/**
 * Counts per status as the often-asked views take them: each status up to `STATUS_COUNT_UP_TO` where the store can
 * bound its counts (`countedUpTo` then names the bound: a count equal to it means at least that many), else exact.
 */
export const polledStatusCounts = (
  store: LeadStore.Service
): {
  readonly counts: Effect.Effect<Readonly<Record<string, number>>, StoreUnavailable>
  readonly countedUpTo: number | undefined
} =>
  store.countByStatusUpTo === undefined
    ? { counts: store.countByStatus, countedUpTo: undefined }
    : { counts: store.countByStatusUpTo(STATUS_COUNT_UP_TO), countedUpTo: STATUS_COUNT_UP_TO }
