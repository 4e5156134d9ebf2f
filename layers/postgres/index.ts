/** Postgres-backed LeadStore and AuditLog: one SQL implementation run on postgres.js or embedded PGlite. */
export * as SqlAuditLog from "./AuditLog.js"
export * as SqlLeadStore from "./LeadStore.js"
export { type Migration, migrate, migrations } from "./migrations.js"
export * as Pglite from "./pglite.js"
export * as PostgresJs from "./postgresJs.js"
export { type Query, SqlClient, storeUnavailable } from "./SqlClient.js"
export {
  layerPglite,
  layerPgliteMemory,
  layerPostgres,
  layerPostgresConfig,
  layerSqlClientConfig,
  layerStores,
  runMigrations
} from "./stores.js"
