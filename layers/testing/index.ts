/**
 * `revenueflow/testing`: whole environments for tests and examples. memoryEnv needs nothing installed;
 * productionEnv runs on Postgres + Redis (the optional peers postgres, ioredis and bullmq, loaded when it is built),
 * each build in its own schema and key prefix, removed afterwards.
 */
export { configFrom, liveClock, memoryEnv, type TestOptions, testEnv } from "./memory.js"
export {
  layerPostgresTest,
  type ProductionTestOptions,
  productionEnv,
  testSchema
} from "./production.js"
export { testDatabaseUrl, testPrefix, testRedisUrl } from "./servers.js"
export { AwaitStatusTimeout, awaitStatus, sampleLead, submit } from "./pipeline.js"
