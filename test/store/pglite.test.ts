import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { migrate, migrations } from "../../layers/postgres/migrations.js"
import * as Pglite from "../../layers/postgres/pglite.js"
import { SqlClient } from "../../layers/postgres/SqlClient.js"
import { layerPglite } from "../../layers/postgres/stores.js"
import { LeadStore } from "../../services/LeadStore.js"
import { layerEmptyStores, newLeadKey, sampleLead } from "./fixtures.js"
import { storeSuite } from "./storeSuite.js"

// one PGlite for the suite (starting one takes seconds), emptied before each test
storeSuite("PGlite stores (in memory)", { shared: Pglite.layerMemory, fresh: layerEmptyStores })

describe("PGlite", () => {
  it.live("migrations are idempotent", () =>
    Effect.gen(function* () {
      const sql = yield* SqlClient
      yield* migrate
      yield* migrate
      const applied = yield* sql.query<{ id: number }>("SELECT id FROM schema_migrations ORDER BY id")
      expect(applied.map((row) => row.id)).toStrictEqual(migrations.map((m) => m.id))
    }).pipe(Effect.provide(Pglite.layerMemory))
  )

  it.live("a failed statement inside a transaction rolls the whole transaction back", () =>
    Effect.gen(function* () {
      const sql = yield* SqlClient
      yield* sql.query("CREATE TABLE t (n integer PRIMARY KEY)")
      const error = yield* Effect.flip(
        sql.transaction((tx) => Effect.zipRight(tx("INSERT INTO t VALUES (1)"), tx("INSERT INTO t VALUES (1)")))
      )
      expect(error._tag).toBe("StoreUnavailable")
      expect(error.message).toContain("23505")
      expect(yield* sql.query("SELECT n FROM t")).toStrictEqual([])
    }).pipe(Effect.provide(Pglite.layerMemory))
  )

  it.live("layerPglite keeps leads in DATA_DIR/pglite across restarts", () =>
    Effect.acquireUseRelease(
      Effect.promise(() => mkdtemp(join(tmpdir(), "rf-pglite-"))),
      (dataDir) =>
        Effect.gen(function* () {
          const withDataDir = Layer.setConfigProvider(ConfigProvider.fromMap(new Map([["DATA_DIR", dataDir]])))
          const layer = layerPglite.pipe(Layer.provide(withDataDir))
          const { lead } = yield* Effect.flatMap(LeadStore, (store) =>
            store.accept({ leadKey: newLeadKey(), source: "marketo", lead: sampleLead() })
          ).pipe(Effect.provide(layer))
          const reopened = yield* Effect.flatMap(LeadStore, (store) => store.get(lead.id)).pipe(Effect.provide(layer))
          expect(reopened).toStrictEqual(lead)
        }),
      (dataDir) => Effect.promise(() => rm(dataDir, { recursive: true, force: true }))
    )
  )
})
