import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { AuditLog } from "../../services/AuditLog.js"
import { StoreUnavailable } from "../../services/LeadStore.js"
import { SqlClient } from "./SqlClient.js"
import { type ActionRow, actionColumns, isUuid, jsonParam, toActionRecord } from "./rows.js"

/**
 * AuditLog over any SqlClient (postgres.js or PGlite); expects the migrations to have run.
 * `leadId` must be a stored lead's id: the foreign key rejects anything else (StoreUnavailable, SQLSTATE 23503).
 */
// Hot-path calls carry no spans of their own: the pipeline stage spans cover them (README "Performance": a span
// costs more than the call it would wrap).
export const make: Effect.Effect<AuditLog.Service, never, SqlClient> = Effect.gen(function* () {
  const sql = yield* SqlClient

  const selectSucceeded = (actionKey: string) =>
    sql.query<ActionRow>(`SELECT ${actionColumns} FROM crm_actions WHERE action_key = $1 AND status = 'SUCCEEDED'`, [
      actionKey
    ])

  const record: AuditLog.Service["record"] = (entry) =>
    Effect.gen(function* () {
      // The partial unique index is the arbiter: a second SUCCEEDED row for a key does nothing (even when two
      // replicas race), while FAILED / BLOCKED rows never conflict and always append.
      const inserted = yield* sql.query<ActionRow>(
        `INSERT INTO crm_actions
           (lead_id, action_key, tool, provider, status, params, crm_id, result, error, duration_ms, source)
         VALUES ($1, $2, $3, $4, $5, $6::text::jsonb, $7, $8::text::jsonb, $9, $10, $11)
         ON CONFLICT (action_key) WHERE status = 'SUCCEEDED' DO NOTHING
         RETURNING ${actionColumns}`,
        [
          entry.leadId,
          entry.actionKey,
          entry.tool,
          entry.provider,
          entry.status,
          jsonParam(entry.params ?? null),
          entry.crmId ?? null,
          jsonParam(entry.result),
          entry.error ?? null,
          Math.round(entry.durationMs),
          entry.source ?? null
        ]
      )
      if (inserted[0] !== undefined) return toActionRecord(inserted[0])
      const existing = yield* selectSucceeded(entry.actionKey)
      if (existing[0] === undefined) {
        return yield* new StoreUnavailable({ message: "action key conflicted but no SUCCEEDED row holds it" })
      }
      return toActionRecord(existing[0])
    })

  const findSucceeded: AuditLog.Service["findSucceeded"] = (actionKey) =>
    selectSucceeded(actionKey).pipe(Effect.map((rows) => Option.map(Option.fromNullable(rows[0]), toActionRecord)))

  const listForLead: AuditLog.Service["listForLead"] = (leadId) =>
    (isUuid(leadId)
      ? sql.query<ActionRow>(`SELECT ${actionColumns} FROM crm_actions WHERE lead_id = $1 ORDER BY seq`, [leadId])
      : Effect.succeed<ReadonlyArray<ActionRow>>([])
    ).pipe(Effect.map((rows) => rows.map(toActionRecord)))

  return AuditLog.of({ record, findSucceeded, listForLead })
})

/** AuditLog over the SqlClient in context (run `migrate` first, as the composed layers in stores.ts do). */
export const layer: Layer.Layer<AuditLog, never, SqlClient> = Layer.effect(AuditLog, make)
