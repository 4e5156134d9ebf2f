import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import type { LeadRecord } from "../../src/domain/record.js"
import * as GroupCommit from "../shared/groupCommit.js"
import { LeadStatus } from "../../src/domain/lead.js"
import {
  type AcceptResult,
  type LeadPage,
  LeadNotFound,
  LeadStore,
  StaleTransition,
  StoreUnavailable
} from "../../services/LeadStore.js"
import { SqlClient } from "./SqlClient.js"
import {
  asStored,
  isUuid,
  jsonParam,
  type LeadRow,
  leadColumns,
  storableJson,
  storableText,
  toLeadRecord
} from "./rows.js"

// every status is present, zeros included, so a count drops to 0 instead of going stale
const everyStatus = (rows: ReadonlyArray<{ readonly status: string; readonly n: number }>) => {
  const counts: Record<string, number> = Object.fromEntries(LeadStatus.literals.map((s) => [s, 0]))
  for (const row of rows) counts[row.status] = row.n
  return counts
}

/** LeadStore over any SqlClient (postgres.js or PGlite); expects the migrations to have run. */
// Hot-path calls carry no spans of their own: the pipeline stage spans cover them (docs/performance-log.md: a span
// costs more than the call it would wrap).
export const make: Effect.Effect<LeadStore.Service, never, SqlClient | Scope.Scope> = Effect.gen(function* () {
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

  type AcceptInput = Parameters<LeadStore.Service["accept"]>[0]

  // Group commit: the concurrent accepts of a busy ingest share one INSERT (and one commit) per batch.
  const acceptBatch = (items: ReadonlyArray<AcceptInput>) =>
    Effect.gen(function* () {
      // The first submission of a key inserts; later ones in the same batch are its duplicates, as they would be
      // one after the other. Keys go in sorted, so two batches lock the unique index in the same order and
      // cannot deadlock on overlapping keys.
      const firsts = new Map<string, AcceptInput>()
      for (const item of items) if (!firsts.has(item.leadKey)) firsts.set(item.leadKey, item)
      const unique = [...firsts.values()].sort((a, b) => (a.leadKey < b.leadKey ? -1 : a.leadKey > b.leadKey ? 1 : 0))
      // one statement decides: concurrent inserts of the same key wait on the unique index, then do nothing
      const inserted = yield* sql.query<LeadRow>(
        `INSERT INTO leads (lead_key, source, status, input)
         SELECT k, s, st, i::jsonb FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS t(k, s, st, i)
         ON CONFLICT (lead_key) DO NOTHING RETURNING ${leadColumns}`,
        [
          unique.map((item) => item.leadKey),
          unique.map((item) => item.source),
          unique.map((item) => item.status ?? "RECEIVED"),
          unique.map((item) => jsonParam(item.lead))
        ]
      )
      const created = new Map(inserted.map((row) => [row.lead_key, toLeadRecord(row)]))
      const missing = unique.filter((item) => !created.has(item.leadKey)).map((item) => item.leadKey)
      const existing = new Map<string, LeadRecord>()
      if (missing.length > 0) {
        const rows = yield* sql.query<LeadRow>(`SELECT ${leadColumns} FROM leads WHERE lead_key = ANY($1::text[])`, [
          missing
        ])
        for (const row of rows) existing.set(row.lead_key, toLeadRecord(row))
      }
      const claimed = new Set<string>()
      return items.map((item): Either.Either<AcceptResult, StoreUnavailable> => {
        const fresh = created.get(item.leadKey)
        if (fresh !== undefined && !claimed.has(item.leadKey)) {
          claimed.add(item.leadKey)
          return Either.right({ lead: fresh, created: true })
        }
        const lead = fresh ?? existing.get(item.leadKey)
        return lead === undefined
          ? Either.left(
              new StoreUnavailable({ message: "lead key conflicted but no row holds it (deleted meanwhile?)" })
            )
          : Either.right({ lead, created: false })
      })
    })

  // Postgres refused the rows themselves (data exception 22xxx, integrity 23xxx): some lead in the batch cannot be
  // stored, so each is tried alone and only that one fails, rather than every lead that shared its batch.
  const refusedData = (error: StoreUnavailable) =>
    error.sqlState !== undefined && (error.sqlState.startsWith("22") || error.sqlState.startsWith("23"))

  // One batch in flight: the leads that arrive meanwhile wait for it and go together in the next INSERT. Against
  // four in flight this cost the ingest 11-22 % less CPU per request at 50 and 200 connections, with more requests
  // per second and no worse p99 (fewer, larger statements: fewer socket writes, wake-ups and commits; README
  // "Performance"). A lead waits at most for the batch before its own.
  const submit = yield* GroupCommit.make({
    maxBatch: 100,
    maxInFlight: 1,
    run: (items: ReadonlyArray<AcceptInput>) =>
      acceptBatch(items).pipe(
        Effect.catchIf(
          (error) => items.length > 1 && refusedData(error),
          () =>
            Effect.forEach(
              items,
              (item) =>
                acceptBatch([item]).pipe(
                  Effect.map((results) => results[0] as Either.Either<AcceptResult, StoreUnavailable>),
                  Effect.catchAll((error) => Effect.succeed(Either.left(error)))
                ),
              { concurrency: 4 }
            )
        )
      )
  })

  // error describes the latest transition: set from detail.error, cleared otherwise (a replayed lead loses it)
  const transition: LeadStore.Service["transition"] = (id, from, to, detail) =>
    Effect.gen(function* () {
      const updated = isUuid(id)
        ? yield* sql.query<LeadRow>(
            `UPDATE leads SET status = $3, error = $4, updated_at = now()
             WHERE id = $1 AND status = ANY($2::text[]) RETURNING ${leadColumns}`,
            [id, [...from], to, detail?.error === undefined ? null : storableText(detail.error)]
          )
        : []
      if (updated[0] !== undefined) return toLeadRecord(updated[0])
      const current = yield* get(id)
      return yield* new StaleTransition({ leadId: id, expected: [...from], actual: current.status })
    })

  // The first analysis saved is kept (see LeadStore.saveAnalysis). A save that finds one already there reads it in
  // a statement of its own: under READ COMMITTED that one sees the save it waited for, where a second part of the
  // same statement would read the snapshot taken before it.
  const saveAnalysis: LeadStore.Service["saveAnalysis"] = (id, analysis, grounding) =>
    Effect.gen(function* () {
      if (!isUuid(id)) return yield* new LeadNotFound({ leadId: id })
      const groundingJson = storableJson(grounding)
      const updated = yield* sql.query<{ id: string }>(
        `UPDATE leads SET analysis = $2::text::jsonb, grounding = $3::text::jsonb, updated_at = now()
         WHERE id = $1 AND grounding IS NULL RETURNING id`,
        [id, storableJson(analysis), groundingJson]
      )
      // what was saved, as a later read gives it (a model's NUL stored as U+FFFD)
      if (updated.length > 0) return asStored(grounding, groundingJson)
      const kept = (yield* selectById(id))[0]
      if (kept === undefined) return yield* new LeadNotFound({ leadId: id })
      const record = toLeadRecord(kept)
      // no grounding here and none saved: the row changed under us in a way no writer does; save it once more
      return record.grounding ?? (yield* saveAnalysis(id, analysis, grounding))
    })

  // the age is measured on the database clock, so app replicas with skewed clocks agree
  const listByStatus: LeadStore.Service["listByStatus"] = ({ limit, olderThanMs, statuses }) =>
    sql
      .query<LeadRow>(
        `SELECT ${leadColumns} FROM leads
         WHERE status = ANY($1::text[]) AND updated_at <= now() - $2::double precision * interval '1 millisecond'
         ORDER BY updated_at, id LIMIT $3::integer`,
        [[...statuses], olderThanMs, Math.max(0, Math.floor(limit))]
      )
      .pipe(
        Effect.map((rows) => rows.map(toLeadRecord)),
        Effect.withSpan("LeadStore.listByStatus", {
          captureStackTrace: false,
          attributes: { statuses, olderThanMs, limit }
        })
      )

  // one index range per status (leads_status_updated_at_idx), merged: a page costs what its rows cost, where ORDER BY
  // updated_at over the whole table read every row (a second for a million leads, asked every 2 s by the console)
  const listRecent: LeadStore.Service["listRecent"] = ({ after, limit, statuses = LeadStatus.literals }) => {
    const rows = Math.max(0, Math.floor(limit))
    const from = "'epoch'::timestamptz + $3::bigint * interval '1 microsecond'"
    const text = `SELECT l.*, (extract(epoch FROM l.updated_at) * 1000000)::bigint::text AS page_at
      FROM unnest($1::text[]) AS s(status)
      CROSS JOIN LATERAL (
        SELECT ${leadColumns} FROM leads WHERE leads.status = s.status${
          after === undefined ? "" : ` AND updated_at <= ${from} AND (updated_at, id) < (${from}, $4::uuid)`
        }
        ORDER BY updated_at DESC, id DESC LIMIT $2::integer
      ) AS l
      ORDER BY l.updated_at DESC, l.id DESC LIMIT $2::integer`
    const params: Array<unknown> = [[...new Set(statuses)], rows + 1]
    if (after !== undefined) params.push(after.updatedAtMicros.toString(), after.id)
    return sql.query<LeadRow & { page_at: string }>(text, params).pipe(
      Effect.map((found): LeadPage => {
        const leads = found.slice(0, rows).map(toLeadRecord)
        const last = found[rows - 1]
        return found.length > rows && last !== undefined
          ? { leads, next: { updatedAtMicros: BigInt(last.page_at), id: last.id } }
          : { leads }
      }),
      Effect.withSpan("LeadStore.listRecent", { captureStackTrace: false, attributes: { limit, statuses } })
    )
  }

  const countByStatus: LeadStore.Service["countByStatus"] = sql
    .query<{ status: string; n: number }>("SELECT status, count(*)::integer AS n FROM leads GROUP BY status")
    .pipe(Effect.map(everyStatus), Effect.withSpan("LeadStore.countByStatus", { captureStackTrace: false }))

  // each status's count stops at upTo: an index range of at most upTo entries, however many leads there are
  const countByStatusUpTo: NonNullable<LeadStore.Service["countByStatusUpTo"]> = (upTo) =>
    sql
      .query<{ status: string; n: number }>(
        `SELECT s.status, (SELECT count(*)::integer FROM (
           SELECT 1 FROM leads WHERE leads.status = s.status LIMIT $2::integer) AS capped) AS n
         FROM unnest($1::text[]) AS s(status)`,
        [[...LeadStatus.literals], Math.max(0, Math.floor(upTo))]
      )
      .pipe(
        Effect.map(everyStatus),
        Effect.withSpan("LeadStore.countByStatusUpTo", { captureStackTrace: false, attributes: { upTo } })
      )

  const findByKey: LeadStore.Service["findByKey"] = (leadKey) =>
    sql
      .query<LeadRow>(`SELECT ${leadColumns} FROM leads WHERE lead_key = $1`, [leadKey])
      .pipe(Effect.map((rows) => Option.map(Option.fromNullable(rows[0]), toLeadRecord)))

  const revise: NonNullable<LeadStore.Service["revise"]> = (id, { source, lead }) =>
    isUuid(id)
      ? sql
          .query<LeadRow>(
            `UPDATE leads SET input = $2::text::jsonb, source = $3, status = 'QUEUED', analysis = NULL,
               grounding = NULL, error = NULL, updated_at = now()
             WHERE id = $1 AND status = 'FAILED' RETURNING ${leadColumns}`,
            [id, jsonParam(lead), source]
          )
          .pipe(Effect.map((rows) => Option.map(Option.fromNullable(rows[0]), toLeadRecord)))
      : Effect.succeed(Option.none())

  const accept: LeadStore.Service["accept"] = (input) => submit(input)
  // the deadline is a timer on the submission (see GroupCommit): no fiber per lead to race the wait
  const acceptWithin: NonNullable<LeadStore.Service["acceptWithin"]> = (input, deadline) => submit(input, deadline)

  // one read: a standby (pg_is_in_recovery) or a read-only session refuses every write while it answers reads
  const checkWritable: NonNullable<LeadStore.Service["checkWritable"]> = sql
    .query<{ recovery: boolean; read_only: string }>(
      "SELECT pg_is_in_recovery() AS recovery, current_setting('transaction_read_only') AS read_only"
    )
    .pipe(
      Effect.flatMap((rows) => {
        const row = rows[0]
        if (row === undefined) return Effect.void
        const why =
          row.recovery === true
            ? "the lead store is a standby (in recovery): it refuses writes"
            : row.read_only === "on"
              ? "the lead store is read-only (transaction_read_only is on): it refuses writes"
              : undefined
        return why === undefined ? Effect.void : Effect.fail(new StoreUnavailable({ message: why, sqlState: "25006" }))
      }),
      Effect.withSpan("LeadStore.checkWritable", { captureStackTrace: false })
    )

  return LeadStore.of({
    checkWritable,
    accept,
    acceptWithin,
    revise,
    get,
    findByKey,
    transition,
    saveAnalysis,
    listByStatus,
    listRecent,
    countByStatus,
    countByStatusUpTo
  })
})

/** LeadStore over the SqlClient in context (run `migrate` first, as the composed layers in stores.ts do). */
export const layer: Layer.Layer<LeadStore, never, SqlClient> = Layer.scoped(LeadStore, make)
