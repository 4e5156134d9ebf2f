import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it, vi } from "@effect/vitest"
import type * as Config from "effect/Config"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as FastCheck from "effect/FastCheck"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Logging from "../../layers/observability/Logger.js"
import * as BullMqOptions from "../../layers/bullmq/JobQueueOptions.js"
import * as PostgresJs from "../../layers/postgres/postgresJs.js"
import { CheckedSections, checkedOr, loadConfig } from "../../layers/shared/config.js"
import { checkConfig, checkIngestConfig, layerSafetyChainFromConfig } from "../../layers/presets.js"
import { salesforceConfig } from "../../layers/salesforce/config.js"
import { AppConfig, appConfig } from "../../services/AppConfig.js"
import { scopedProcessEnv } from "../support/processEnv.js"

const env = (entries: Record<string, string>) =>
  ConfigProvider.fromMap(new Map(Object.entries(entries)), { pathDelim: "_" })

const failureOf = <A, E>(effect: Effect.Effect<A, E>, entries: Record<string, string>) =>
  Effect.flip(effect.pipe(Effect.withConfigProvider(env(entries))))

/** The failure of a check expected to fail; a check that passes fails the test by name, not with the config read. */
const refusalOf = <A, E>(effect: Effect.Effect<A, E>, entries: Record<string, string>) =>
  Effect.flatMap(Effect.either(effect.pipe(Effect.withConfigProvider(env(entries)))), (result) =>
    Either.isLeft(result) ? Effect.succeed(result.left) : Effect.die(new Error("the check passed"))
  )

/** The line of `key` in an InvalidConfiguration's message. */
const lineOf = (message: string, key: string) => message.split("\n").find((line) => line.startsWith(` - ${key}:`))

const salesforceMethods =
  "SALESFORCE_CLIENT_ID + SALESFORCE_CLIENT_SECRET (client credentials), " +
  "SALESFORCE_CLIENT_ID + SALESFORCE_USERNAME + SALESFORCE_PRIVATE_KEY (JWT bearer), " +
  "SALESFORCE_ACCESS_TOKEN + SALESFORCE_INSTANCE_URL (session)"

