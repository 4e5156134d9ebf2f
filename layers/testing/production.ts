import { randomBytes } from "node:crypto"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import type { StoreUnavailable } from "../../services/LeadStore.js"
import { importSelected } from "../shared/optionalPackage.js"
import { layerRedisTest } from "./redis.js"
import { testDatabaseUrl, testPrefix } from "./servers.js"
import { common, liveClock, queueOptions, type TestOptions, testEnv } from "./memory.js"

/** Where the production test environment's servers are. */
export interface ProductionTestOptions extends TestOptions {
  /** Default: TEST_DATABASE_URL, else postgres://postgres@127.0.0.1:5432/test. */
  readonly databaseUrl?: string
  /** Default: TEST_REDIS_URL, else redis://127.0.0.1:6379. */
  readonly redisUrl?: string
}

// the clients are optional peers: loaded when a production test environment is built, not when this module is
const postgresJs = importSelected("productionEnv (Postgres)", () => import("../postgres/postgresJs.js"))

/** A schema of its own on `url`, dropped (cascade) when the scope closes. */
export const testSchema = (url: string = testDatabaseUrl()): Effect.Effect<string, StoreUnavailable, Scope.Scope> =>
  Effect.gen(function* () {
    const PostgresJs = yield* Effect.orDie(postgresJs)
    const admin = yield* PostgresJs.make({ url: Redacted.make(url), poolSize: 1 })
    const schema = `rf_test_${randomBytes(6).toString("hex")}`
    return yield* Effect.acquireRelease(Effect.as(admin.query(`CREATE SCHEMA ${schema}`), schema), () =>
      admin.query(`DROP SCHEMA ${schema} CASCADE`).pipe(Effect.orDie)
    )
  })

/** LeadStore + AuditLog on Postgres in a fresh schema per build: nothing is left behind. */
export const layerPostgresTest = (url: string = testDatabaseUrl()) =>
  Layer.unwrapScoped(
    Effect.zipWith(
      testSchema(url),
      Effect.orDie(importSelected("productionEnv (Postgres)", () => import("../postgres/stores.js"))),
      (schema, stores) => stores.layerPostgres({ url: Redacted.make(url), schema })
    )
  )

/**
 * The same pipeline on the production data plane: Postgres (a fresh schema, dropped after), Redis rate limiter and
 * idempotency and a BullMQ queue (a fresh key prefix and queue name, keys deleted after). CRM, analyser and
 * enrichment stay mock / heuristic, on the real clock (`liveClock`). Needs the optional peers postgres, ioredis and
 * bullmq.
 */
export const productionEnv = (options: ProductionTestOptions = {}) => {
  const env = { ...testEnv, ...options.env }
  const prefix = testPrefix()
  const redisBacked = Layer.unwrapEffect(
    Effect.orDie(
      importSelected("productionEnv (Redis)", () =>
        Promise.all([
          import("../bullmq/JobQueue.js"),
          import("../redis/RateLimiter.js"),
          import("../redis/Idempotency.js")
        ])
      )
    ).pipe(
      Effect.map(([queue, limiter, idempotency]) =>
        Layer.mergeAll(
          queue.layer({ queueName: `leads-${prefix}`, ...queueOptions(env) }),
          limiter.layer,
          idempotency.layer
        )
      )
    )
  )
  return Layer.mergeAll(
    layerPostgresTest(options.databaseUrl).pipe(Layer.orDie),
    redisBacked.pipe(Layer.provide(layerRedisTest(prefix, options.redisUrl))),
    common(options, env)
  ).pipe(Layer.provideMerge(liveClock))
}
