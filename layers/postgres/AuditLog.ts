import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { type ActionEntry, type ActionPage, AuditLog } from "../../services/AuditLog.js"
import { StoreUnavailable } from "../../services/LeadStore.js"
import { SqlClient } from "./SqlClient.js"
import { type ActionRow, actionColumns, isUuid, jsonParam, storableJson, storableText, toActionRecord } from "./rows.js"

/**
 * AuditLog over any SqlClient (postgres.js or PGlite); expects the migrations to have run.
 * `leadId` must be a stored lead's id: the foreign key rejects anything else (StoreUnavailable, SQLSTATE 23503).
 */
// Hot-path calls carry no spans of their own: the pipeline stage spans cover them (docs/performance-log.md: a span
// costs more than the call it would wrap).
export const make: Effect.Effect<AuditLog.Service, never, SqlClient> = Effect.gen(function* () {
  const sql = yield* SqlClient

  const selectSucceeded = (actionKey: string) =>
    sql.query<ActionRow>(`SELECT ${actionColumns} FROM crm_actions WHERE action_key = $1 AND status = 'SUCCEEDED'`, [
      actionKey
    ])

  const recordEach: AuditLog.Service["recordEach"] = (entries) =>
    Effect.gen(function* () {
      if (entries.length === 0) return []
      // One statement, rows in the order given (the identity column `seq` follows the SELECT's order). The partial
      // unique index is the arbiter: a second SUCCEEDED row for a key does nothing (even when two replicas race),
      // while FAILED / BLOCKED rows never conflict and always append.
      const column = (pick: (entry: ActionEntry) => string | null) => entries.map(pick)
      const inserted = yield* sql.query<ActionRow>(
        `INSERT INTO crm_actions
           (lead_id, action_key, tool, provider, status, params, crm_id, result, error, duration_ms, source)
         SELECT l::uuid, k, t, p, s, pa::jsonb, c, r::jsonb, e, d::integer, src
           FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
                       $8::text[], $9::text[], $10::text[], $11::text[])
                WITH ORDINALITY AS x(l, k, t, p, s, pa, c, r, e, d, src, n)
          ORDER BY n
         ON CONFLICT (action_key) WHERE status = 'SUCCEEDED' DO NOTHING
         RETURNING ${actionColumns}`,
        [
          column((entry) => entry.leadId),
          column((entry) => entry.actionKey),
          column((entry) => entry.tool),
          column((entry) => entry.provider),
          column((entry) => entry.status),
          column((entry) => storableJson(entry.params ?? null)),
          column((entry) => (entry.crmId === undefined ? null : storableText(entry.crmId))),
          column((entry) => storableJson(entry.result)),
          column((entry) => (entry.error === undefined ? null : storableText(entry.error))),
          column((entry) => String(Math.round(entry.durationMs))),
          column((entry) => entry.source ?? null)
        ]
      )
      // each entry takes the next unclaimed row of its key and status; a SUCCEEDED entry that conflicted, the
      // action key's first SUCCEEDED row
      const fresh = new Map<string, Array<ActionRow>>()
      for (const row of inserted) {
        const at = `${row.status} ${row.action_key}`
        const same = fresh.get(at)
        if (same === undefined) fresh.set(at, [row])
        else same.push(row)
      }
      const rows = entries.map((entry) => fresh.get(`${entry.status} ${entry.actionKey}`)?.shift())
      const conflicted = entries.filter((_, n) => rows[n] === undefined).map((entry) => entry.actionKey)
      if (conflicted.length > 0) {
        const existing = yield* sql.query<ActionRow>(
          `SELECT ${actionColumns} FROM crm_actions WHERE action_key = ANY($1::text[]) AND status = 'SUCCEEDED'`,
          [conflicted]
        )
        const first = new Map(existing.map((row) => [row.action_key, row]))
        for (let n = 0; n < rows.length; n++) rows[n] ??= first.get(entries[n]!.actionKey)
      }
      if (rows.some((row) => row === undefined)) {
        return yield* new StoreUnavailable({ message: "action key conflicted but no SUCCEEDED row holds it" })
      }
      return rows.map((row) => toActionRecord(row!))
    })

  const record: AuditLog.Service["record"] = (entry) => Effect.map(recordEach([entry]), (rows) => rows[0]!)

  const findSucceeded: AuditLog.Service["findSucceeded"] = (actionKey) =>
    selectSucceeded(actionKey).pipe(Effect.map((rows) => Option.map(Option.fromNullable(rows[0]), toActionRecord)))

  const listForLead: AuditLog.Service["listForLead"] = (leadId) =>
    (isUuid(leadId)
      ? sql.query<ActionRow>(`SELECT ${actionColumns} FROM crm_actions WHERE lead_id = $1 ORDER BY seq`, [leadId])
      : Effect.succeed<ReadonlyArray<ActionRow>>([])
    ).pipe(Effect.map((rows) => rows.map(toActionRecord)))

  type PageRow = ActionRow & { readonly matching: number | string }
  const toPage = (rows: ReadonlyArray<PageRow>): ActionPage => ({
    rows: rows.map(toActionRecord),
    remaining: rows.length === 0 ? 0 : Number(rows[0]!.matching) - rows.length
  })

  // One round trip per page, the first or one after a cursor. The window count is taken over every row after the
  // cursor, before the LIMIT. The cursor's row drives a LEFT JOIN: no row at all when `after` is no row of this
  // lead (None); one row of NULLs when it is the lead's last row (an empty page).
  const firstPage = (leadId: string, limit: number) =>
    sql
      .query<PageRow>(
        `SELECT ${actionColumns}, count(*) OVER () AS matching FROM crm_actions
          WHERE lead_id = $1 ORDER BY seq LIMIT $2`,
        [leadId, limit]
      )
      .pipe(Effect.map(toPage))

  const pageAfter = (leadId: string, after: string, limit: number) =>
    sql
      .query<PageRow | { readonly id: null }>(
        `SELECT page.* FROM (SELECT seq FROM crm_actions WHERE id = $2 AND lead_id = $1) AS cursor
          LEFT JOIN LATERAL (
            SELECT ${actionColumns}, count(*) OVER () AS matching FROM crm_actions
            WHERE lead_id = $1 AND seq > cursor.seq ORDER BY seq LIMIT $3
          ) AS page ON true`,
        [leadId, after, limit]
      )
      .pipe(
        Effect.map((rows) =>
          rows.length === 0 ? Option.none() : Option.some(toPage(rows.filter((row): row is PageRow => row.id !== null)))
        )
      )

  const pageForLead: AuditLog.Service["pageForLead"] = (leadId, { limit, after }) => {
    if (!isUuid(leadId))
      return Effect.succeed(after === undefined ? Option.some({ rows: [], remaining: 0 }) : Option.none())
    if (after === undefined) return Effect.map(firstPage(leadId, limit), Option.some)
    return isUuid(after) ? pageAfter(leadId, after, limit) : Effect.succeed(Option.none())
  }

  return AuditLog.of({ record, recordEach, findSucceeded, listForLead, pageForLead })
})

/** AuditLog over the SqlClient in context (run `migrate` first, as the composed layers in stores.ts do). */
export const layer: Layer.Layer<AuditLog, never, SqlClient> = Layer.effect(AuditLog, make)
