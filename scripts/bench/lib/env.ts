import { randomBytes } from "node:crypto"
import { Redis } from "ioredis"
import postgres from "postgres"
import { migrations } from "../../../layers/postgres/migrations.js"

/** Postgres the benchmarks use (BENCH_DATABASE_URL, default the local test database). */
export const databaseUrl = process.env.BENCH_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test"
/** Redis the benchmarks use (BENCH_REDIS_URL, default the local Redis). */
export const redisUrl = process.env.BENCH_REDIS_URL ?? "redis://127.0.0.1:6379"

/** A random suffix, so parallel runs and other test suites never share a schema or key prefix. */
export const suffix = () => randomBytes(4).toString("hex")

/** An admin connection to the benchmark database (one connection: only DDL and counting go through it). */
export const admin = () => postgres(databaseUrl, { max: 2, onnotice: () => {} })

/** A fresh, empty schema; `migrate` also creates the tables the programs' migrations would. */
export const createSchema = async (sql: postgres.Sql, name: string, migrate = false) => {
  await sql.unsafe(`CREATE SCHEMA ${name}`)
  if (!migrate) return
  await sql.begin(async (tx) => {
    await tx.unsafe(`SET LOCAL search_path TO ${name}`)
    for (const migration of migrations) for (const statement of migration.statements) await tx.unsafe(statement)
  })
}

/** Drop a schema made by createSchema. */
export const dropSchema = (sql: postgres.Sql, name: string) => sql.unsafe(`DROP SCHEMA IF EXISTS ${name} CASCADE`)

/** Delete every key under `prefix:` (SCAN, never KEYS, so a shared Redis is not blocked). */
export const deletePrefix = async (redis: Redis, prefix: string) => {
  let cursor = "0"
  do {
    const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}:*`, "COUNT", 1000)
    cursor = next
    if (keys.length > 0) await redis.unlink(...keys)
  } while (cursor !== "0")
}

/** Connection options for a BullMQ Queue that owns (and on close, closes) its own connection. */
export const bullConnection = () => {
  const url = new URL(redisUrl)
  return {
    host: url.hostname,
    port: Number(url.port || 6379),
    ...(url.password ? { password: decodeURIComponent(url.password) } : {}),
    ...(url.username ? { username: decodeURIComponent(url.username) } : {})
  }
}

/** A plain Redis connection for checks and INFO snapshots. */
export const redisClient = () => new Redis(redisUrl, { maxRetriesPerRequest: 1, lazyConnect: false })

/** Run cleanups in reverse order even when one fails, so a failed benchmark leaves nothing behind. */
export const cleanups = () => {
  const steps: Array<() => Promise<unknown>> = []
  return {
    add: (step: () => Promise<unknown>) => void steps.push(step),
    run: async () => {
      for (const step of steps.reverse()) await step().catch((error) => console.error("cleanup failed:", error))
      steps.length = 0
    }
  }
}

/**
 * A benchmark's own Postgres and Redis connections and its cleanups, the connections' closing registered first (so
 * it runs last, after every schema and key prefix the benchmark adds is removed).
 */
export const benchConnections = () => {
  const sql = admin()
  const redis = redisClient()
  const cleanup = cleanups()
  cleanup.add(() => sql.end({ timeout: 5 }))
  cleanup.add(async () => redis.disconnect())
  return { sql, redis, cleanup }
}
