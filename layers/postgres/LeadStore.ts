import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { LeadStatus } from "../../src/domain/lead.js"
import { LeadNotFound, LeadStore, StaleTransition, StoreUnavailable } from "../../services/LeadStore.js"
import { SqlClient } from "./SqlClient.js"
import { isUuid, jsonParam, type LeadRow, leadColumns, toLeadRecord } from "./rows.js"

/** LeadStore over any SqlClient (postgres.js or PGlite); expects the migrations to have run. */
// Hot-path calls carry no spans of their own: the pipeline stage spans cover them, and a span costs ~30 µs.
export const make: Effect.Effect<LeadStore.Service, never, SqlClient> = Effect.gen(function* () {
  const sql = yield* SqlClient

  const selectById = (id: string) =>
    isUuid(id)
      ? sql.query<LeadRow>(`SELECT ${leadColumns} FROM leads WHERE id = $1`, [id])
      : Effect.succeed<ReadonlyArray<LeadRow>>([])

  const get: LeadStore.Service["get"] = (id) =>
    selectById(id).pipe(
      Effect.flatMap((rows) =>
        rows[0] === undefined ? Effect.fail(new LeadNotFound({ leadId: id })) : Effect.succeed(toLeadRecord(rows[0]))
      )
    )

  const accept: LeadStore.Service["accept"] = ({ lead, leadKey, source, status = "RECEIVED" }) =>
    Effect.gen(function* () {
      // one statement decides: concurrent inserts of the same key wait on the unique index, then do nothing
      const inserted = yield* sql.query<LeadRow>(
        `INSERT INTO leads (lead_key, source, status, input) VALUES ($1, $2, $4, $3::text::jsonb)
         ON CONFLICT (lead_key) DO NOTHING RETURNING ${leadColumns}`,
        [leadKey, source, jsonParam(lead), status]
      )
      if (inserted[0] !== undefined) return { lead: toLeadRecord(inserted[0]), created: true }
      const existing = yield* sql.query<LeadRow>(`SELECT ${leadColumns} FROM leads WHERE lead_key = $1`, [leadKey])
      if (existing[0] === undefined) {
        return yield* new StoreUnavailable({ message: "lead key conflicted but no row holds it (deleted meanwhile?)" })
      }
      return { lead: toLeadRecord(existing[0]), created: false }
    })

  // error describes the latest transition: set from detail.error, cleared otherwise (a replayed lead loses it)
  const transition: LeadStore.Service["transition"] = (id, from, to, detail) =>
    Effect.gen(function* () {
      const updated = isUuid(id)
        ? yield* sql.query<LeadRow>(
            `UPDATE leads SET status = $3, error = $4, updated_at = now()
             WHERE id = $1 AND status = ANY($2::text[]) RETURNING ${leadColumns}`,
            [id, [...from], to, detail?.error ?? null]
          )
        : []
      if (updated[0] !== undefined) return toLeadRecord(updated[0])
      const current = yield* get(id)
      return yield* new StaleTransition({ leadId: id, expected: [...from], actual: current.status })
    })

  const saveAnalysis: LeadStore.Service["saveAnalysis"] = (id, analysis, grounding) =>
    Effect.gen(function* () {
      const updated = isUuid(id)
        ? yield* sql.query<{ id: string }>(
            `UPDATE leads SET analysis = $2::text::jsonb, grounding = $3::text::jsonb, updated_at = now()
             WHERE id = $1 RETURNING id`,
            [id, jsonParam(analysis), jsonParam(grounding)]
          )
        : []
      if (updated.length === 0) return yield* new LeadNotFound({ leadId: id })
    })

  // the age is measured on the database clock, so app replicas with skewed clocks agree
  const listStuck: LeadStore.Service["listStuck"] = ({ limit, olderThanMs, statuses }) =>
    sql
      .query<LeadRow>(
        `SELECT ${leadColumns} FROM leads
         WHERE status = ANY($1::text[]) AND updated_at <= now() - $2::double precision * interval '1 millisecond'
         ORDER BY updated_at, id LIMIT $3::integer`,
        [[...statuses], olderThanMs, Math.max(0, Math.floor(limit))]
      )
      .pipe(
        Effect.map((rows) => rows.map(toLeadRecord)),
        Effect.withSpan("LeadStore.listStuck", {
          captureStackTrace: false,
          attributes: { statuses, olderThanMs, limit }
        })
      )

  const countByStatus: LeadStore.Service["countByStatus"] = sql
    .query<{ status: string; n: number }>("SELECT status, count(*)::integer AS n FROM leads GROUP BY status")
    .pipe(
      Effect.map((rows) => {
        // every status is present, zeros included, so a metrics gauge drops to 0 instead of going stale
        const counts: Record<string, number> = Object.fromEntries(LeadStatus.literals.map((s) => [s, 0]))
        for (const row of rows) counts[row.status] = row.n
        return counts
      }),
      Effect.withSpan("LeadStore.countByStatus", { captureStackTrace: false })
    )

  return LeadStore.of({ accept, get, transition, saveAnalysis, listStuck, countByStatus })
})

/** LeadStore over the SqlClient in context (run `migrate` first, as the composed layers in stores.ts do). */
export const layer: Layer.Layer<LeadStore, never, SqlClient> = Layer.effect(LeadStore, make)
