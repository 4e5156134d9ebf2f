import { describe, expect, it } from "@effect/vitest"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as TestClock from "effect/TestClock"
import * as SecretsConfig from "../../layers/aws/SecretsConfig.js"
import * as PostgresJs from "../../layers/postgres/postgresJs.js"
import { SqlClient } from "../../layers/postgres/SqlClient.js"
import { makeFakePostgresAuth } from "../fakes/postgresAuth.js"
import { makeFakeSecretsManager } from "../fakes/secretsManager.js"

Object.assign(process.env, {
  AWS_REGION: "eu-west-1",
  AWS_ACCESS_KEY_ID: "AKIAFAKEROTATIONTEST",
  AWS_SECRET_ACCESS_KEY: "fakeRotationKey/DoNotLog",
  AWS_EC2_METADATA_DISABLED: "true"
})

describe("Postgres password rotation", () => {
  it.scoped("a new connection after a rotation logs in with the rotated password, without a restart", () =>
    Effect.gen(function* () {
      const pg = yield* makeFakePostgresAuth
      pg.accepted.add("first-s3cret")
      const secrets = yield* makeFakeSecretsManager({
        "rf/db": JSON.stringify({ DATABASE_URL: pg.url("first-s3cret") })
      })
      process.env.AWS_ENDPOINT_URL_SECRETS_MANAGER = secrets.url
      const base = ConfigProvider.fromMap(
        new Map([
          ["AWS_SECRETS_IDS", "rf/db"],
          ["AWS_SECRETS_REFRESH_MS", "60000"]
        ]),
        {
          pathDelim: "_"
        }
      )
      yield* Effect.gen(function* () {
        // the pool's first connection logged in (start-up checks it) with the password of the time
        const sql = yield* SqlClient
        expect(pg.passwords).toEqual(["first-s3cret"])

        // the password rotates: the server takes only the new one from now on
        pg.accepted.clear()
        pg.accepted.add("second-s3cret")
        secrets.rotate("rf/db", JSON.stringify({ DATABASE_URL: pg.url("second-s3cret") }))
        yield* TestClock.adjust("60 seconds")
        // the open connection goes (a restart, a failover, its max lifetime): the next one must log in anew
        pg.dropConnections()
        let answered = false
        for (let i = 0; i < 200 && !answered; i++) {
          answered = (yield* Effect.either(sql.query("SELECT 1")))._tag === "Right"
          if (!answered) yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 10)))
        }
        expect(answered).toBe(true)
        expect(pg.passwords.at(-1)).toBe("second-s3cret")
      }).pipe(
        Effect.provide(PostgresJs.layerConfig),
        Effect.provide(SecretsConfig.layer),
        Effect.withConfigProvider(base)
      )
    })
  )
})