describe("the start-up check", () => {
  it.effect("lists the core's bad keys and the selected sections' in one pass", () =>
    Effect.gen(function* () {
      const error = yield* failureOf(checkConfig, {
        WORKER_CONCURRENCY: "0",
        DATABASE_URL: "postgres://rf:pw-s3cret@db.internal:5432/app",
        DATABASE_POOL_SIZE: "0",
        REDIS_URL: "redis://127.0.0.1:6379",
        JOB_BACKOFF_JITTER: "2",
        CRM_PROVIDER: "HUBSPOT",
        ANALYZER: "BEDROCK",
        AWS_REGION: "eu-west-1",
        BEDROCK_TIMEOUT_MS: "-1",
        ENRICHMENT_PROVIDER: "HTTP",
        ENRICHMENT_BASE_URL: "https://enrich.example.com"
      })
      expect([...error.keys].sort()).toEqual(
        [
          "WORKER_CONCURRENCY",
          "DATABASE_POOL_SIZE",
          "JOB_BACKOFF_JITTER",
          "HUBSPOT_ACCESS_TOKEN",
          "BEDROCK_TIMEOUT_MS",
          "BEDROCK_MODEL_ID",
          "ENRICHMENT_API_KEY"
        ].sort()
      )
      expect(error.message).not.toContain("s3cret")
    })
  )

  it.effect("an idempotency claim no longer than a CRM call is refused, naming both settings", () =>
    Effect.gen(function* () {
      for (const entries of [
        { IDEMPOTENCY_IN_PROGRESS_TTL_MS: "4000", CRM_TIMEOUT_MS: "5000" },
        { IDEMPOTENCY_IN_PROGRESS_TTL_MS: "10000" },
        { CRM_TIMEOUT_MS: "120000" }
      ]) {
        const error = yield* failureOf(checkConfig, entries)
        expect([...error.keys]).toEqual(["IDEMPOTENCY_IN_PROGRESS_TTL_MS"])
        expect(error.message).toContain("must be longer than CRM_TIMEOUT_MS")
      }
      const config = yield* checkConfig.pipe(
        Effect.withConfigProvider(env({ IDEMPOTENCY_IN_PROGRESS_TTL_MS: "4000", CRM_TIMEOUT_MS: "2000" }))
      )
      expect(config.idempotency.inProgressTtlMs).toBe(4000)
    })
  )

  it.effect("a bad selector is reported beside the keys of the sections the other selectors choose", () =>
    Effect.gen(function* () {
      const error = yield* failureOf(checkConfig, { CRM_PROVIDER: "HUBSPOTT", ENRICHMENT_PROVIDER: "HTTP" })
      expect([...error.keys].sort()).toEqual(["CRM_PROVIDER", "ENRICHMENT_API_KEY", "ENRICHMENT_BASE_URL"])
    })
  )

  it.effect("Salesforce without credentials is one line naming the three sign-in methods", () =>
    Effect.gen(function* () {
      const error = yield* failureOf(checkConfig, { CRM_PROVIDER: "SALESFORCE" })
      expect(error.message).toBe(
        `Invalid configuration:\n - SALESFORCE: no credentials — set one of: ${salesforceMethods}`
      )
      const partial = yield* failureOf(checkConfig, {
        CRM_PROVIDER: "SALESFORCE",
        SALESFORCE_CLIENT_ID: "client-id-s3cret",
        SALESFORCE_USERNAME: "integration@example.com"
      })
      expect(partial.message).toBe(
        "Invalid configuration:\n - SALESFORCE: incomplete credentials (SALESFORCE_CLIENT_ID, SALESFORCE_USERNAME set)" +
          ` — set one of: ${salesforceMethods}`
      )
    })
  )

  it.effect(
    "Salesforce uses the first complete sign-in method: session, then JWT bearer, then client credentials",
    () =>
      Effect.gen(function* () {
        const methodOf = (entries: Record<string, string>) =>
          salesforceConfig.pipe(
            Effect.map((options) => options.auth._tag),
            Effect.withConfigProvider(env(entries))
          )
        const cc = {
          SALESFORCE_CLIENT_ID: "id",
          SALESFORCE_CLIENT_SECRET: "secret",
          SALESFORCE_LOGIN_URL: "https://acme.my.salesforce.com"
        }
        const jwt = { ...cc, SALESFORCE_USERNAME: "u@example.com", SALESFORCE_PRIVATE_KEY: "-----BEGIN" }
        const session = {
          ...jwt,
          SALESFORCE_ACCESS_TOKEN: "00D!x",
          SALESFORCE_INSTANCE_URL: "https://x.my.salesforce.com"
        }
        expect(yield* methodOf(cc)).toBe("ClientCredentials")
        expect(yield* methodOf(jwt)).toBe("JwtBearer")
        expect(yield* methodOf(session)).toBe("AccessToken")
        // half a session does not shadow a complete method
        expect(yield* methodOf({ ...cc, SALESFORCE_ACCESS_TOKEN: "00D!x" })).toBe("ClientCredentials")
      })
  )

  it.effect("the ingest's check reads no CRM, analyser or enrichment setting; the consumer's does", () =>
    Effect.gen(function* () {
      const selectedButUnset = {
        CRM_PROVIDER: "HUBSPOT",
        ANALYZER: "BEDROCK",
        ENRICHMENT_PROVIDER: "HTTP",
        AWS_REGION: "eu-west-1"
      }
      const config = yield* checkIngestConfig.pipe(Effect.withConfigProvider(env(selectedButUnset)))
      expect(config.crmProvider).toBe("HUBSPOT")
      const error = yield* failureOf(checkConfig, selectedButUnset)
      expect([...error.keys].sort()).toEqual([
        "BEDROCK_MODEL_ID",
        "ENRICHMENT_API_KEY",
        "ENRICHMENT_BASE_URL",
        "HUBSPOT_ACCESS_TOKEN"
      ])
    })
  )

  it.effect("both check the Redis client's settings when REDIS_URL is set, and neither when it is not", () =>
    Effect.gen(function* () {
      const bad = { REDIS_COMMAND_TIMEOUT_MS: "2s" }
      for (const check of [checkIngestConfig, checkConfig]) {
        const error = yield* failureOf(check, { ...bad, REDIS_URL: "redis://127.0.0.1:6379" })
        expect(error.message).toBe("Invalid configuration:\n - REDIS_COMMAND_TIMEOUT_MS: must be a positive integer")
        yield* check.pipe(Effect.withConfigProvider(env(bad)))
      }
    })
  )
})

