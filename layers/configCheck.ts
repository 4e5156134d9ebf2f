import * as Config from "effect/Config"
import * as ConfigError from "effect/ConfigError"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import { type AppConfig, appConfig } from "../services/AppConfig.js"
import { CheckedSections, type InvalidConfiguration, loadConfig, redisClientConfig } from "./shared/config.js"
import * as BullMqOptions from "./bullmq/JobQueueOptions.js"
import { migrateOnStartConfig } from "./postgres/migrations.js"
import * as Logging from "./observability/Logger.js"
import * as Pglite from "./postgres/pglite.js"
import * as PostgresJs from "./postgres/postgresJs.js"
import * as SqsConfig from "./sqs/config.js"
import { awsRegionConfig } from "./aws/region.js"

/**
 * The settings that choose the optional sections, read as plain strings: a bad value (CRM_PROVIDER=FOO) is reported
 * by appConfig in the same pass, and must not hide the keys of the sections a good value selects.
 */
export interface Selectors {
  readonly databaseUrl: boolean
  readonly redisUrl: boolean
  readonly queueBackend: string
  readonly crmProvider: string
  readonly analyzer: string
  readonly enrichmentProvider: string
  readonly circuitBreaker: string
}

const isSet = (name: string) => Config.option(Config.string(name)).pipe(Config.map(Option.isSome))
const selected = (name: string, fallback: string) => Config.string(name).pipe(Config.withDefault(fallback))

export const selectors: Config.Config<Selectors> = Config.all({
  databaseUrl: isSet("DATABASE_URL"),
  redisUrl: isSet("REDIS_URL"),
  queueBackend: selected("QUEUE_BACKEND", ""),
  crmProvider: selected("CRM_PROVIDER", "MOCK"),
  analyzer: selected("ANALYZER", "HEURISTIC"),
  enrichmentProvider: selected("ENRICHMENT_PROVIDER", "MOCK"),
  circuitBreaker: selected("CIRCUIT_BREAKER", "MEMORY")
})

/**
 * DATABASE_URL unset where the embedded database cannot load: a bundle (it carries none), or an app embedding the
 * library without the optional peer. (It names no package to install: the bundles' operators have none to install.)
 */
export const bundleNeedsDatabase =
  "is required: the bundles run on Postgres; the embedded database is for npm start, and for an app embedding " +
  "revenueflow once it installs the optional peer PGlite (README: What the package holds)"

/** A section that always fails with `message` on `key`, so it is listed with every other bad key. */
const refuse = (key: string, message: string): Config.Config<never> =>
  Config.succeed(undefined).pipe(Config.mapOrFail(() => Either.left(ConfigError.InvalidData([key], message))))

/** The store's settings: Postgres' when DATABASE_URL is set; else the embedded database must be at hand. */
export const storeSection = (s: Selectors): ReadonlyArray<Config.Config<unknown>> =>
  s.databaseUrl
    ? [PostgresJs.config, migrateOnStartConfig]
    : Pglite.embeddedAvailable()
      ? [Pglite.dataDirConfig]
      : [refuse("DATABASE_URL", bundleNeedsDatabase)]

/**
 * The queue's settings: QUEUE_BACKEND itself, then SQS's (QUEUE_BACKEND=SQS) or BullMQ's (BULLMQ, or unset with
 * REDIS_URL; REDIS_URL itself is checked by appConfig).
 */
export const queueSection = (s: Selectors): ReadonlyArray<Config.Config<unknown>> => [
  SqsConfig.queueBackendConfig,
  ...(s.queueBackend === "SQS"
    ? [SqsConfig.config, awsRegionConfig("QUEUE_BACKEND=SQS")]
    : s.queueBackend === "BULLMQ" || (s.queueBackend === "" && s.redisUrl)
      ? [BullMqOptions.config]
      : [])
]

/** The Redis client's settings (key prefix, command timeout) when REDIS_URL is set. */
export const redisSection = (s: Pick<Selectors, "redisUrl">): ReadonlyArray<Config.Config<unknown>> =>
  s.redisUrl ? [redisClientConfig] : []

/**
 * What a program that runs leads through the CRM needs on SQS beside the queue (QUEUE_BACKEND=SQS): REDIS_URL, for
 * SQS delivers a message at least once and every instance of a consumer takes from the same queue, so two of them may
 * hold one lead at once, and only idempotency claims they share (in Redis) keep its CRM writes to one each — the
 * in-process ones cannot; and SQS_DLQ_URL, where permanent failures and unreadable messages are moved.
 */
export const sharedQueueSection = (s: Selectors): ReadonlyArray<Config.Config<unknown>> =>
  s.queueBackend !== "SQS" ? [] : [...sharedClaimsSection(s), SqsConfig.deadLetterQueueRequired]

/** REDIS_URL refused as missing, with `why`, when a setting that needs it is chosen and it is not set. */
const redisRequired = (needed: boolean, redisUrl: boolean, why: string): ReadonlyArray<Config.Config<never>> =>
  needed && !redisUrl ? [refuse("REDIS_URL", `is required with ${why}`)] : []

/**
 * REDIS_URL with QUEUE_BACKEND=SQS, for whatever runs the safety chain (the consumers, /mcp on every ingest replica):
 * with BullMQ, Redis is there already; the in-memory queue is one process.
 */
export const sharedClaimsSection = (s: Pick<Selectors, "queueBackend" | "redisUrl">) =>
  redisRequired(
    s.queueBackend === "SQS",
    s.redisUrl,
    "QUEUE_BACKEND=SQS: the replicas that write to the CRM must share their idempotency claims, or two of them " +
      "holding one lead (SQS may deliver a message twice) could write it twice"
  )

/**
 * REDIS_URL with CIRCUIT_BREAKER=REDIS, for whatever builds the breaker (the consumers, /mcp on the ingest): the
 * shared breaker keeps its state in Redis, and falling back to one breaker per process would silently undo the
 * choice (every replica probing a failing CRM on its own).
 */
export const sharedBreakerSection = (s: Pick<Selectors, "circuitBreaker" | "redisUrl">) =>
  redisRequired(
    s.circuitBreaker === "REDIS",
    s.redisUrl,
    "CIRCUIT_BREAKER=REDIS: the shared breaker keeps its state in Redis (or set CIRCUIT_BREAKER=MEMORY for one " +
      "breaker per process)"
  )

/**
 * Checks the core settings and the sections `sections` picks (from the selectors) in one pass, so start-up fails
 * once with every missing or invalid key listed (never a value), instead of section after section; LOG_LEVEL and
 * LOG_FORMAT too (the logger, built before, keeps its defaults on a bad value). With
 * `CheckedSections` provided (a program's start), AppConfig and each section are recorded there for their layers.
 */
export const checkConfigWith = (
  sections: (selectors: Selectors) => ReadonlyArray<Config.Config<unknown>>
): Effect.Effect<AppConfig.Service, InvalidConfiguration> =>
  Effect.flatMap(loadConfig(selectors), (s) => {
    const read: ReadonlyArray<Config.Config<unknown>> = [appConfig, Logging.config, ...sections(s)]
    return loadConfig(Config.all(read)).pipe(
      Effect.flatMap((values) =>
        Effect.map(CheckedSections, (checked) => {
          if (checked !== undefined) read.forEach((section, i) => void checked.set(section, values[i]))
          return values[0] as AppConfig.Service
        })
      )
    )
  })
