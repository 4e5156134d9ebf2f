import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type { AuditLog } from "../../services/AuditLog.js"
import { databaseUrlConfig } from "../../services/AppConfig.js"
import type { LeadStore, StoreUnavailable } from "../../services/LeadStore.js"
import * as SqlAuditLog from "./AuditLog.js"
import * as SqlLeadStore from "./LeadStore.js"
import { migrate, migrateOnStartConfig } from "./migrations.js"
import * as Pglite from "./pglite.js"
import * as PostgresJs from "./postgresJs.js"
import type { SqlClient } from "./SqlClient.js"
import { checkedOr, formatConfigError, type InvalidConfiguration } from "../shared/config.js"

/**
 * LeadStore + AuditLog over the SqlClient in context, applying pending migrations when the layer is built (unless
 * MIGRATE_ON_START=false). A value that is no boolean ("maybe") is refused by name, not read as true: a deploy that
 * meant to migrate separately must not migrate at start.
 */
export const layerStores: Layer.Layer<LeadStore | AuditLog, StoreUnavailable | InvalidConfiguration, SqlClient> =
  Layer.mergeAll(SqlLeadStore.layer, SqlAuditLog.layer).pipe(
    Layer.provide(
      Layer.effectDiscard(
        Effect.flatMap(Effect.mapError(checkedOr(migrateOnStartConfig), formatConfigError), (migrateNow) =>
          migrateNow ? migrate : Effect.void
        )
      )
    )
  )

/** LeadStore + AuditLog on Postgres through postgres.js; fails to build (StoreUnavailable) when Postgres is down. */
export const layerPostgres = (
  options: PostgresJs.PostgresOptions
): Layer.Layer<LeadStore | AuditLog, StoreUnavailable | InvalidConfiguration> =>
  layerStores.pipe(Layer.provide(PostgresJs.layer(options)))

/** layerPostgres configured from DATABASE_URL, DATABASE_POOL_SIZE, DATABASE_STATEMENT_TIMEOUT_MS, ... */
export const layerPostgresConfig: Layer.Layer<
  LeadStore | AuditLog,
  StoreUnavailable | InvalidConfiguration | ConfigError.ConfigError
> = layerStores.pipe(Layer.provide(PostgresJs.layerConfig))

/** LeadStore + AuditLog on embedded PGlite in DATA_DIR/pglite (the embedded environment). */
export const layerPglite: Layer.Layer<
  LeadStore | AuditLog,
  StoreUnavailable | InvalidConfiguration | ConfigError.ConfigError
> = layerStores.pipe(Layer.provide(Pglite.layerConfig))

/** LeadStore + AuditLog on an in-memory PGlite: a fresh empty database per build, for tests. */
export const layerPgliteMemory: Layer.Layer<LeadStore | AuditLog, StoreUnavailable | InvalidConfiguration> =
  layerStores.pipe(Layer.provide(Pglite.layerMemory))

/** The SqlClient the environment selects: Postgres when DATABASE_URL is set, else PGlite in DATA_DIR/pglite. */
export const layerSqlClientConfig: Layer.Layer<SqlClient, StoreUnavailable | ConfigError.ConfigError> =
  Layer.unwrapEffect(
    Effect.map(Config.option(databaseUrlConfig), (url) =>
      Option.isSome(url) ? PostgresJs.layerConfig : Pglite.layerConfig
    )
  )

/** `cli migrate`: apply pending migrations to the database the environment selects, then close it. */
export const runMigrations: Effect.Effect<void, StoreUnavailable | ConfigError.ConfigError> = migrate.pipe(
  Effect.provide(layerSqlClientConfig)
)