describe("CRM and enrichment credentials", () => {
  it.effect("a blank token, secret or key is refused at start, named, as a missing one is", () =>
    Effect.gen(function* () {
      const hubspot = yield* failureOf(checkConfig, { CRM_PROVIDER: "HUBSPOT", HUBSPOT_ACCESS_TOKEN: "  " })
      expect(lineOf(hubspot.message, "HUBSPOT_ACCESS_TOKEN")).toBe(
        " - HUBSPOT_ACCESS_TOKEN: must not be blank (it is a credential: leave HUBSPOT_ACCESS_TOKEN unset if it is not used)"
      )
      const salesforce = yield* failureOf(checkConfig, {
        CRM_PROVIDER: "SALESFORCE",
        SALESFORCE_CLIENT_ID: "3MVG9-client",
        SALESFORCE_CLIENT_SECRET: "",
        SALESFORCE_LOGIN_URL: "https://acme.my.salesforce.com"
      })
      expect([...salesforce.keys]).toContain("SALESFORCE_CLIENT_SECRET")
      // the enrichment API's key too: a blank one started the consumer, which then sent "Bearer " on every call
      const enrichment = yield* failureOf(checkConfig, {
        ENRICHMENT_PROVIDER: "HTTP",
        ENRICHMENT_BASE_URL: "https://enrich.example.com",
        ENRICHMENT_API_KEY: " "
      })
      expect(lineOf(enrichment.message, "ENRICHMENT_API_KEY")).toBe(
        " - ENRICHMENT_API_KEY: must not be blank (it is a credential: leave ENRICHMENT_API_KEY unset if it is not used)"
      )
    })
  )
})

describe("on SQS (QUEUE_BACKEND=SQS)", () => {
  const sqs = {
    DATABASE_URL: "postgres://rf@db.internal:5432/app",
    QUEUE_BACKEND: "SQS",
    AWS_REGION: "eu-west-1",
    SQS_QUEUE_URL: "https://sqs.eu-west-1.amazonaws.com/123456789012/leads"
  }

  it.effect("a consumer needs REDIS_URL (shared claims) and SQS_DLQ_URL, each named with why; the ingest neither", () =>
    Effect.gen(function* () {
      const error = yield* failureOf(checkConfig, sqs)
      expect([...error.keys].sort()).toEqual(["REDIS_URL", "SQS_DLQ_URL"])
      expect(error.message).toMatch(/REDIS_URL[^\n]*idempotency claims/)
      expect(error.message).toMatch(/SQS_DLQ_URL[^\n]*permanent failures/)
      const ready = {
        ...sqs,
        REDIS_URL: "redis://127.0.0.1:6379",
        SQS_DLQ_URL: "https://sqs.eu-west-1.amazonaws.com/123456789012/leads-dlq"
      }
      expect((yield* checkConfig.pipe(Effect.withConfigProvider(env(ready)))).workerConcurrency).toBe(5)
      // the ingest only sends: neither is required of it
      const ingest = yield* checkIngestConfig.pipe(Effect.withConfigProvider(env(sqs)))
      expect(ingest.port).toBe(3000)
      // but its /mcp writes to the CRM: the safety chain it builds on the first call needs the shared claims
      const chain = yield* Effect.flip(
        Layer.build(layerSafetyChainFromConfig).pipe(
          Effect.provideService(AppConfig, ingest),
          Effect.scoped,
          Effect.withConfigProvider(env(sqs))
        )
      )
      expect((chain as { readonly keys: ReadonlyArray<string> }).keys).toEqual(["REDIS_URL"])
    })
  )
})

