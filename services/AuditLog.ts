import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import type * as Option from "effect/Option"
import type { ActionRecord, ActionStatus } from "../src/domain/record.js"
import type { ErrorText } from "../src/domain/redact.js"
import type { StoreUnavailable } from "./LeadStore.js"

export interface ActionEntry {
  readonly leadId: string
  readonly actionKey: string
  readonly tool: string
  readonly provider: string
  readonly status: ActionStatus
  /** Already redacted by the caller. */
  readonly params: unknown
  readonly crmId?: string | undefined
  readonly result?: unknown
  /** Made by `errorText`, which masks the PII a CRM or guard message may echo. */
  readonly error?: ErrorText | undefined
  readonly durationMs: number
  /** Who asked for the action: "mcp" for an MCP tool call; left out by the consumer (its own plan). */
  readonly source?: string | undefined
}

/** One page of a lead's audit rows (`AuditLog.Service.pageForLead`). */
export interface ActionPage {
  /** At most the page's limit, oldest first. */
  readonly rows: ReadonlyArray<ActionRecord>
  /** How many of the lead's rows come after this page. */
  readonly remaining: number
}

export declare namespace AuditLog {
  export interface Service {
    /**
     * Append an audit row. A SUCCEEDED row is the durable record that an action happened: recording a second
     * SUCCEEDED row for the same action key keeps the first (and returns it).
     */
    readonly record: (entry: ActionEntry) => Effect.Effect<ActionRecord, StoreUnavailable>
    /**
     * Append several rows at once, in order, each as `record` would (a SUCCEEDED row for an action key that has one
     * keeps the first): all or none, in one round trip where the store allows. The rows as stored, in the same order.
     */
    readonly recordEach: (
      entries: ReadonlyArray<ActionEntry>
    ) => Effect.Effect<ReadonlyArray<ActionRecord>, StoreUnavailable>
    /** The SUCCEEDED row of an action key, if the action already happened. */
    readonly findSucceeded: (actionKey: string) => Effect.Effect<Option.Option<ActionRecord>, StoreUnavailable>
    /** Every row of a lead, oldest first. */
    readonly listForLead: (leadId: string) => Effect.Effect<ReadonlyArray<ActionRecord>, StoreUnavailable>
    /**
     * A lead's rows, oldest first, a page at a time: at most `limit` rows after the row whose id is `after` (from
     * the lead's start without it), and how many follow. None when `after` names no row of this lead.
     */
    readonly pageForLead: (
      leadId: string,
      page: { readonly limit: number; readonly after?: string | undefined }
    ) => Effect.Effect<Option.Option<ActionPage>, StoreUnavailable>
  }
}

/** Audit trail of CRM actions; the durable truth behind idempotency. Layers: postgres, embedded, memory. */
export class AuditLog extends Context.Tag("revenueflow/AuditLog")<AuditLog, AuditLog.Service>() {}
