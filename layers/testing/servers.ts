import { randomUUID } from "node:crypto"

/** The test database: TEST_DATABASE_URL, else the local trust-auth database `test`. */
export const testDatabaseUrl = (): string => process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test"

/** The test Redis: TEST_REDIS_URL, else the local one. */
export const testRedisUrl = (): string => process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379"

/** A key prefix of its own for one test run. */
export const testPrefix = (): string => `rf-test-${randomUUID().slice(0, 8)}`