describe("ports and REDIS_URL", () => {
  it.effect.prop(
    "PORT and METRICS_PORT outside 0–65535 are refused, naming the key and not the value",
    [FastCheck.oneof(FastCheck.integer({ min: 65536 }), FastCheck.integer({ max: -1 })), FastCheck.boolean()],
    ([port, metrics]) =>
      Effect.gen(function* () {
        const key = metrics ? "METRICS_PORT" : "PORT"
        const error = yield* failureOf(loadConfig(appConfig), { [key]: String(port) })
        expect(error.message).toBe(
          `Invalid configuration:\n - ${key}: must be a port number from 1 to 65535 (0: any free port)`
        )
      })
  )

  it.effect.prop(
    "PORT and METRICS_PORT from 0 to 65535 are read",
    [FastCheck.integer({ min: 0, max: 65535 })],
    ([port]) =>
      Effect.gen(function* () {
        const config = yield* loadConfig(appConfig).pipe(
          Effect.withConfigProvider(env({ PORT: String(port), METRICS_PORT: String(port) }))
        )
        expect([config.port, config.metricsPort]).toEqual([port, port])
      })
  )

  it.effect.prop(
    "a REDIS_URL without a redis:// or rediss:// scheme (host:port, say) is refused, saying the expected form",
    [
      FastCheck.oneof(
        FastCheck.tuple(FastCheck.domain(), FastCheck.integer({ min: 1, max: 65535 })).map(([h, p]) => `${h}:${p}`),
        FastCheck.tuple(FastCheck.ipV4(), FastCheck.integer({ min: 1, max: 65535 })).map(([h, p]) => `${h}:${p}`),
        FastCheck.domain(),
        FastCheck.domain().map((h) => `http://${h}:6379`)
      )
    ],
    ([url]) =>
      Effect.gen(function* () {
        const error = yield* failureOf(loadConfig(appConfig), { REDIS_URL: url })
        expect(error.keys).toEqual(["REDIS_URL"])
        expect(error.message).toContain("redis://[:password@]host:6379[/db]")
        expect(error.message).not.toContain(url)
      })
  )

  it.effect("MCP_ALLOWED_ORIGINS: origins without a path, read trimmed and lowercased; anything else named", () =>
    Effect.gen(function* () {
      const config = yield* loadConfig(appConfig).pipe(
        Effect.withConfigProvider(env({ MCP_ALLOWED_ORIGINS: "https://Inspector.example.com, http://localhost:6274" }))
      )
      expect(config.mcpAllowedOrigins).toEqual(["https://inspector.example.com", "http://localhost:6274"])
      expect((yield* loadConfig(appConfig).pipe(Effect.withConfigProvider(env({})))).mcpAllowedOrigins).toEqual([])
      for (const bad of [
        "https://a.example.com/mcp",
        "a.example.com",
        "https://a.example.com,",
        "ftp://a.example.com"
      ]) {
        const error = yield* failureOf(checkConfig, { MCP_ALLOWED_ORIGINS: bad })
        expect(error.keys, bad).toEqual(["MCP_ALLOWED_ORIGINS"])
        expect(error.message).toContain("scheme://host[:port]")
      }
    })
  )

  it.effect("INGEST_ALLOWED_HOSTS: host names, read trimmed and lowercased; a URL, a port or a path named", () =>
    Effect.gen(function* () {
      const config = yield* loadConfig(appConfig).pipe(
        Effect.withConfigProvider(env({ INGEST_ALLOWED_HOSTS: " Ingest.Internal, console.example.com." }))
      )
      expect(config.allowedHosts).toEqual(["ingest.internal", "console.example.com."])
      expect((yield* loadConfig(appConfig).pipe(Effect.withConfigProvider(env({})))).allowedHosts).toEqual([])
      for (const bad of ["http://ingest.internal", "ingest.internal:3000", "ingest.internal/console", "a b"]) {
        const error = yield* failureOf(checkConfig, { INGEST_ALLOWED_HOSTS: bad })
        expect(error.keys, bad).toEqual(["INGEST_ALLOWED_HOSTS"])
        expect(error.message).toContain("host names")
        expect(error.message).not.toContain(bad)
      }
    })
  )

  it.effect("webhook secrets are read without the whitespace around them (HTTP strips it from header values)", () =>
    Effect.gen(function* () {
      const config = yield* loadConfig(appConfig).pipe(
        Effect.withConfigProvider(
          env({
            MARKETO_WEBHOOK_TOKEN: "mtok ",
            MARKETO_WEBHOOK_TOKEN_PREVIOUS: " old\t",
            HUBSPOT_APP_SECRET: "\nhs-secret "
          })
        )
      )
      const value = (secret: typeof config.webhooks.marketoToken) =>
        secret._tag === "Some" ? Redacted.value(secret.value) : undefined
      expect(value(config.webhooks.marketoToken)).toBe("mtok")
      expect(value(config.webhooks.marketoTokenPrevious)).toBe("old")
      expect(value(config.webhooks.hubspotAppSecret)).toBe("hs-secret")
    })
  )

  it.effect("redis:// and rediss:// URLs are read", () =>
    Effect.gen(function* () {
      for (const url of ["redis://127.0.0.1:6379", "rediss://:pw@cache.internal:6380/2", "REDIS://h"]) {
        const config = yield* loadConfig(appConfig).pipe(Effect.withConfigProvider(env({ REDIS_URL: url })))
        expect(config.redisUrl._tag).toBe("Some")
      }
    })
  )
})

