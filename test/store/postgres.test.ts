import { createServer } from "node:net"
import { describe, expect, it } from "@effect/vitest"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import { migrate, migrations } from "../../layers/postgres/migrations.js"
import * as PostgresJs from "../../layers/postgres/postgresJs.js"
import { SqlClient } from "../../layers/postgres/SqlClient.js"
import { layerPostgres, layerPostgresConfig, runMigrations } from "../../layers/postgres/stores.js"
import { LeadStore } from "../../services/LeadStore.js"
import { layerPostgresTest, newLeadKey, sampleLead, schemaExists, testDatabaseUrl, testSchema } from "./fixtures.js"
import { storeSuite } from "./storeSuite.js"

// every test gets its own schema (rf_test_<random>), dropped afterwards
storeSuite("Postgres stores", { shared: Layer.empty, fresh: layerPostgresTest })

/** A port nothing listens on: bound by the OS, then released. */
const closedPort = Effect.async<number>((resume) => {
  const server = createServer()
  server.listen(0, "127.0.0.1", () => {
    const address = server.address()
    const port = typeof address === "object" && address !== null ? address.port : 0
    server.close(() => resume(Effect.succeed(port)))
  })
})

const withConfig = (entries: Record<string, string>) =>
  Layer.setConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(entries))))

const appliedIds = Effect.flatMap(SqlClient, (sql) =>
  sql.query<{ id: number }>("SELECT id FROM schema_migrations ORDER BY id")
).pipe(Effect.map((rows) => rows.map((row) => row.id)))

