import * as Config from "effect/Config"
import * as Effect from "effect/Effect"
import type { StoreUnavailable } from "../../services/LeadStore.js"
import { SqlClient } from "./SqlClient.js"

/**
 * MIGRATE_ON_START (default true): whether building the stores applies pending migrations. The Lambda handlers
 * default it to false: `revenueflow migrate` runs them once at deploy time, not on every cold start.
 */
export const migrateOnStartConfig = Config.boolean("MIGRATE_ON_START").pipe(Config.withDefault(true))

/** One schema change: statements run in order, one statement each (PGlite's extended protocol takes one). */
export interface Migration {
  readonly id: number
  readonly name: string
  readonly statements: ReadonlyArray<string>
}

// Strings, not .sql files, so the esbuild bundles carry them. The SQL is plain Postgres 15 that PGlite also runs.
// Never edit a shipped migration: append a new one.
/** Every migration, in the order they apply. */
export const migrations: ReadonlyArray<Migration> = [
  {
    id: 1,
    name: "leads and crm_actions",
    statements: [
      `CREATE TABLE leads (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        lead_key text NOT NULL,
        source text NOT NULL,
        status text NOT NULL,
        input jsonb NOT NULL,
        analysis jsonb,
        grounding jsonb,
        error text,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT leads_lead_key_key UNIQUE (lead_key),
        CONSTRAINT leads_status_check
          CHECK (status IN ('RECEIVED', 'QUEUED', 'PROCESSING', 'SYNCED', 'REJECTED', 'FAILED'))
      )`,
      // listByStatus (status = ANY, updated_at <, ORDER BY updated_at) and countByStatus (GROUP BY status)
      "CREATE INDEX leads_status_updated_at_idx ON leads (status, updated_at)",
      // seq orders a lead's rows even when two share a created_at
      `CREATE TABLE crm_actions (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        seq bigint GENERATED ALWAYS AS IDENTITY,
        lead_id uuid NOT NULL REFERENCES leads (id),
        action_key text NOT NULL,
        tool text NOT NULL,
        provider text NOT NULL,
        status text NOT NULL,
        params jsonb NOT NULL,
        crm_id text,
        result jsonb,
        error text,
        duration_ms integer NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT crm_actions_status_check CHECK (status IN ('SUCCEEDED', 'FAILED', 'BLOCKED'))
      )`,
      // the durable "this action happened" fact: at most one SUCCEEDED row per action key; failures may repeat
      "CREATE UNIQUE INDEX crm_actions_succeeded_action_key_idx ON crm_actions (action_key) WHERE status = 'SUCCEEDED'",
      "CREATE INDEX crm_actions_lead_id_seq_idx ON crm_actions (lead_id, seq)"
    ]
  },
  {
    id: 2,
    name: "crm_actions.source",
    // who asked for the action: 'mcp' for an MCP tool call; NULL for the consumer's own plan (and older rows)
    statements: ["ALTER TABLE crm_actions ADD COLUMN source text"]
  }
]

/**
 * True when schema_migrations records every migration: one read, with no transaction or lock, for the usual start
 * (every replica, every restart) on a database already migrated. Migrations commit all together, so a migration in
 * progress elsewhere reads as not current. Any failure (no table yet: a new database) reads as not current too, and
 * the transaction below decides.
 */
const isCurrent = (sql: SqlClient.Service): Effect.Effect<boolean> =>
  sql.query<{ id: number }>("SELECT id FROM schema_migrations").pipe(
    Effect.map((rows) => {
      const applied = new Set(rows.map((row) => Number(row.id)))
      return migrations.every((migration) => applied.has(migration.id))
    }),
    Effect.orElseSucceed(() => false)
  )

/**
 * Applies every migration not yet recorded in schema_migrations, all in one transaction. A transaction-scoped
 * advisory lock (keyed by schema) makes a second process starting at the same time wait, then find nothing to do.
 * A database already current is found so by one read, without the transaction.
 */
export const migrate: Effect.Effect<void, StoreUnavailable, SqlClient> = Effect.gen(function* () {
  const sql = yield* SqlClient
  if (yield* isCurrent(sql)) return
  yield* sql.transaction((tx) =>
    Effect.gen(function* () {
      // waiting for another process's migration must not hit the short per-statement timeout
      yield* tx("SET LOCAL statement_timeout = '120s'")
      yield* tx("SELECT pg_advisory_xact_lock(hashtext('revenueflow:migrate:' || coalesce(current_schema(), '')))")
      yield* tx(`CREATE TABLE IF NOT EXISTS schema_migrations (
        id integer PRIMARY KEY,
        name text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now()
      )`)
      const applied = new Set((yield* tx<{ id: number }>("SELECT id FROM schema_migrations")).map((row) => row.id))
      for (const migration of migrations) {
        if (applied.has(migration.id)) continue
        for (const statement of migration.statements) yield* tx(statement)
        yield* tx("INSERT INTO schema_migrations (id, name) VALUES ($1, $2)", [migration.id, migration.name])
        yield* Effect.logInfo("applied migration").pipe(
          Effect.annotateLogs({ migration: migration.id, name: migration.name })
        )
      }
    })
  )
}).pipe(Effect.withSpan("SqlClient.migrate", { captureStackTrace: false }))
