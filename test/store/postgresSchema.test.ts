// DATABASE_SCHEMA naming a schema the database lacks: start-up says so, naming the setting, the schema and the
// database (never the URL or its password), instead of the first migration's "no schema has been selected".
import { randomBytes } from "node:crypto"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Stores from "../../layers/postgres/stores.js"
import { LeadStore } from "../../services/LeadStore.js"
import { testDatabaseUrl, testSchema } from "./fixtures.js"

/** The test database's URL with a password in it (trust auth ignores it), to see it kept out of the message. */
const withPassword = (() => {
  const url = new URL(testDatabaseUrl)
  url.password = "pw-s3cret"
  return url.toString()
})()

describe("DATABASE_SCHEMA", () => {
  it.live("a schema the database lacks fails start-up naming the setting, the schema and the database", () =>
    Effect.gen(function* () {
      const schema = `rf_missing_${randomBytes(4).toString("hex")}`
      const error = yield* Effect.flip(
        Effect.scoped(Layer.build(Stores.layerPostgres({ url: Redacted.make(withPassword), schema, poolSize: 1 })))
      )
      const database = new URL(testDatabaseUrl).pathname.slice(1)
      expect(error._tag).toBe("StoreUnavailable")
      expect(error.message).toContain(`DATABASE_SCHEMA ${schema} does not exist in database ${database}; create it`)
      expect(error.message).not.toContain("pw-s3cret")
      expect(error.message).not.toContain("no schema has been selected")
    })
  )

  it.scopedLive("an existing schema opens and migrates as before", () =>
    Effect.gen(function* () {
      const schema = yield* testSchema
      const counts = yield* Effect.flatMap(LeadStore, (store) => store.countByStatus).pipe(
        Effect.provide(Stores.layerPostgres({ url: Redacted.make(testDatabaseUrl), schema, poolSize: 1 }))
      )
      expect(Object.values(counts).reduce((sum, n) => sum + n, 0)).toBe(0)
    })
  )
})
