import * as Config from "effect/Config"
import * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"

/**
 * `name` read with `config` (unnamed, e.g. Config.integer()) and checked by `check`, one message for both: a value
 * `config` cannot read ("abc" for an integer) gets the setting's own rule, as one `check` refuses does, rather than
 * Effect's "Expected an integer value". Inside Config.nested so the error names the key; a missing value stays
 * missing, so a default (withDefault) still applies.
 */
export const validatedSetting = <A>(
  name: string,
  config: Config.Config<A>,
  check: { readonly message: string; readonly validation: (a: A) => boolean }
): Config.Config<A> =>
  Config.nested(
    Config.mapOrFail(
      // an unreadable value becomes None here (Config.orElseIf would keep Effect's message beside ours, in an Or)
      Config.orElseIf(Config.map(config, Option.some), {
        if: ConfigError.isInvalidData,
        orElse: () => Config.succeed(Option.none<A>())
      }),
      (value) =>
        Option.isSome(value) && check.validation(value.value)
          ? Either.right(value.value)
          : Either.left(ConfigError.InvalidData([], check.message))
    ),
    name
  )

/** A positive integer setting with a default. */
const positive = (name: string, fallback: number): Config.Config<number> =>
  validatedSetting(name, Config.integer(), { message: "must be a positive integer", validation: (n) => n > 0 }).pipe(
    Config.withDefault(fallback)
  )

/**
 * The job settings every queue backend shares, declared once: the in-memory queue reads them through AppConfig,
 * the BullMQ and SQS layers through these same declarations (name, default and validation in one place).
 */
export const jobSettings = {
  /** Runs per job before it is dead-lettered. */
  attempts: positive("JOB_ATTEMPTS", 5),
  /** First retry delay; doubles per attempt. */
  backoffMs: positive("JOB_BACKOFF_MS", 1000),
  /** How long closing waits for active jobs (and the ingest for in-flight requests). */
  shutdownTimeoutMs: positive("SHUTDOWN_TIMEOUT_MS", 10_000)
} as const

/**
 * A TCP port. 0 asks the system for any free port (tests and benchmarks read the address from the log); above
 * 65535 the listen itself would crash.
 */
const port = (name: string, fallback: number) =>
  validatedSetting(name, Config.integer(), {
    message: "must be a port number from 1 to 65535 (0: any free port)",
    validation: (n) => n >= 0 && n <= 65535
  }).pipe(Config.withDefault(fallback))

/**
 * REDIS_URL: a redis:// or rediss:// URL. ioredis reads a bare "host:port" as well, but silently ignores what a
 * URL would carry (database, password, TLS), so it is refused rather than half-understood.
 */
