import * as Config from "effect/Config"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
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
 * How long one migration statement may wait for its table's lock before the whole transaction is rolled back and
 * tried again. A DDL statement waiting for its lock (ALTER TABLE takes ACCESS EXCLUSIVE) queues every later statement
 * on that table behind it: without a bound, one long reader (a report, pg_dump, an idle transaction) held the running
 * replicas' audit reads and writes until the migration's own 120 s, well past their 5 s statement timeout, and the
 * consumers stalled for the whole deploy. 2 s stays inside that timeout.
 */
const DDL_LOCK_TIMEOUT_MS = 2000
/** How long the migration keeps trying again after lock waits, before start-up fails naming it. */
const LOCK_RETRY_BUDGET = Duration.minutes(2)
const lockNotAvailable = (error: StoreUnavailable) => error.sqlState === "55P03"

/**
 * Applies every migration not yet recorded in schema_migrations, all in one transaction. A transaction-scoped
 * advisory lock (keyed by schema) makes a second process starting at the same time wait, then find nothing to do.
 * A database already current is found so by one read, without the transaction. A statement that cannot get its
 * table's lock within DDL_LOCK_TIMEOUT_MS rolls the transaction back (nothing half-applied) and it is tried again,
 * backing off to 5 s, for up to two minutes: the tables' other users wait at most that long at a time.
 */
export const migrate: Effect.Effect<void, StoreUnavailable, SqlClient> = Effect.gen(function* () {
  const sql = yield* SqlClient
  if (yield* isCurrent(sql)) return
  const applyPending = sql.transaction((tx) =>
    Effect.gen(function* () {
      // waiting for another process's migration must not hit the short per-statement timeout
      yield* tx("SET LOCAL statement_timeout = '120s'")
      yield* tx("SELECT pg_advisory_xact_lock(hashtext('revenueflow:migrate:' || coalesce(current_schema(), '')))")
      // set once the advisory lock is held: only the migration's own statements are bounded by it
      yield* tx(`SET LOCAL lock_timeout = '${DDL_LOCK_TIMEOUT_MS}ms'`)
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
  yield* applyPending.pipe(
    Effect.tapError((error) =>
      lockNotAvailable(error)
        ? Effect.logWarning(
            `a migration waited ${DDL_LOCK_TIMEOUT_MS} ms for a table another session holds; rolled back, trying again`
          )
        : Effect.void
    ),
    Effect.retry({
      while: lockNotAvailable,
      schedule: Schedule.exponential("500 millis").pipe(
        Schedule.modifyDelay((_, delay) => Duration.min(delay, Duration.seconds(5))),
        Schedule.upTo(LOCK_RETRY_BUDGET)
      )
    })
  )
}).pipe(Effect.withSpan("SqlClient.migrate", { captureStackTrace: false }))
