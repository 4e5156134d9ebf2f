import { describe, expect, it } from "@effect/vitest"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as TestClock from "effect/TestClock"
import * as SecretsConfig from "../../../layers/aws/SecretsConfig.js"
import * as HttpEnricher from "../../../layers/http/Enricher.js"
import { appConfig } from "../../../services/AppConfig.js"
import { Enricher } from "../../../services/Enricher.js"
import { SecretsRefresh } from "../../../services/SecretsRefresh.js"
import { makeFakeEnrichment } from "../../fakes/enrichment.js"
import { makeFakeSecretsManager } from "../../fakes/secretsManager.js"
import { makeLogCapture } from "../../support/logCapture.js"

const awsSecretKey = "fakeSecretsManagerKey/DoNotLog+abcdef0123"
Object.assign(process.env, {
  AWS_REGION: "eu-west-1",
  AWS_ACCESS_KEY_ID: "AKIAFAKESECRETSTEST",
  AWS_SECRET_ACCESS_KEY: awsSecretKey,
  AWS_EC2_METADATA_DISABLED: "true"
})
for (const name of ["AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_MAX_ATTEMPTS"])
  delete process.env[name]

/** Every secret value used below: none may appear in a log line or an error. */
const secretValues = [awsSecretKey, "pw-one-s3cret", "pw-two-s3cret", "enrich-key-one", "enrich-key-two", "s3cret-port"]

const appSecret = (password: string, enrichmentKey: string) =>
  JSON.stringify({
    DATABASE_URL: `postgres://app:${password}@db:5432/rf`,
    ENRICHMENT_API_KEY: enrichmentKey,
    PORT: 4000
  })

/** The environment the test pretends to run in (a map, so process.env stays untouched but for AWS_*). */
const env = (entries: Record<string, string>) =>
  ConfigProvider.fromMap(new Map(Object.entries(entries)), { pathDelim: "_" })

/** Waits in real time (the SDK's I/O is real) until `check` holds. */
const eventually = <E, R>(check: Effect.Effect<boolean, E, R>) =>
  Effect.gen(function* () {
    for (let i = 0; i < 200; i++) {
      if (yield* check) return
      yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 10)))
    }
    throw new Error("condition not met in time")
  })

const setup = Effect.gen(function* () {
  const secrets = yield* makeFakeSecretsManager({
    "rf/app": appSecret("pw-one-s3cret", "enrich-key-one"),
    "rf/crm": JSON.stringify({ CRM_PROVIDER: "HUBSPOT" })
  })
  process.env.AWS_ENDPOINT_URL_SECRETS_MANAGER = secrets.url
  const enrichment = yield* makeFakeEnrichment("enrich-key-one", { "acme.io": { name: "Acme", domain: "acme.io" } })
  const base = env({
    AWS_SECRETS_IDS: "rf/app, rf/crm",
    AWS_SECRETS_REFRESH_MS: "60000",
    HOST: "127.0.0.1",
    PORT: "3000",
    ENRICHMENT_BASE_URL: enrichment.url,
    ENRICHMENT_API_KEY: "env-key-is-overridden"
  })
  return { secrets, enrichment, base }
})