export const redisUrlConfig: Config.Config<Redacted.Redacted<string>> = Config.nested(
  Config.validate(Config.redacted(), {
    message: "must be a URL of the form redis://[:password@]host:6379[/db] (or rediss:// for TLS)",
    validation: (url) => /^rediss?:\/\/[^/?#]/i.test(Redacted.value(url))
  }),
  "REDIS_URL"
)

/**
 * Why `url` is no Postgres connection URL postgres.js would read as written (worded for DATABASE_URL, never quoting
 * the value), or undefined when it is one. A URL with no host at all (`postgres:///app`: libpq's form for the host in
 * PGHOST, a Unix socket's folder or a name, with PGUSER and PGPASSWORD) is taken only while `pgHost` (PGHOST, which
 * postgres.js then reads) is set. Without it, such a URL is what a template of unset variables makes
 * (`postgres://${HOST}/${DB}`), and would connect to localhost and migrate whatever database is there.
 */
export const databaseUrlProblem = (
  url: string,
  pgHost: string | undefined = process.env.PGHOST
): string | undefined => {
  if (url.trim() === "") {
    return (
      "is blank: set it to a postgres://user:password@host:5432/database URL, or leave DATABASE_URL unset for the " +
      "embedded database (a blank one would connect to the driver's defaults: localhost, the OS user's database)"
    )
  }
  const form =
    "must be a URL of the form postgres://user:password@host:5432/database (or postgresql://), naming its host " +
    "(or postgres:///database with PGHOST set)"
  const authority = /^postgres(?:ql)?:\/\/([^/?#]*)/i.exec(url)?.[1]
  if (authority === undefined) return form
  // a user without a host (`postgres://rf@/app`) is no URL at all: postgres.js's `new URL` throws
  if (authority === "") return pgHost !== undefined && pgHost.trim() !== "" ? undefined : form
  // as postgres.js reads it: the hosts follow the first "@" (several, comma-separated, for a multi-host URL)
  return authority
    .slice(authority.indexOf("@") + 1)
    .split(",")
    .every((host) => /^(?:\[[0-9a-f:.]+\]|[^\s:@[\]]+)(?::\d{1,5})?$/i.test(host))
    ? undefined
    : form
}

/**
 * DATABASE_URL: a postgres:// or postgresql:// URL with a host. Unset selects the embedded database; set but blank (an
 * unset variable interpolated by compose) is refused, as REDIS_URL is: postgres.js would take "" as "every libpq
 * default" and migrate whatever database that is. The message never holds the value.
 */
export const databaseUrlConfig: Config.Config<Redacted.Redacted<string>> = Config.nested(
  Config.mapOrFail(Config.redacted(), (url) => {
    const problem = databaseUrlProblem(Redacted.value(url))
    return problem === undefined ? Either.right(url) : Either.left(ConfigError.InvalidData([], problem))
  }),
  "DATABASE_URL"
)

/**
 * A webhook's shared secret: unset, the webhook refuses every delivery; set but blank (an unset variable interpolated
 * by compose, an empty value in the Secrets Manager JSON) is refused at start, for an empty HMAC key would let anyone
 * sign a HubSpot delivery, and a blank Marketo token would refuse every delivery without a word.
 */
const webhookSecret = (name: string): Config.Config<Option.Option<Redacted.Redacted<string>>> =>
  Config.option(
    Config.nested(
      Config.validate(Config.redacted(), {
        message: `must not be blank (leave ${name} unset to refuse every delivery)`,
        validation: (secret) => Redacted.value(secret).trim() !== ""
      }),
      name
    )
  ).pipe(
    // HTTP strips the whitespace around a header's value, so a token kept with it ("mtok ") would refuse every
    // delivery; none of these secrets has whitespace at its ends (as API keys, see src/http/auth.ts)
    Config.map(Option.map((secret) => Redacted.make(Redacted.value(secret).trim())))
  )

/** A list setting whose whole value is blank ("" reads as one empty entry). */
const isBlankList = (values: ReadonlyArray<string>): boolean => values.every((value) => value.trim() === "")

/** Every setting the programs read, validated together so start-up names every bad key at once. */
export const appConfig = Config.all({
  host: Config.string("HOST").pipe(Config.withDefault("0.0.0.0")),
  port: port("PORT", 3000),
  metricsPort: port("METRICS_PORT", 9464),
  databaseUrl: Config.option(databaseUrlConfig),
  redisUrl: Config.option(redisUrlConfig),
  // Set but blank (an unset variable interpolated by compose, say) would silently open the API: refuse it.
  apiKeys: Config.option(
    Config.nested(
      Config.validate(Config.redacted(Config.array(Config.string())), {
        message: "must list at least one non-blank key (leave INGEST_API_KEYS unset for no authentication)",
        validation: (keys) => Redacted.value(keys).some((key) => key.trim() !== "")
      }),
      "INGEST_API_KEYS"
    )
  ),
  // Browser pages (by their Origin header) that may call /mcp; any other page is refused (DNS rebinding). Blank is
  // none, as unset is (the strictest: no page), so layerWith's `mcpAllowedOrigins: []` says the same; a blank entry
  // beside origins ("https://a,") stays refused, a list cut short.
  mcpAllowedOrigins: Config.nested(
    Config.validate(Config.array(Config.string()), {
      message: "must list origins as scheme://host[:port], comma-separated, without a path",
      validation: (origins) =>
        isBlankList(origins) || origins.every((origin) => /^https?:\/\/[^/\s?#]+$/i.test(origin.trim()))
    }),
    "MCP_ALLOWED_ORIGINS"
  ).pipe(
    Config.map((origins) => (isBlankList(origins) ? [] : origins.map((origin) => origin.trim().toLowerCase()))),
    Config.withDefault([] as ReadonlyArray<string>)
  ),
  // With no INGEST_API_KEYS: the host names (besides localhost and IP addresses) the guarded routes answer, so that a
  // page on any other name cannot reach them by DNS rebinding (src/http/auth.ts, makeHostCheck).
  allowedHosts: Config.nested(
    Config.validate(Config.array(Config.string()), {
      message: "must list host names (e.g. ingest.internal), comma-separated, without scheme, port or path",
      validation: (hosts) =>
        hosts.every((host) => host.trim() === "" || /^[a-z0-9]([a-z0-9.-]*[a-z0-9.])?$/i.test(host.trim()))
    }),
    "INGEST_ALLOWED_HOSTS"
  ).pipe(
    Config.map((hosts) => hosts.map((host) => host.trim().toLowerCase()).filter((host) => host !== "")),
    Config.withDefault([] as ReadonlyArray<string>)
  ),
  maxBodyBytes: positive("MAX_BODY_BYTES", 64 * 1024),
  // a client's time to send a whole request (its headers within 10 s of it); then 408 and the connection closed
  requestTimeoutMs: positive("REQUEST_TIMEOUT_MS", 30_000),
  // how long an idle keep-alive connection stays open: longer than the load balancer's idle timeout (an AWS ALB's is
  // 60 s), or the balancer may send a request on a connection the server is closing, and answer its client 502
  keepAliveTimeoutMs: positive("KEEP_ALIVE_TIMEOUT_MS", 65_000),
  // an intake answers 503 after this rather than hold its client while the store is silent
  ingestStoreTimeoutMs: positive("INGEST_STORE_TIMEOUT_MS", 2000),
  workerConcurrency: positive("WORKER_CONCURRENCY", 5),
  jobAttempts: jobSettings.attempts,
  jobBackoffMs: jobSettings.backoffMs,
  shutdownTimeoutMs: jobSettings.shutdownTimeoutMs,
  sweepIntervalMs: positive("SWEEP_INTERVAL_MS", 15_000),
  // a long-running program's quiet time after activity before it gives memory back (src/programs/memoryRelease.ts)
  memoryReleaseQuietMs: validatedSetting("MEMORY_RELEASE_QUIET_MS", Config.integer(), {
    message: "must be 0 (never) or at least 1000 ms",
    validation: (n) => n === 0 || n >= 1000
  }).pipe(Config.withDefault(5000)),
  sweepMinAgeMs: positive("SWEEP_MIN_AGE_MS", 30_000),
  sweepProcessingMinAgeMs: positive("SWEEP_PROCESSING_MIN_AGE_MS", 10 * 60 * 1000),
  // on a queue that cannot tell a lead is already queued (SQS): how long a sent lead waits before it is sent again
  sweepResendMinAgeMs: positive("SWEEP_RESEND_MIN_AGE_MS", 60 * 60 * 1000),
  rateLimits: Config.all({
    perLead: positive("RATE_LIMIT_PER_LEAD", 10),
    perAccount: positive("RATE_LIMIT_PER_ACCOUNT", 100),
    crm: positive("RATE_LIMIT_CRM", 1000),
    windowMs: positive("RATE_LIMIT_WINDOW_MS", 60_000)
  }),
  idempotency: Config.all({
    inProgressTtlMs: positive("IDEMPOTENCY_IN_PROGRESS_TTL_MS", 120_000),
    completedTtlMs: positive("IDEMPOTENCY_TTL_MS", 7 * 24 * 3600 * 1000),
    crmTimeoutMs: positive("CRM_TIMEOUT_MS", 10_000)
  }).pipe(
    // A claim that lapses while its CRM call is still running lets another worker send the same action.
    Config.mapOrFail(({ inProgressTtlMs, completedTtlMs, crmTimeoutMs }) =>
      inProgressTtlMs > crmTimeoutMs
        ? Either.right({ inProgressTtlMs, completedTtlMs })
        : Either.left(
            ConfigError.InvalidData(
              ["IDEMPOTENCY_IN_PROGRESS_TTL_MS"],
              "must be longer than CRM_TIMEOUT_MS: a claimed action must outlive the CRM call it guards, or another worker may send it again"
            )
          )
    )
  ),
  webhooks: Config.all({
    marketoToken: webhookSecret("MARKETO_WEBHOOK_TOKEN"),
    // the token Marketo may still send while it is being rotated: accepted as well (README, "Secrets and rotation")
    marketoTokenPrevious: webhookSecret("MARKETO_WEBHOOK_TOKEN_PREVIOUS"),
    hubspotAppSecret: webhookSecret("HUBSPOT_APP_SECRET"),
    hubspotAppSecretPrevious: webhookSecret("HUBSPOT_APP_SECRET_PREVIOUS"),
    hubspotPublicUrl: Config.option(
      Config.nested(
        Config.validate(Config.string(), {
          message: "must be the absolute http(s) URL HubSpot calls, e.g. https://hooks.example.com/webhooks/hubspot",
          validation: (url) => /^https?:\/\/[^/?#\s]+/i.test(url.trim()) && URL.canParse(url.trim())
        }),
        "HUBSPOT_WEBHOOK_URL"
      )
    ),
    hubspotCampaignProperty: Config.option(Config.string("HUBSPOT_CAMPAIGN_PROPERTY")),
    // HubSpot contact bodies carry every property's history: far more than a lead posted to /leads
    maxBodyBytes: positive("MAX_WEBHOOK_BODY_BYTES", 1024 * 1024)
  }).pipe(
    Config.mapOrFail((webhooks) => {
      // a previous secret alone would leave the webhook refusing every delivery while it looks configured
      const orphan = (
        [
          ["MARKETO_WEBHOOK_TOKEN", webhooks.marketoToken, webhooks.marketoTokenPrevious],
          ["HUBSPOT_APP_SECRET", webhooks.hubspotAppSecret, webhooks.hubspotAppSecretPrevious]
        ] as const
      ).find(([, current, previous]) => Option.isNone(current) && Option.isSome(previous))
      return orphan === undefined
        ? Either.right(webhooks)
        : Either.left(
            ConfigError.InvalidData(
              [`${orphan[0]}_PREVIOUS`],
              `is set without ${orphan[0]}: set the current one too (the previous one is only accepted beside it)`
            )
          )
    })
  ),
  breaker: Config.literal("MEMORY", "REDIS")("CIRCUIT_BREAKER").pipe(Config.withDefault("MEMORY" as const)),
  crmProvider: Config.literal(
    "MOCK",
    "SALESFORCE",
    "HUBSPOT"
  )("CRM_PROVIDER").pipe(Config.withDefault("MOCK" as const)),
  analyzer: Config.literal("HEURISTIC", "BEDROCK")("ANALYZER").pipe(Config.withDefault("HEURISTIC" as const)),
  enrichmentProvider: Config.literal("MOCK", "HTTP")("ENRICHMENT_PROVIDER").pipe(Config.withDefault("MOCK" as const))
})

export type AppConfigShape = Config.Config.Success<typeof appConfig>

export declare namespace AppConfig {
  export type Service = AppConfigShape
}

/** Typed, validated configuration. Secrets (DATABASE_URL, REDIS_URL, API keys) stay Redacted. */
export class AppConfig extends Context.Tag("revenueflow/AppConfig")<AppConfig, AppConfig.Service>() {}
