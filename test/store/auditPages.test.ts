// AuditLog.pageForLead on every backend: pages in order with how many follow, an empty page after the lead's last
// row, None for a cursor that is no row of this lead; on SQL, one statement per page, with or without a cursor.
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as MemoryAuditLog from "../../layers/memory/AuditLog.js"
import * as MemoryLeadStore from "../../layers/memory/LeadStore.js"
import * as Pglite from "../../layers/postgres/pglite.js"
import * as PostgresJs from "../../layers/postgres/postgresJs.js"
import { SqlClient } from "../../layers/postgres/SqlClient.js"
import { layerStores } from "../../layers/postgres/stores.js"
import { AuditLog } from "../../services/AuditLog.js"
import { testDatabaseUrl, testSchema } from "./fixtures.js"
import { accept, entry } from "./storeTest.js"

/** `inner` with its statements counted: `since()` says how many ran since it was last asked. */
const counting = (inner: SqlClient.Service) => {
  let count = 0
  const client: SqlClient.Service = {
    ...inner,
    query: (text, params) =>
      Effect.suspend(() => {
        count++
        return inner.query(text, params)
      })
  }
  const since = () =>
    Effect.sync(() => {
      const n = count
      count = 0
      return n
    })
  return { client, since }
}

/** The pages of one lead's five rows, another lead's row as a foreign cursor; `statements` counts SQL round trips. */
const pages = (statements: { readonly since: () => Effect.Effect<number> } | undefined) =>
  Effect.gen(function* () {
    const audit = yield* AuditLog
    const { lead } = yield* accept()
    const { lead: other } = yield* accept()
    const { lead: empty } = yield* accept()
    const rows: Array<{ readonly id: string; readonly actionKey: string }> = []
    for (let n = 0; n < 5; n++) rows.push(yield* audit.record(entry(lead.id, { actionKey: `page-${n}-${lead.id}` })))
    const foreign = yield* audit.record(entry(other.id))
    const keys = (page: Option.Option<{ readonly rows: ReadonlyArray<{ readonly actionKey: string }> }>) =>
      Option.map(page, (p) => p.rows.map((row) => row.actionKey))
    /** The page, and (on SQL) that it took exactly `expected` statements. */
    const page = (leadId: string, options: { readonly limit: number; readonly after?: string }, expected = 1) =>
      Effect.gen(function* () {
        if (statements !== undefined) yield* statements.since()
        const result = yield* audit.pageForLead(leadId, options)
        if (statements !== undefined) expect(yield* statements.since()).toBe(expected)
        return result
      })

    const first = yield* page(lead.id, { limit: 2 })
    expect(keys(first)).toStrictEqual(Option.some([rows[0]!.actionKey, rows[1]!.actionKey]))
    expect(Option.map(first, (p) => p.remaining)).toStrictEqual(Option.some(3))
    const second = yield* page(lead.id, { limit: 2, after: rows[1]!.id })
    expect(keys(second)).toStrictEqual(Option.some([rows[2]!.actionKey, rows[3]!.actionKey]))
    expect(Option.map(second, (p) => p.remaining)).toStrictEqual(Option.some(1))
    const third = yield* page(lead.id, { limit: 2, after: rows[3]!.id })
    expect(keys(third)).toStrictEqual(Option.some([rows[4]!.actionKey]))
    expect(Option.map(third, (p) => p.remaining)).toStrictEqual(Option.some(0))
    // the lead's last row: an empty page, not an unknown cursor
    expect(yield* page(lead.id, { limit: 2, after: rows[4]!.id })).toStrictEqual(
      Option.some({ rows: [], remaining: 0 })
    )
    // a whole trail in one page, the rows as recorded
    const all = yield* page(lead.id, { limit: 200 })
    expect(Option.map(all, (p) => p.rows)).toStrictEqual(Option.some(rows))
    // a cursor that is another lead's row, or no row at all: None
    expect(yield* page(lead.id, { limit: 2, after: foreign.id })).toStrictEqual(Option.none())
    expect(yield* page(lead.id, { limit: 2, after: crypto.randomUUID() })).toStrictEqual(Option.none())
    // a lead without rows: an empty first page, and its cursor from another lead is None
    expect(yield* page(empty.id, { limit: 2 })).toStrictEqual(Option.some({ rows: [], remaining: 0 }))
    expect(yield* page(empty.id, { limit: 2, after: rows[0]!.id })).toStrictEqual(Option.none())
    // not a uuid: refused without a statement
    expect(yield* page(lead.id, { limit: 2, after: "not-a-row-id" }, 0)).toStrictEqual(Option.none())
  })

/** LeadStore + AuditLog over `sql` (migrated by layerStores), with its statements counted. */
const onSql = (sql: Layer.Layer<SqlClient, unknown>) =>
  Effect.gen(function* () {
    const count = counting(yield* SqlClient)
    yield* pages(count).pipe(Effect.provide(layerStores.pipe(Layer.provide(Layer.succeed(SqlClient, count.client)))))
  }).pipe(Effect.provide(sql), Logger.withMinimumLogLevel(LogLevel.Warning))

describe("AuditLog.pageForLead", () => {
  it.live("memory", () =>
    pages(undefined).pipe(Effect.provide(Layer.merge(MemoryLeadStore.layer, MemoryAuditLog.layer)))
  )

  it.live("PGlite: one statement per page", () => onSql(Pglite.layerMemory), 60_000)

  it.live("Postgres: one statement per page", () =>
    onSql(
      Layer.scoped(
        SqlClient,
        Effect.flatMap(testSchema, (schema) => PostgresJs.make({ url: Redacted.make(testDatabaseUrl), schema }))
      )
    )
  )
})