describe("the sections the check read, for the layers built at start", () => {
  it.effect("a layer takes its section as the check read it, once; a later read goes to the settings again", () =>
    Effect.gen(function* () {
      const sections = new Map<Config.Config<unknown>, unknown>()
      const settings = {
        DATABASE_URL: "postgres://rf:pw@db.internal:5432/app",
        DATABASE_POOL_SIZE: "3",
        REDIS_URL: "redis://127.0.0.1:6379",
        QUEUE_NAME: "checked-queue"
      }
      yield* checkIngestConfig.pipe(
        Effect.provideService(CheckedSections, sections),
        Effect.withConfigProvider(env(settings))
      )
      // the store's and the queue's sections were recorded; the environment is now empty: only the record answers
      const noSettings = env({})
      const postgres = yield* checkedOr(PostgresJs.config).pipe(
        Effect.provideService(CheckedSections, sections),
        Effect.withConfigProvider(noSettings)
      )
      expect(postgres.poolSize).toBe(3)
      const queue = yield* checkedOr(BullMqOptions.config).pipe(
        Effect.provideService(CheckedSections, sections),
        Effect.withConfigProvider(noSettings)
      )
      expect(queue.queueName).toBe("checked-queue")
      // taken once: a second read (a layer built later) reads the settings, which now lack DATABASE_URL
      const again = yield* Effect.flip(
        checkedOr(PostgresJs.config).pipe(
          Effect.provideService(CheckedSections, sections),
          Effect.withConfigProvider(noSettings)
        )
      )
      expect(String(again)).toContain("DATABASE_URL")
    })
  )

  it.effect("without a record (a check run outside a program's start), the layers read their settings", () =>
    Effect.gen(function* () {
      yield* checkIngestConfig.pipe(Effect.withConfigProvider(env({ DATABASE_URL: "postgres://db/app" })))
      const read = yield* checkedOr(PostgresJs.config).pipe(
        Effect.withConfigProvider(env({ DATABASE_URL: "postgres://db/app", DATABASE_POOL_SIZE: "7" }))
      )
      expect(read.poolSize).toBe(7)
    })
  )
})

