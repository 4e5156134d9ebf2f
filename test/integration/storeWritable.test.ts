import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as PostgresLeadStore from "../../layers/postgres/LeadStore.js"
import * as PostgresJs from "../../layers/postgres/postgresJs.js"
import { SqlClient } from "../../layers/postgres/SqlClient.js"
import { testDatabaseUrl } from "../../layers/testing/servers.js"

/** A LeadStore over a one-connection pool to the test Postgres, its session settings from `params`. */
const storeWith = (params: Record<string, string>) =>
  Effect.gen(function* () {
    const url = new URL(testDatabaseUrl())
    for (const [key, value] of Object.entries(params)) url.searchParams.set(key, value)
    const sql = yield* PostgresJs.make({ url: Redacted.make(url.href), poolSize: 1 })
    const store = yield* PostgresLeadStore.make.pipe(Effect.provideService(SqlClient, sql))
    return { sql, store }
  })

describe("LeadStore.checkWritable: can the store take writes, asked without writing", () => {
  it.scopedLive("a primary that takes writes: ok", () =>
    Effect.gen(function* () {
      const { store } = yield* storeWith({})
      expect(store.checkWritable).toBeDefined()
      yield* store.checkWritable!
    })
  )

  it.scopedLive("a server that answers reads but refuses writes (read-only session): StoreUnavailable 25006", () =>
    Effect.gen(function* () {
      const { sql, store } = yield* storeWith({ default_transaction_read_only: "on" })
      // what a read-only check sees: the store answers
      expect(yield* sql.query<{ one: number }>("SELECT 1 AS one")).toEqual([{ one: 1 }])
      const refused = yield* Effect.flip(sql.query("CREATE TEMP SEQUENCE rf_check_writable_probe"))
      expect(refused.sqlState).toBe("25006")
      const checked = yield* Effect.flip(store.checkWritable!)
      expect(checked._tag).toBe("StoreUnavailable")
      expect(checked.sqlState).toBe("25006")
      expect(checked.message).toMatch(/read-only/)
    })
  )
})