describe("Postgres", () => {
  it.live("a test schema exists during its scope and is dropped after", () =>
    Effect.gen(function* () {
      const schema = yield* Effect.scoped(
        Effect.tap(testSchema, (name) =>
          Effect.flatMap(schemaExists(name), (exists) => Effect.sync(() => expect(exists).toBe(true)))
        )
      )
      expect(schema).toMatch(/^rf_test_[0-9a-f]{12}$/)
      expect(yield* schemaExists(schema)).toBe(false)
    })
  )

  it.live("migrations are idempotent, and two processes migrating at once both succeed", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const schema = yield* testSchema
        const options = { url: Redacted.make(testDatabaseUrl), schema }
        const first = yield* PostgresJs.make(options)
        const second = yield* PostgresJs.make(options)
        yield* Effect.all(
          [first, second].map((client) => Effect.provideService(migrate, SqlClient, client)),
          { concurrency: "unbounded" }
        )
        yield* Effect.provideService(migrate, SqlClient, first)
        expect(yield* Effect.provideService(appliedIds, SqlClient, second)).toStrictEqual(migrations.map((m) => m.id))
        const tables = yield* first.query<{ table_name: string }>(
          "SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY table_name",
          [schema]
        )
        expect(tables.map((t) => t.table_name)).toStrictEqual(["crm_actions", "leads", "schema_migrations"])
      })
    )
  )

  it.live(
    "a migration blocked by a long reader gives way: the tables' other statements still answer, and it applies once the reader is done",
    () =>
      Effect.scoped(
        Effect.gen(function* () {
          const schema = yield* testSchema
          const options = { url: Redacted.make(testDatabaseUrl), schema }
          const [migrating, reading, working] = yield* Effect.all([
            PostgresJs.make(options),
            PostgresJs.make(options),
            PostgresJs.make(options)
          ])
          yield* Effect.provideService(migrate, SqlClient, migrating)
          // the schema as a deploy finds it: migration 2 pending
          yield* migrating.query("DELETE FROM schema_migrations WHERE id = 2")
          yield* migrating.query("ALTER TABLE crm_actions DROP COLUMN source")
          // a report holding crm_actions in an open transaction for 7 s
          const readerStarted = yield* Deferred.make<void>()
          const reader = yield* Effect.fork(
            reading.transaction((tx) =>
              Effect.gen(function* () {
                yield* tx("SELECT count(*) FROM crm_actions")
                yield* Deferred.succeed(readerStarted, undefined)
                yield* Effect.sleep("7 seconds")
              })
            )
          )
          yield* Deferred.await(readerStarted)
          const migration = yield* Effect.fork(Effect.provideService(migrate, SqlClient, migrating))
          yield* Effect.sleep("300 millis")
          // a running replica's audit read, under its 5 s statement timeout: it was queued behind the waiting ALTER
          // until the report ended, and cancelled
          const read = yield* Effect.either(working.query<{ n: string }>("SELECT count(*) AS n FROM crm_actions"))
          expect(Either.isRight(read), `the read failed: ${Either.isLeft(read) ? read.left.message : ""}`).toBe(true)
          yield* Fiber.join(reader)
          yield* Fiber.join(migration)
          expect(yield* Effect.provideService(appliedIds, SqlClient, working)).toStrictEqual(
            migrations.map((m) => m.id)
          )
          const columns = yield* working.query<{ column_name: string }>(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'crm_actions' AND column_name = 'source'",
            [schema]
          )
          expect(columns).toHaveLength(1)
        })
      ),
    30_000
  )

  it.live("Postgres down: building the stores fails with StoreUnavailable, without the password", () =>
    Effect.gen(function* () {
      const port = yield* closedPort
      const url = `postgres://revenueflow:s3cret-Pa55word@127.0.0.1:${port}/test`
      const error = yield* Effect.flip(
        Effect.scoped(Layer.build(layerPostgres({ url: Redacted.make(url), connectTimeoutMs: 2000 })))
      )
      expect(error._tag).toBe("StoreUnavailable")
      expect(error.message).toContain("ECONNREFUSED")
      expect(error.message).not.toContain("s3cret-Pa55word")
      expect(error.message).not.toContain(url)
      expect(JSON.stringify(error)).not.toContain("s3cret-Pa55word")
    })
  )

  it.live("a refused login: StoreUnavailable naming the role but not the password", () =>
    Effect.gen(function* () {
      // trust auth accepts any password, so a missing role stands in for a refused login
      const url = testDatabaseUrl.replace("postgres@", "no_such_role:hunter2-secret@")
      const error = yield* Effect.flip(Effect.scoped(Layer.build(layerPostgres({ url: Redacted.make(url) }))))
      expect(error._tag).toBe("StoreUnavailable")
      expect(error.message).toContain("no_such_role")
      expect(error.message).not.toContain("hunter2-secret")
    })
  )

  it.live("layerPostgresConfig reads DATABASE_* settings; a statement over the timeout fails", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const schema = yield* testSchema
        const config = withConfig({
          DATABASE_URL: testDatabaseUrl,
          DATABASE_SCHEMA: schema,
          DATABASE_POOL_SIZE: "2",
          DATABASE_STATEMENT_TIMEOUT_MS: "200"
        })
        const { lead } = yield* Effect.flatMap(LeadStore, (store) =>
          store.accept({ leadKey: newLeadKey(), source: "api", lead: sampleLead() })
        ).pipe(Effect.provide(layerPostgresConfig.pipe(Layer.provide(config))))
        const found = yield* Effect.scoped(
          Effect.gen(function* () {
            const sql = yield* SqlClient
            const timedOut = yield* Effect.flip(sql.query("SELECT pg_sleep(1)"))
            expect(timedOut.message).toContain("57014")
            return yield* sql.query<{ id: string }>("SELECT id FROM leads")
          }).pipe(Effect.provide(PostgresJs.layerConfig.pipe(Layer.provide(config))))
        )
        expect(found).toStrictEqual([{ id: lead.id }])
      })
    )
  )

  it.live("a lead Postgres refuses (a NUL in jsonb) fails alone; the leads batched with it are stored", () =>
    Effect.gen(function* () {
      const store = yield* LeadStore
      // the first few accepts run at once; the rest, the refused one last, share one batch
      const leads = Array.from({ length: 30 }, (_, i) => sampleLead({ firstName: i === 29 ? "Ada\u0000" : `N${i}` }))
      const results = yield* Effect.forEach(
        leads,
        (lead) => Effect.either(store.accept({ leadKey: newLeadKey(), source: "api", lead })),
        { concurrency: "unbounded" }
      )
      expect(results.slice(0, 29).every(Either.isRight)).toBe(true)
      const refused = results[29]
      expect(refused?._tag).toBe("Left")
      expect(refused?._tag === "Left" ? refused.left.sqlState : undefined).toMatch(/^22/)
      expect((yield* store.countByStatus).RECEIVED).toBe(29)
    }).pipe(Effect.provide(layerPostgresTest))
  )

  it.live("a bad DATABASE_POOL_SIZE is a config error naming the key", () =>
    Effect.gen(function* () {
      const config = withConfig({ DATABASE_URL: testDatabaseUrl, DATABASE_POOL_SIZE: "0" })
      const error = yield* Effect.flip(Effect.scoped(Layer.build(layerPostgresConfig.pipe(Layer.provide(config)))))
      expect(error._tag).not.toBe("StoreUnavailable")
      expect(String(error)).toContain("DATABASE_POOL_SIZE")
    })
  )

  it.live("runMigrations (the CLI's migrate) migrates the database DATABASE_URL names", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const schema = yield* testSchema
        const config = withConfig({ DATABASE_URL: testDatabaseUrl, DATABASE_SCHEMA: schema })
        yield* runMigrations.pipe(Effect.provide(config))
        const client = yield* PostgresJs.make({ url: Redacted.make(testDatabaseUrl), schema })
        expect(yield* Effect.provideService(appliedIds, SqlClient, client)).toStrictEqual(migrations.map((m) => m.id))
      })
    )
  )
})