describe("LOG_LEVEL and LOG_FORMAT", () => {
  it.effect("are checked with the rest: listed beside the other bad keys, with the values allowed", () =>
    Effect.gen(function* () {
      const bad = { LOG_LEVEL: "verbose", LOG_FORMAT: "xml", WORKER_CONCURRENCY: "abc", JOB_ATTEMPTS: "-1" }
      for (const check of [checkConfig, checkIngestConfig]) {
        const error = yield* failureOf(check, bad)
        expect([...error.keys].sort()).toEqual(["JOB_ATTEMPTS", "LOG_FORMAT", "LOG_LEVEL", "WORKER_CONCURRENCY"])
        expect(lineOf(error.message, "LOG_LEVEL")).toBe(
          " - LOG_LEVEL: must be one of All, Trace, Debug, Info, Warn, Error, Fatal, Off (any case)"
        )
        expect(lineOf(error.message, "LOG_FORMAT")).toBe(" - LOG_FORMAT: must be json or pretty (any case)")
        expect(error.message).not.toContain("verbose")
        expect(error.message).not.toContain("xml")
      }
    })
  )

  it.effect("are read in any case", () =>
    Effect.gen(function* () {
      for (const entries of [
        { LOG_FORMAT: "JSON", LOG_LEVEL: "debug" },
        { LOG_FORMAT: "Pretty", LOG_LEVEL: "WARN" }
      ]) {
        expect((yield* checkConfig.pipe(Effect.withConfigProvider(env(entries)))).port).toBe(3000)
      }
    })
  )

  /**
   * The lines `Logging.layerConfig(defaultFormat)` writes for a warning and a debug message, under `entries` (in a
   * runtime of their own: the loggers a provided layer installs outlive Effect.provide in the calling fiber).
   */
  const linesOf = (entries: Record<string, string>, defaultFormat: "json" | "pretty") =>
    Effect.acquireUseRelease(
      Effect.sync(() => vi.spyOn(console, "log").mockImplementation(() => undefined)),
      (spy) =>
        Effect.promise(() =>
          Effect.runPromise(
            Effect.zipRight(Effect.logWarning("a warning"), Effect.logDebug("a debug message")).pipe(
              Effect.provide(Logging.layerConfig(defaultFormat)),
              Effect.withConfigProvider(env(entries))
            )
          )
        ).pipe(Effect.map(() => spy.mock.calls.map((args) => String(args[0])))),
      (spy) => Effect.sync(() => spy.mockRestore())
    )

  const isJson = (line: string) => Either.isRight(Either.try(() => JSON.parse(line)))

  it.effect("the logger reads them in any case", () =>
    Effect.gen(function* () {
      const json = yield* linesOf({ LOG_FORMAT: "JSON" }, "pretty")
      expect(json.map(isJson)).toEqual([true])
      expect(JSON.parse(json[0]!)).toMatchObject({ level: "warn", message: "a warning" })
      const pretty = yield* linesOf({ LOG_FORMAT: "Pretty", LOG_LEVEL: "debug" }, "json")
      expect(pretty.map(isJson)).toEqual([false, false])
      expect(pretty[1]).toContain("a debug message")
    })
  )

  it.effect("a bad one leaves the logger at its default, so that the check, not the logger, reports it", () =>
    Effect.gen(function* () {
      const lines = yield* linesOf({ LOG_FORMAT: "xml", LOG_LEVEL: "verbose" }, "json")
      expect(lines.length).toBe(1)
      expect(JSON.parse(lines[0]!)).toMatchObject({ level: "warn", message: "a warning" })
    })
  )
})

describe("integer settings", () => {
  /** Settings of each kind of declaration (AppConfig's ports and positives, the sections' positives, `validated`). */
  const rules: ReadonlyArray<readonly [key: string, outOfRange: string, rule: string]> = [
    ["PORT", "70000", "must be a port number from 1 to 65535 (0: any free port)"],
    ["METRICS_PORT", "-1", "must be a port number from 1 to 65535 (0: any free port)"],
    ["WORKER_CONCURRENCY", "0", "must be a positive integer"],
    ["KEEP_ALIVE_TIMEOUT_MS", "-5", "must be a positive integer"],
    ["MEMORY_RELEASE_QUIET_MS", "10", "must be 0 (never) or at least 1000 ms"],
    ["CIRCUIT_BREAKER_OPEN_MS", "0", "must be a positive integer"],
    ["DATABASE_POOL_SIZE", "0", "must be a positive integer"],
    ["JOB_MAX_STALLED_COUNT", "-1", "must be >= 0"],
    ["REDIS_COMMAND_TIMEOUT_MS", "0", "must be a positive integer"],
    ["MOCK_CRM_LATENCY_MS", "-1", "must be a whole number of milliseconds, 0 or more"],
    ["CLOUDWATCH_METRICS_INTERVAL_MS", "999", "must be a whole number of milliseconds, at least 1000"]
  ]
  const backends = { DATABASE_URL: "postgres://rf@db.internal:5432/app", REDIS_URL: "redis://127.0.0.1:6379" }

  it.effect.prop(
    "a value that is no integer at all gets the setting's own rule, as one out of range does, never the value",
    [
      FastCheck.constantFrom(...rules),
      FastCheck.oneof(
        FastCheck.constantFrom("abc", "x", "1.5", "12px", "1e400", "0x1g", "five"),
        FastCheck.string({ minLength: 1 }).filter((text) => !Number.isInteger(Number(text)))
      )
    ],
    ([[key, outOfRange, rule], text]) =>
      Effect.gen(function* () {
        for (const value of [text, outOfRange]) {
          const error = yield* failureOf(checkConfig, { ...backends, [key]: value })
          expect(error.message).toBe(`Invalid configuration:\n - ${key}: ${rule}`)
        }
      })
  )
})

