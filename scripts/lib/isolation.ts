import { randomBytes } from "node:crypto"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import { Redis } from "ioredis"
import postgres from "postgres"

/** The shared local Postgres (trust auth); TEST_DATABASE_URL overrides. */
export const defaultDatabaseUrl = process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test"
/** The shared local Redis; TEST_REDIS_URL overrides. */
export const defaultRedisUrl = process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379"

/** One run's private corner of the shared Postgres and Redis. */
export interface Isolation {
  /** A fresh schema, dropped (cascade) at release. */
  readonly schema: string
  /** Every Redis key of the run starts with `${prefix}:`; all are deleted at release. */
  readonly prefix: string
  readonly queueName: string
  /** The database URL the programs get: application_name names the schema, so its sessions can be found. */
  readonly databaseUrl: string
  readonly adminDatabaseUrl: string
  readonly redisUrl: string
  /** postgres.js on the schema, for assertions (one connection). */
  readonly sql: postgres.Sql
  /** ioredis on the shared Redis, for assertions and for deleting the run's keys. */
  readonly redis: Redis
  /** DATABASE_URL, DATABASE_SCHEMA, REDIS_URL, REDIS_KEY_PREFIX, QUEUE_NAME for a program. */
  readonly env: Readonly<Record<string, string>>
}

export interface IsolationOptions {
  readonly databaseUrl?: string
  readonly redisUrl?: string
  /** The DATABASE_URL programs get instead of the real one (a TCP proxy in front of it, say). */
  readonly programDatabaseUrl?: string
  /** The REDIS_URL programs get instead of the real one. */
  readonly programRedisUrl?: string
}

const withAppName = (url: string, name: string) => {
  const parsed = new URL(url)
  parsed.searchParams.set("application_name", name)
  return parsed.toString()
}

/** Delete every key under `prefix:` (SCAN + DEL in batches); returns how many were deleted. */
export const deletePrefixKeys = (redis: Redis, prefix: string): Effect.Effect<number> =>
  Effect.promise(async () => {
    let cursor = "0"
    let deleted = 0
    do {
      const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}:*`, "COUNT", 1000)
      if (keys.length > 0) deleted += await redis.del(...keys)
      cursor = next
    } while (cursor !== "0")
    return deleted
  })

/**
 * Create a schema and pick a Redis prefix and queue name for one run; released with the scope: the schema's
 * sessions are terminated and it is dropped, and every key under the prefix is deleted.
 */
export const makeIsolation = (options: IsolationOptions = {}): Effect.Effect<Isolation, Error, Scope.Scope> =>
  Effect.gen(function* () {
    const suffix = randomBytes(5).toString("hex")
    const schema = `rf_it_${suffix}`
    const prefix = `rf-it-${suffix}`
    const queueName = `leads-${suffix}`
    const adminDatabaseUrl = options.databaseUrl ?? defaultDatabaseUrl
    const redisUrl = options.redisUrl ?? defaultRedisUrl
    const admin = postgres(adminDatabaseUrl, { max: 1, onnotice: () => {} })
    yield* Effect.addFinalizer(() => Effect.promise(() => admin.end({ timeout: 5 }).catch(() => undefined)))
    yield* Effect.acquireRelease(
      Effect.tryPromise({
        try: () => admin.unsafe(`CREATE SCHEMA ${schema}`),
        catch: (cause) => new Error(`cannot create schema ${schema}: ${String(cause)}`)
      }),
      () =>
        Effect.promise(async () => {
          // a killed program's sessions may still hold locks; they would block the DROP
          await admin`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = ${schema}`.catch(
            () => undefined
          )
          await admin.unsafe(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => undefined)
        })
    )
    const sql = yield* Effect.acquireRelease(
      Effect.sync(() =>
        postgres(adminDatabaseUrl, { max: 1, onnotice: () => {}, connection: { search_path: schema } })
      ),
      (sql) => Effect.promise(() => sql.end({ timeout: 5 }).catch(() => undefined))
    )
    const redis = yield* Effect.acquireRelease(
      Effect.sync(() => {
        const client = new Redis(redisUrl, { maxRetriesPerRequest: 2, lazyConnect: false })
        client.on("error", () => {})
        return client
      }),
      (client) =>
        deletePrefixKeys(client, prefix).pipe(
          Effect.timeout("10 seconds"),
          Effect.ignore,
          Effect.zipRight(Effect.promise(() => client.quit().catch(() => client.disconnect())))
        )
    )
    const databaseUrl = withAppName(options.programDatabaseUrl ?? adminDatabaseUrl, schema)
    const env = {
      DATABASE_URL: databaseUrl,
      DATABASE_SCHEMA: schema,
      REDIS_URL: options.programRedisUrl ?? redisUrl,
      REDIS_KEY_PREFIX: prefix,
      QUEUE_NAME: queueName
    }
    return {
      schema,
      prefix,
      queueName,
      databaseUrl,
      adminDatabaseUrl,
      redisUrl,
      sql,
      redis,
      env
    } satisfies Isolation
  })
