import * as Effect from "effect/Effect"
import type postgres from "postgres"

/** Lead counts per status in the isolated schema. */
export const statusCounts = (sql: postgres.Sql) =>
  Effect.promise(async () => {
    const rows = await sql<
      Array<{ status: string; n: number }>
    >`SELECT status, count(*)::int AS n FROM leads GROUP BY status`
    return Object.fromEntries(rows.map((r) => [r.status, r.n])) as Record<string, number>
  })

/** Status of each of these leads (missing ids are absent from the map). */
export const statusesOf = (sql: postgres.Sql, ids: ReadonlyArray<string>) =>
  Effect.promise(async () => {
    if (ids.length === 0) return new Map<string, string>()
    const rows = await sql<
      Array<{ id: string; status: string }>
    >`SELECT id, status FROM leads WHERE id = ANY(${ids as Array<string>}::uuid[])`
    return new Map(rows.map((r) => [r.id, r.status]))
  })

/** Every SUCCEEDED audit row with its lead's email: the durable record of what reached the CRM. */
export const succeededActions = (sql: postgres.Sql) =>
  sql<Array<{ tool: string; action_key: string; lead_id: string; email: string }>>`
    SELECT a.tool, a.action_key, a.lead_id, l.input->>'email' AS email
    FROM crm_actions a JOIN leads l ON l.id = a.lead_id
    WHERE a.status = 'SUCCEEDED'`

/**
 * Wait until every id has a status in `done` (read in bulk from Postgres), or the deadline passes. Returns the
 * statuses seen last and how long it took.
 */
export const waitForStatuses = (
  sql: postgres.Sql,
  ids: ReadonlyArray<string>,
  done: ReadonlyArray<string>,
  timeoutMs: number,
  intervalMs = 250
) =>
  Effect.gen(function* () {
    const started = Date.now()
    const deadline = started + timeoutMs
    let statuses = yield* statusesOf(sql, ids)
    const finished = () => ids.every((id) => done.includes(statuses.get(id) ?? ""))
    while (!finished() && Date.now() < deadline) {
      yield* Effect.sleep(intervalMs)
      statuses = yield* statusesOf(sql, ids)
    }
    return { statuses, finished: finished(), elapsedMs: Date.now() - started }
  })

/** Count leads per status among `ids` (ids the store does not have count as "MISSING"). */
export const tally = (ids: ReadonlyArray<string>, statuses: ReadonlyMap<string, string>) => {
  const counts: Record<string, number> = {}
  for (const id of ids) {
    const status = statuses.get(id) ?? "MISSING"
    counts[status] = (counts[status] ?? 0) + 1
  }
  return counts
}

/**
 * Terminate every session of one isolated run (its programs connect with application_name = the schema), as a
 * Postgres restart would. Returns how many were terminated.
 */
export const terminateSessions = (admin: postgres.Sql, applicationName: string) =>
  Effect.promise(async () => {
    const rows = await admin<Array<{ ok: boolean }>>`
      SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity
      WHERE application_name = ${applicationName} AND pid <> pg_backend_pid()`
    return rows.filter((r) => r.ok).length
  })