describe("CIRCUIT_BREAKER=REDIS", () => {
  it.effect("without REDIS_URL is refused by the consumer's check, naming REDIS_URL and why", () =>
    Effect.gen(function* () {
      const error = yield* failureOf(checkConfig, { CIRCUIT_BREAKER: "REDIS" })
      expect([...error.keys]).toEqual(["REDIS_URL"])
      expect(lineOf(error.message, "REDIS_URL")).toMatch(/is required with CIRCUIT_BREAKER=REDIS/)
      const both = yield* failureOf(checkConfig, { CIRCUIT_BREAKER: "REDIS", WORKER_CONCURRENCY: "abc" })
      expect([...both.keys].sort()).toEqual(["REDIS_URL", "WORKER_CONCURRENCY"])
      const config = yield* checkConfig.pipe(
        Effect.withConfigProvider(env({ CIRCUIT_BREAKER: "REDIS", REDIS_URL: "redis://127.0.0.1:6379" }))
      )
      expect(config.breaker).toBe("REDIS")
      // the ingest builds no breaker at start: its /mcp does, and refuses it there
      const ingest = yield* checkIngestConfig.pipe(Effect.withConfigProvider(env({ CIRCUIT_BREAKER: "REDIS" })))
      const chain = yield* Effect.flip(
        Layer.build(layerSafetyChainFromConfig).pipe(
          Effect.provideService(AppConfig, ingest),
          Effect.scoped,
          Effect.withConfigProvider(env({ CIRCUIT_BREAKER: "REDIS" }))
        )
      )
      expect((chain as { readonly keys: ReadonlyArray<string> }).keys).toEqual(["REDIS_URL"])
      expect((chain as { readonly message: string }).message).toMatch(
        /REDIS_URL: is required with CIRCUIT_BREAKER=REDIS/
      )
    })
  )
})

describe("webhook settings", () => {
  it.effect(
    "a blank webhook secret or token is refused, each named, as a blank INGEST_API_KEYS is; never the value",
    () =>
      Effect.gen(function* () {
        for (const check of [checkConfig, checkIngestConfig]) {
          const error = yield* refusalOf(check, {
            HUBSPOT_APP_SECRET: "",
            MARKETO_WEBHOOK_TOKEN: "   ",
            HUBSPOT_APP_SECRET_PREVIOUS: " ",
            INGEST_API_KEYS: ""
          })
          expect([...error.keys].sort()).toEqual(
            ["HUBSPOT_APP_SECRET", "HUBSPOT_APP_SECRET_PREVIOUS", "INGEST_API_KEYS", "MARKETO_WEBHOOK_TOKEN"].sort()
          )
          expect(lineOf(error.message, "HUBSPOT_APP_SECRET")).toContain(
            "must not be blank (leave HUBSPOT_APP_SECRET unset to refuse every delivery)"
          )
          expect(lineOf(error.message, "MARKETO_WEBHOOK_TOKEN")).toContain("must not be blank")
        }
        // unset: the webhooks refuse every delivery, and the programs start
        const config = yield* loadConfig(appConfig).pipe(Effect.withConfigProvider(env({})))
        expect(config.webhooks.hubspotAppSecret._tag).toBe("None")
        expect(config.webhooks.marketoToken._tag).toBe("None")
      })
  )

  it.effect("a previous webhook secret without the current one is refused, naming it; both together are read", () =>
    Effect.gen(function* () {
      const error = yield* refusalOf(checkIngestConfig, {
        HUBSPOT_APP_SECRET_PREVIOUS: "old-secret",
        MARKETO_WEBHOOK_TOKEN_PREVIOUS: "old-token"
      })
      expect(error.keys).toEqual(["MARKETO_WEBHOOK_TOKEN_PREVIOUS"])
      expect(error.message).toContain("is set without MARKETO_WEBHOOK_TOKEN")
      expect(error.message).not.toContain("old-token")
      const config = yield* loadConfig(appConfig).pipe(
        Effect.withConfigProvider(env({ HUBSPOT_APP_SECRET: "new-secret", HUBSPOT_APP_SECRET_PREVIOUS: "old-secret" }))
      )
      expect(config.webhooks.hubspotAppSecretPrevious._tag).toBe("Some")
    })
  )

  it.effect("HUBSPOT_WEBHOOK_URL must be an absolute http(s) URL; MAX_WEBHOOK_BODY_BYTES a positive integer", () =>
    Effect.gen(function* () {
      const error = yield* refusalOf(checkIngestConfig, {
        HUBSPOT_WEBHOOK_URL: "hooks.example.com/webhooks/hubspot",
        MAX_WEBHOOK_BODY_BYTES: "0"
      })
      expect([...error.keys].sort()).toEqual(["HUBSPOT_WEBHOOK_URL", "MAX_WEBHOOK_BODY_BYTES"])
      const config = yield* loadConfig(appConfig).pipe(
        Effect.withConfigProvider(env({ HUBSPOT_WEBHOOK_URL: "https://hooks.example.com/webhooks/hubspot?portal=42" }))
      )
      expect(config.webhooks.maxBodyBytes).toBe(1024 * 1024)
    })
  )
})

