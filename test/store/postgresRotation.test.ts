import { afterEach, describe, expect, it } from "@effect/vitest"
import * as Config from "effect/Config"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as TestClock from "effect/TestClock"
import * as SecretsConfig from "../../layers/aws/SecretsConfig.js"
import * as PostgresJs from "../../layers/postgres/postgresJs.js"
import { SqlClient } from "../../layers/postgres/SqlClient.js"
import { makeFakePostgresAuth } from "../fakes/postgresAuth.js"
import { makeFakeSecretsManager } from "../fakes/secretsManager.js"
import { waitUntil } from "../support/poll.js"
import { scopedProcessEnv } from "../support/processEnv.js"

/**
 * The AWS SDK's settings for the fake Secrets Manager at `endpoint`, set for the test's scope and then restored as
 * they were (unset ones deleted): a dead endpoint or fake credentials must not leak into later tests of the worker.
 */
const withAwsEnv = (endpoint: string) =>
  scopedProcessEnv({
    AWS_REGION: "eu-west-1",
    AWS_ACCESS_KEY_ID: "AKIAFAKEROTATIONTEST",
    AWS_SECRET_ACCESS_KEY: "fakeRotationKey/DoNotLog",
    AWS_EC2_METADATA_DISABLED: "true",
    AWS_ENDPOINT_URL_SECRETS_MANAGER: endpoint
  })

/** The AWS_* settings of the process, in name order. */
const awsSettings = () =>
  JSON.stringify(
    Object.entries(process.env)
      .filter(([name]) => name.startsWith("AWS_"))
      .sort(([a], [b]) => a.localeCompare(b))
  )
const awsAtStart = awsSettings()

/**
 * A Postgres that takes "first-s3cret", whose DATABASE_URL a fake Secrets Manager holds (read every `refreshMs`), and
 * `body` run with the SqlClient built from it; `rotate` makes the server take only "second-s3cret" and the secret say so.
 */
const withRotatingSecret = <A, E>(
  refreshMs: number,
  body: (env: {
    readonly pg: Effect.Effect.Success<typeof makeFakePostgresAuth>
    readonly secrets: Effect.Effect.Success<ReturnType<typeof makeFakeSecretsManager>>
    readonly rotate: Effect.Effect<void>
  }) => Effect.Effect<A, E, SqlClient>
) =>
  Effect.gen(function* () {
    const pg = yield* makeFakePostgresAuth
    pg.accepted.add("first-s3cret")
    const secrets = yield* makeFakeSecretsManager({ "rf/db": JSON.stringify({ DATABASE_URL: pg.url("first-s3cret") }) })
    yield* withAwsEnv(secrets.url)
    const rotate = Effect.sync(() => {
      pg.accepted.clear()
      pg.accepted.add("second-s3cret")
      secrets.rotate("rf/db", JSON.stringify({ DATABASE_URL: pg.url("second-s3cret") }))
    })
    const base = ConfigProvider.fromMap(
      new Map([
        ["AWS_SECRETS_IDS", "rf/db"],
        ["AWS_SECRETS_REFRESH_MS", String(refreshMs)]
      ]),
      { pathDelim: "_" }
    )
    return yield* body({ pg, secrets, rotate }).pipe(
      Effect.provide(PostgresJs.layerConfig),
      Effect.provide(SecretsConfig.layer),
      Effect.withConfigProvider(base)
    )
  })

/** Queries until one is answered (at most 300 tries, 10 ms apart): each try's outcome, the last "Right" if answered. */
const untilAnswered = (sql: SqlClient.Service) =>
  Effect.gen(function* () {
    const results: Array<string> = []
    for (let i = 0; i < 300 && results.at(-1) !== "Right"; i++) {
      results.push((yield* Effect.either(sql.query("SELECT 1")))._tag)
      if (results.at(-1) !== "Right") yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 10)))
    }
    return results
  })

describe("Postgres password rotation", () => {
  afterEach(() => {
    // each test's AWS settings are gone with it
    expect(awsSettings()).toBe(awsAtStart)
  })

  it.scoped("a new connection after a rotation logs in with the rotated password, without a restart", () =>
    withRotatingSecret(60_000, ({ pg, secrets, rotate }) =>
      Effect.gen(function* () {
        // the pool's first connection logged in (start-up checks it) with the password of the time
        const sql = yield* SqlClient
        expect(pg.passwords).toEqual(["first-s3cret"])
        expect(secrets.secretIds()).toEqual(["rf/db"])
        // the password rotates, and the periodic refresh (not a refused login: none yet) reads the secret
        yield* rotate
        yield* TestClock.adjust("60 seconds")
        const databaseUrl = Config.string("DATABASE_URL")
        yield* waitUntil(
          "the periodic refresh took the rotated DATABASE_URL",
          Effect.map(databaseUrl, (url) => url.includes("second-s3cret"))
        )
        // the open connection goes (a restart, a failover, its max lifetime): the next one must log in anew, and does
        // so at its first try with the rotated password, which only the periodic refresh can have read
        pg.dropConnections()
        expect((yield* untilAnswered(sql)).at(-1)).toBe("Right")
        expect(pg.passwords).toEqual(["first-s3cret", "second-s3cret"])
        // Secrets Manager was read at start-up and by the period's refresh, never on demand
        expect(secrets.secretIds()).toEqual(["rf/db", "rf/db"])
      })
    )
  )

  it.scoped(
    "a refused login reads the secrets again at once: the next connection logs in, long before the period",
    () =>
      withRotatingSecret(3_600_000, ({ pg, rotate }) =>
        Effect.gen(function* () {
          const sql = yield* SqlClient
          // rotated, and the hour's periodic refresh far away (the test clock never moves)
          yield* rotate
          pg.dropConnections()
          expect((yield* untilAnswered(sql)).at(-1)).toBe("Right")
          expect(pg.passwords).toContain("first-s3cret")
          expect(pg.passwords.at(-1)).toBe("second-s3cret")
        })
      )
  )

  it.scoped(
    "a start refused by a password rotated in between tries once more after reading the credentials again",
    () =>
      Effect.gen(function* () {
        const pg = yield* makeFakePostgresAuth
        pg.accepted.add("second-s3cret")
        let current = "first-s3cret"
        let refreshes = 0
        const sql = yield* PostgresJs.make({
          url: Redacted.make(pg.url("first-s3cret")),
          poolSize: 1,
          password: async () => current,
          refreshCredentials: Effect.sync(() => {
            refreshes++
            current = "second-s3cret"
          })
        })
        expect(refreshes).toBe(1)
        expect(pg.passwords).toEqual(["first-s3cret", "second-s3cret"])
        expect((yield* sql.query<{ "?column?": number }>("SELECT 1")).length).toBe(1)
      })
  )

  it.scoped("without a way to refresh, a refused start fails at once, naming the refusal, never the password", () =>
    Effect.gen(function* () {
      const pg = yield* makeFakePostgresAuth
      const error = yield* Effect.flip(PostgresJs.make({ url: Redacted.make(pg.url("wrong-s3cret")), poolSize: 1 }))
      expect(error.message).toContain("password authentication failed")
      expect(error.message).not.toContain("wrong-s3cret")
      expect(pg.passwords).toEqual(["wrong-s3cret"])
    })
  )
})