describe("Secrets Manager configuration", () => {
  it.scoped("overlays secrets on the environment for appConfig and the layers' Config (secrets win)", () =>
    Effect.gen(function* () {
      const logs = makeLogCapture()
      const { secrets, base } = yield* setup
      const config = yield* appConfig.pipe(
        Effect.provide(SecretsConfig.layer),
        Effect.provide(logs.layer),
        Effect.withConfigProvider(base)
      )
      expect(config.port).toBe(4000)
      expect(config.host).toBe("127.0.0.1")
      expect(config.crmProvider).toBe("HUBSPOT")
      expect(Option.map(config.databaseUrl, Redacted.value)).toEqual(
        Option.some("postgres://app:pw-one-s3cret@db:5432/rf")
      )
      expect(String(config.databaseUrl)).not.toContain("pw-one-s3cret")
      expect(secrets.secretIds().sort()).toEqual(["rf/app", "rf/crm"])
      expect(secrets.requests[0]!.headers["x-amz-target"]).toBe("secretsmanager.GetSecretValue")
      for (const value of secretValues) expect(logs.lines.join("\n")).not.toContain(value)
    })
  )

  it.scoped("turns an RDS-format secret (the one RDS generates and rotates) into DATABASE_URL, rotation included", () =>
    Effect.gen(function* () {
      const logs = makeLogCapture()
      const rds = (password: string) =>
        JSON.stringify({
          engine: "postgres",
          host: "rf.abc.eu-west-1.rds.amazonaws.com",
          port: 5432,
          username: "revenueflow",
          password,
          dbname: "revenueflow",
          dbInstanceIdentifier: "rf"
        })
      const secrets = yield* makeFakeSecretsManager({ "rf/db": rds("p@ss/w:rd s3cret") })
      process.env.AWS_ENDPOINT_URL_SECRETS_MANAGER = secrets.url
      const base = env({ AWS_SECRETS_IDS: "rf/db", AWS_SECRETS_REFRESH_MS: "60000" })
      yield* Effect.gen(function* () {
        const config = yield* appConfig
        expect(Option.map(config.databaseUrl, Redacted.value)).toEqual(
          Option.some(
            "postgres://revenueflow:p%40ss%2Fw%3Ard%20s3cret@rf.abc.eu-west-1.rds.amazonaws.com:5432/revenueflow?sslmode=require"
          )
        )
        const readUrl = yield* SecretsConfig.liveRedacted("DATABASE_URL")
        secrets.rotate("rf/db", rds("pw-two-s3cret"))
        yield* TestClock.adjust("60 seconds")
        yield* eventually(readUrl.pipe(Effect.map((url) => Redacted.value(url).includes(":pw-two-s3cret@"))))
      }).pipe(Effect.provide(SecretsConfig.layer), Effect.provide(logs.layer), Effect.withConfigProvider(base))
      for (const value of ["p@ss/w:rd s3cret", "p%40ss", "pw-two-s3cret"]) {
        expect(logs.lines.join("\n")).not.toContain(value)
      }
    })
  )

  it.scoped("picks up a rotated secret on the refresh interval, without a restart (liveRedacted)", () =>
    Effect.gen(function* () {
      const logs = makeLogCapture()
      const { secrets, base } = yield* setup
      yield* Effect.gen(function* () {
        const readKey = yield* SecretsConfig.liveRedacted("ENRICHMENT_API_KEY")
        expect(Redacted.value(yield* readKey)).toBe("enrich-key-one")
        secrets.rotate("rf/app", appSecret("pw-two-s3cret", "enrich-key-two"))
        yield* TestClock.adjust("59 seconds")
        expect(Redacted.value(yield* readKey)).toBe("enrich-key-one")
        yield* TestClock.adjust("1 second")
        yield* eventually(readKey.pipe(Effect.map((key) => Redacted.value(key) === "enrich-key-two")))
        expect(secrets.requests).toHaveLength(4)
      }).pipe(Effect.provide(SecretsConfig.layer), Effect.provide(logs.layer), Effect.withConfigProvider(base))
      for (const value of secretValues) expect(logs.lines.join("\n")).not.toContain(value)
    })
  )

  it.scoped("refreshes on demand, so a layer reading a key live (HTTP enricher) survives a rotation", () =>
    Effect.gen(function* () {
      const logs = makeLogCapture()
      const { secrets, enrichment, base } = yield* setup
      yield* Effect.gen(function* () {
        const enricher = yield* Enricher
        const { refresh } = yield* SecretsRefresh
        expect(Option.isSome(yield* enricher.enrich("acme.io"))).toBe(true)
        expect(enrichment.requests[0]!.headers.authorization).toBe("Bearer enrich-key-one")

        // The provider rotates the key; until we refresh, our old key is refused.
        enrichment.rotateKey("enrich-key-two")
        secrets.rotate("rf/app", appSecret("pw-one-s3cret", "enrich-key-two"))
        const refused = yield* Effect.flip(enricher.enrich("other.io"))
        expect(refused.message).toBe("provider answered HTTP 401")

        yield* refresh
        expect(yield* enricher.enrich("other.io")).toEqual(Option.none())
        expect(enrichment.requests.at(-1)!.headers.authorization).toBe("Bearer enrich-key-two")
        const errorText = JSON.stringify(refused)
        for (const value of secretValues) expect(errorText).not.toContain(value)
      }).pipe(
        Effect.provide(HttpEnricher.layerConfig),
        Effect.provide(SecretsConfig.layer),
        Effect.provide(logs.layer),
        Effect.withConfigProvider(base)
      )
      for (const value of secretValues) expect(logs.lines.join("\n")).not.toContain(value)
    })
  )

  it.scoped("a storm of refreshes on demand is one read every few seconds; waiting callers share it", () =>
    Effect.gen(function* () {
      const { secrets, base } = yield* setup
      yield* Effect.gen(function* () {
        const { refresh } = yield* SecretsRefresh
        const reads = () => secrets.secretIds().filter((id) => id === "rf/app").length
        const atStart = reads()
        // a busy consumer: every call refused at once, each asking for a refresh
        yield* Effect.all(
          Array.from({ length: 20 }, () => refresh),
          { concurrency: "unbounded" }
        )
        expect(reads()).toBe(atStart + 1)
        yield* refresh
        expect(reads()).toBe(atStart + 1)
        // later (the clock moved past the interval), a refusal reads again
        yield* TestClock.adjust(`${SecretsConfig.ON_DEMAND_EVERY_MS} millis`)
        yield* refresh
        expect(reads()).toBe(atStart + 2)
      }).pipe(Effect.provide(SecretsConfig.layer), Effect.withConfigProvider(base))
    })
  )

  it.scoped("layers composed with Layer.provide read through the secrets too", () =>
    Effect.gen(function* () {
      const { enrichment, base } = yield* setup
      const live = HttpEnricher.layerConfig.pipe(Layer.provideMerge(SecretsConfig.layer))
      yield* Effect.gen(function* () {
        expect(Option.isSome(yield* (yield* Enricher).enrich("acme.io"))).toBe(true)
        expect((yield* appConfig).port).toBe(4000)
      }).pipe(Effect.provide(live), Effect.withConfigProvider(base))
      expect(enrichment.requests[0]!.headers.authorization).toBe("Bearer enrich-key-one")
    })
  )

  it.scoped("keeps serving the last good values when a refresh fails, and says so without values", () =>
    Effect.gen(function* () {
      const logs = makeLogCapture()
      const { secrets, base } = yield* setup
      yield* Effect.gen(function* () {
        const { refresh } = yield* SecretsRefresh
        secrets.setFailing(true)
        yield* refresh
        const config = yield* appConfig
        expect(config.port).toBe(4000)
      }).pipe(Effect.provide(SecretsConfig.layer), Effect.provide(logs.layer), Effect.withConfigProvider(base))
      expect(
        logs.lines.some(
          (line) => line.includes("secrets refresh failed") && line.includes("rf/app") && line.includes("rf/crm")
        )
      ).toBe(true)
      for (const value of secretValues) expect(logs.lines.join("\n")).not.toContain(value)
    })
  )

  it.scoped("fails start-up naming the secret that cannot be read or is not a JSON object, not its content", () =>
    Effect.gen(function* () {
      const { secrets, base } = yield* setup
      const missing = yield* Effect.flip(
        appConfig.pipe(
          Effect.provide(SecretsConfig.layer),
          Effect.withConfigProvider(env({ AWS_SECRETS_IDS: "rf/app,rf/nope" }))
        )
      )
      // the service's own words say why: what an operator needs, and nothing of any secret
      expect(missing.message).toBe(
        'secret "rf/nope" could not be read (ResourceNotFoundException, HTTP 400): Secrets Manager can\'t find the specified secret.'
      )

      secrets.rotate("rf/crm", "CRM_PROVIDER=s3cret-port")
      const malformed = yield* Effect.flip(
        appConfig.pipe(Effect.provide(SecretsConfig.layer), Effect.withConfigProvider(base))
      )
      expect(malformed.message).toBe('secret "rf/crm" is not a JSON object (SecretString)')
      expect(JSON.stringify(malformed)).not.toContain("s3cret-port")
    })
  )

  it.effect("without AWS_SECRETS_IDS, configuration is the environment alone and refresh is a no-op", () =>
    Effect.gen(function* () {
      const config = yield* Effect.gen(function* () {
        yield* (yield* SecretsRefresh).refresh
        return yield* appConfig
      }).pipe(Effect.provide(SecretsConfig.layer), Effect.withConfigProvider(env({ PORT: "3100" })))
      expect(config.port).toBe(3100)
    })
  )
})