describe("a program that calls AWS without a Region", () => {
  const noRegion = { AWS_REGION: undefined, AWS_DEFAULT_REGION: undefined, AWS_PROFILE: undefined }

  it.scoped(
    "is refused at start naming AWS_REGION, with Bedrock or SQS; a Region in the environment or the shared config passes",
    () =>
      Effect.gen(function* () {
        const dir = mkdtempSync(join(tmpdir(), "rf-aws-config-"))
        yield* Effect.addFinalizer(() => Effect.sync(() => rmSync(dir, { recursive: true, force: true })))
        yield* scopedProcessEnv({ ...noRegion, AWS_CONFIG_FILE: join(dir, "absent") })
        const bedrock = {
          DATABASE_URL: "postgres://rf@db.internal:5432/app",
          ANALYZER: "BEDROCK",
          BEDROCK_MODEL_ID: "us.anthropic.claude-haiku-4-5-20251001-v1:0"
        }
        const sqs = {
          DATABASE_URL: "postgres://rf@db.internal:5432/app",
          QUEUE_BACKEND: "SQS",
          SQS_QUEUE_URL: "https://sqs.eu-west-1.amazonaws.com/123456789012/leads",
          SQS_DLQ_URL: "https://sqs.eu-west-1.amazonaws.com/123456789012/leads-dlq",
          REDIS_URL: "redis://127.0.0.1:6379"
        }
        expect(lineOf((yield* failureOf(checkConfig, bedrock)).message, "AWS_REGION")).toContain(
          "required with ANALYZER=BEDROCK"
        )
        expect(lineOf((yield* failureOf(checkConfig, sqs)).message, "AWS_REGION")).toContain(
          "required with QUEUE_BACKEND=SQS"
        )
        // the ingest on SQS sends to it too
        expect(lineOf((yield* failureOf(checkIngestConfig, sqs)).message, "AWS_REGION")).toContain("QUEUE_BACKEND=SQS")
        yield* checkConfig.pipe(Effect.withConfigProvider(env({ ...bedrock, AWS_REGION: "us-east-1" })))
        // the profile's region in the shared config file, as the SDK reads it
        const file = join(dir, "config")
        writeFileSync(file, "[default]\noutput = json\n\n[profile leads]\nregion = eu-west-3 # Paris\n")
        yield* scopedProcessEnv({ AWS_CONFIG_FILE: file, AWS_PROFILE: "leads" })
        yield* checkConfig.pipe(Effect.withConfigProvider(env(bedrock)))
        yield* scopedProcessEnv({ AWS_PROFILE: undefined })
        expect(lineOf((yield* failureOf(checkConfig, bedrock)).message, "AWS_REGION")).toBeDefined()
      })
  )
})

describe("the circuit breaker's settings", () => {
  it.effect("a longest open time shorter than the first is named by its key, not as the config's root", () =>
    Effect.gen(function* () {
      const error = yield* failureOf(checkConfig, {
        DATABASE_URL: "postgres://rf@db.internal:5432/app",
        CIRCUIT_BREAKER_OPEN_MS: "10000",
        CIRCUIT_BREAKER_MAX_OPEN_MS: "5000"
      })
      expect(error.message).toBe(
        "Invalid configuration:\n - CIRCUIT_BREAKER_MAX_OPEN_MS: must be at least CIRCUIT_BREAKER_OPEN_MS"
      )
    })
  )
})
