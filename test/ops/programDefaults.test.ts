import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { SqlClient } from "../../layers/postgres/SqlClient.js"
import * as PostgresJs from "../../layers/postgres/postgresJs.js"
import { testDatabaseUrl } from "../../layers/testing/servers.js"
import { lambdaDefaults } from "../../src/lambda/runtime.js"
import { consumerDefaults, withDefaults } from "../../src/programs/defaults.js"

/** The server processes that answer `n` statements sent at once through a SqlClient on `defaults` (the consumer's). */
const backendsFor = (n: number, defaults: Readonly<Record<string, string>> = consumerDefaults) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient
    const pids = yield* Effect.forEach(
      Array.from({ length: n }, () => undefined),
      () => sql.query<{ pid: number }>("SELECT pg_backend_pid() AS pid, pg_sleep(0.05)"),
      { concurrency: "unbounded" }
    )
    return new Set(pids.map((rows) => rows[0]!.pid)).size
  }).pipe(Effect.provide(PostgresJs.layerConfig.pipe(Layer.provide(withDefaults(defaults)))))

/** Runs `effect` with `vars` in the environment, restoring what was there. */
const withEnv = <A, E>(vars: Record<string, string | undefined>, effect: Effect.Effect<A, E>) =>
  Effect.acquireUseRelease(
    Effect.sync(() => {
      const saved = Object.fromEntries(Object.keys(vars).map((key) => [key, process.env[key]]))
      for (const [key, value] of Object.entries(vars)) {
        if (value === undefined) delete process.env[key]
        else process.env[key] = value
      }
      return saved
    }),
    () => effect,
    (saved) =>
      Effect.sync(() => {
        for (const [key, value] of Object.entries(saved)) {
          if (value === undefined) delete process.env[key]
          else process.env[key] = value
        }
      })
  )

describe("the consumer program's own defaults", () => {
  it.effect("its statements share two Postgres connections, unless DATABASE_POOL_SIZE says otherwise", () =>
    Effect.gen(function* () {
      const url = testDatabaseUrl()
      // twelve statements at once, each holding its connection 50 ms: two server processes answer them all
      expect(yield* withEnv({ DATABASE_URL: url, DATABASE_POOL_SIZE: undefined }, backendsFor(12))).toBe(2)
      // the environment wins over the program's default
      expect(yield* withEnv({ DATABASE_URL: url, DATABASE_POOL_SIZE: "6" }, backendsFor(12))).toBe(6)
    })
  )
})

describe("the Lambda handlers' defaults", () => {
  it.effect(
    "a container holds two Postgres connections (one invocation at a time), unless DATABASE_POOL_SIZE says",
    () =>
      Effect.gen(function* () {
        const url = testDatabaseUrl()
        expect(
          yield* withEnv({ DATABASE_URL: url, DATABASE_POOL_SIZE: undefined }, backendsFor(12, lambdaDefaults))
        ).toBe(2)
        expect(yield* withEnv({ DATABASE_URL: url, DATABASE_POOL_SIZE: "4" }, backendsFor(12, lambdaDefaults))).toBe(4)
      })
  )
})
