import * as ConfigError from "effect/ConfigError"
import * as ConfigProvider from "effect/ConfigProvider"
import * as PathPatch from "effect/ConfigProviderPathPatch"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import { AppConfig, appConfig } from "../services/AppConfig.js"
import { checkedOr, InvalidConfiguration, loadConfig } from "./shared/config.js"

/**
 * AppConfig from the environment (and whatever ConfigProvider is installed, e.g. Secrets Manager), or the value
 * start-up's check read from the same when the program recorded it (`CheckedSections`, see `runProgram`).
 */
export const layer = Layer.effect(AppConfig, checkedOr(appConfig))

/** A secret given in code: a plain string, or already Redacted. */
export type Secret = string | Redacted.Redacted<string>

/** A setting's value given in code. */
export type SettingValue = string | number | boolean | Redacted.Redacted<string>

/**
 * The settings of AppConfig given in code (every one optional: unset ones keep their defaults; `undefined` counts as
 * unset, so `process.env.X` can be passed as it is), validated exactly as the environment's are. Backend settings with
 * no field here (DATABASE_POOL_SIZE, SALESFORCE_*, HUBSPOT_*, BEDROCK_*, ...) go in `settings` under their environment
 * names.
 */
export interface AppConfigOptions {
  readonly host?: string | undefined
  readonly port?: number | undefined
  readonly metricsPort?: number | undefined
  /** Postgres (else: embedded PGlite in dataDir). */
  readonly databaseUrl?: Secret | undefined
  /** Redis: BullMQ queue, Redis rate limits and idempotency (else: in-process memory). */
  readonly redisUrl?: Secret | undefined
  /** API keys for the HTTP API (none: no authentication). A key may not contain a comma (INGEST_API_KEYS' separator). */
  readonly apiKeys?: ReadonlyArray<string> | undefined
  /** Browser pages (origins, `https://host[:port]`) that may call /mcp (none: no browser page may). */
  readonly mcpAllowedOrigins?: ReadonlyArray<string> | undefined
  readonly maxBodyBytes?: number | undefined
  readonly requestTimeoutMs?: number | undefined
  readonly keepAliveTimeoutMs?: number | undefined
  readonly ingestStoreTimeoutMs?: number | undefined
  readonly workerConcurrency?: number | undefined
  readonly jobAttempts?: number | undefined
  readonly jobBackoffMs?: number | undefined
  readonly shutdownTimeoutMs?: number | undefined
  readonly sweepIntervalMs?: number | undefined
  readonly sweepMinAgeMs?: number | undefined
  readonly sweepProcessingMinAgeMs?: number | undefined
  readonly sweepResendMinAgeMs?: number | undefined
  readonly rateLimits?:
    | {
        readonly perLead?: number | undefined
        readonly perAccount?: number | undefined
        readonly crm?: number | undefined
        readonly windowMs?: number | undefined
      }
    | undefined
  readonly idempotency?:
    | { readonly inProgressTtlMs?: number | undefined; readonly completedTtlMs?: number | undefined }
    | undefined
  readonly webhooks?:
    | {
        readonly marketoToken?: Secret | undefined
        /** The token still accepted while Marketo's is rotated (MARKETO_WEBHOOK_TOKEN_PREVIOUS). */
        readonly marketoTokenPrevious?: Secret | undefined
        readonly hubspotAppSecret?: Secret | undefined
        /** The app secret still accepted while it is rotated (HUBSPOT_APP_SECRET_PREVIOUS). */
        readonly hubspotAppSecretPrevious?: Secret | undefined
        readonly hubspotPublicUrl?: string | undefined
        readonly hubspotCampaignProperty?: string | undefined
        /** Both webhooks' body limit (MAX_WEBHOOK_BODY_BYTES). */
        readonly maxBodyBytes?: number | undefined
      }
    | undefined
  readonly breaker?: "MEMORY" | "REDIS" | undefined
  readonly crmProvider?: "MOCK" | "SALESFORCE" | "HUBSPOT" | undefined
  readonly analyzer?: "HEURISTIC" | "BEDROCK" | undefined
  readonly enrichmentProvider?: "MOCK" | "HTTP" | undefined
  /**
   * Any other setting by its environment name, e.g. `{ DATA_DIR: ".data", SALESFORCE_LOGIN_URL: "…" }`. A name that is
   * no RevenueFlow setting (a typo) is refused with InvalidConfiguration; so are LOG_LEVEL and LOG_FORMAT: logging is
   * your app's (no preset installs a logger: provide `Logger.minimumLogLevel`, or `Logging.layerConfig()`).
   */
  readonly settings?: Readonly<Record<string, SettingValue | undefined>> | undefined
  /** Read settings not given here from the environment too (default: false, only what is given here). */
  readonly fallbackToEnv?: boolean | undefined
}

const text = (value: SettingValue): string => (Redacted.isRedacted(value) ? Redacted.value(value) : String(value))

/** The environment names of AppConfigOptions' fields (see services/AppConfig.ts). */
const names = {
  host: "HOST",
  port: "PORT",
  metricsPort: "METRICS_PORT",
  databaseUrl: "DATABASE_URL",
  redisUrl: "REDIS_URL",
  maxBodyBytes: "MAX_BODY_BYTES",
  requestTimeoutMs: "REQUEST_TIMEOUT_MS",
  keepAliveTimeoutMs: "KEEP_ALIVE_TIMEOUT_MS",
  ingestStoreTimeoutMs: "INGEST_STORE_TIMEOUT_MS",
  workerConcurrency: "WORKER_CONCURRENCY",
  jobAttempts: "JOB_ATTEMPTS",
  jobBackoffMs: "JOB_BACKOFF_MS",
  shutdownTimeoutMs: "SHUTDOWN_TIMEOUT_MS",
  sweepIntervalMs: "SWEEP_INTERVAL_MS",
  sweepMinAgeMs: "SWEEP_MIN_AGE_MS",
  sweepProcessingMinAgeMs: "SWEEP_PROCESSING_MIN_AGE_MS",
  sweepResendMinAgeMs: "SWEEP_RESEND_MIN_AGE_MS",
  breaker: "CIRCUIT_BREAKER",
  crmProvider: "CRM_PROVIDER",
  analyzer: "ANALYZER",
  enrichmentProvider: "ENRICHMENT_PROVIDER"
} as const satisfies Partial<Record<keyof AppConfigOptions, string>>

const nested = {
  rateLimits: {
    perLead: "RATE_LIMIT_PER_LEAD",
    perAccount: "RATE_LIMIT_PER_ACCOUNT",
    crm: "RATE_LIMIT_CRM",
    windowMs: "RATE_LIMIT_WINDOW_MS"
  },
  idempotency: { inProgressTtlMs: "IDEMPOTENCY_IN_PROGRESS_TTL_MS", completedTtlMs: "IDEMPOTENCY_TTL_MS" },
  webhooks: {
    marketoToken: "MARKETO_WEBHOOK_TOKEN",
    marketoTokenPrevious: "MARKETO_WEBHOOK_TOKEN_PREVIOUS",
    hubspotAppSecret: "HUBSPOT_APP_SECRET",
    hubspotAppSecretPrevious: "HUBSPOT_APP_SECRET_PREVIOUS",
    hubspotPublicUrl: "HUBSPOT_WEBHOOK_URL",
    hubspotCampaignProperty: "HUBSPOT_CAMPAIGN_PROPERTY",
    maxBodyBytes: "MAX_WEBHOOK_BODY_BYTES"
  }
} as const

/** The options as environment variables: the one form every layer's Config reads. */
export const settingsOf = (options: AppConfigOptions): ReadonlyMap<string, string> => {
  const map = new Map<string, string>()
  const put = (name: string, value: SettingValue | undefined) => {
    if (value !== undefined) map.set(name, text(value))
  }
  for (const [field, name] of Object.entries(names)) put(name, options[field as keyof typeof names])
  for (const [group, fields] of Object.entries(nested)) {
    const values = (options[group as keyof typeof nested] ?? {}) as Readonly<Record<string, SettingValue | undefined>>
    for (const [field, name] of Object.entries(fields)) put(name, values[field])
  }
  if (options.apiKeys !== undefined) map.set("INGEST_API_KEYS", options.apiKeys.join(","))
  if (options.mcpAllowedOrigins !== undefined) map.set("MCP_ALLOWED_ORIGINS", options.mcpAllowedOrigins.join(","))
  for (const [name, value] of Object.entries(options.settings ?? {})) put(name, value)
  return map
}

/**
 * Every setting RevenueFlow's layers read through Config, by its environment name (the README's Configuration
 * section; test/package/config.test.ts keeps this list equal to what the code reads). LOG_LEVEL and LOG_FORMAT are
 * not among them: logging is the embedding app's.
 */
export const settingNames: ReadonlySet<string> = new Set(
  `
  ANALYZER AWS_DEFAULT_REGION AWS_REGION AWS_SECRETS_IDS AWS_SECRETS_REFRESH_MS BEDROCK_DECODE_RETRIES BEDROCK_HTTP1
  BEDROCK_MAX_ATTEMPTS
  BEDROCK_MAX_TOKENS BEDROCK_MODEL_ID BEDROCK_THROTTLE_DELAY_MS BEDROCK_TIMEOUT_MS CIRCUIT_BREAKER
  CIRCUIT_BREAKER_FAILURE_THRESHOLD CIRCUIT_BREAKER_MAX_OPEN_MS CIRCUIT_BREAKER_OPEN_MS
  CIRCUIT_BREAKER_PROBE_TIMEOUT_MS CLOUDWATCH_METRICS CLOUDWATCH_METRICS_INTERVAL_MS CLOUDWATCH_NAMESPACE
  CRM_PROVIDER CRM_TIMEOUT_MS DATA_DIR DATABASE_CONNECT_TIMEOUT_MS DATABASE_POOL_SIZE DATABASE_SCHEMA
  DATABASE_STATEMENT_TIMEOUT_MS DATABASE_URL ENRICHMENT_API_KEY ENRICHMENT_BASE_URL ENRICHMENT_CACHE_CAPACITY
  ENRICHMENT_CACHE_TTL_MS ENRICHMENT_PENDING_RETRIES ENRICHMENT_PENDING_WAIT_MS ENRICHMENT_PROVIDER ENRICHMENT_RETRIES
  ENRICHMENT_RETRY_BASE_MS ENRICHMENT_TIMEOUT_MS
  HOST HUBSPOT_ACCESS_TOKEN HUBSPOT_ACTION_KEY_PROPERTY HUBSPOT_ANNUAL_REVENUE_PROPERTY HUBSPOT_APP_SECRET
  HUBSPOT_APP_SECRET_PREVIOUS HUBSPOT_BASE_URL HUBSPOT_BURST_INTERVAL_MS HUBSPOT_BURST_LIMIT
  HUBSPOT_CAMPAIGN_PROPERTY HUBSPOT_COMPANY_KEY_PROPERTY HUBSPOT_DEAL_PIPELINE HUBSPOT_DECISION_PROPERTY
  HUBSPOT_EMPLOYEES_PROPERTY HUBSPOT_INDUSTRY_PROPERTY HUBSPOT_INTENT_PROPERTY HUBSPOT_LEAD_KEY_PROPERTY
  HUBSPOT_LEAD_STATUS_MAP HUBSPOT_LEAD_STATUS_PROPERTY HUBSPOT_SCORE_PROPERTY HUBSPOT_WEBHOOK_URL
  IDEMPOTENCY_IN_PROGRESS_TTL_MS IDEMPOTENCY_TTL_MS INGEST_ALLOWED_HOSTS INGEST_API_KEYS INGEST_STORE_TIMEOUT_MS JOB_ATTEMPTS
  JOB_BACKOFF_JITTER JOB_BACKOFF_MS JOB_LOCK_DURATION_MS JOB_MAX_STALLED_COUNT JOB_REMOVE_ON_COMPLETE
  JOB_STALLED_INTERVAL_MS KEEP_ALIVE_TIMEOUT_MS MARKETO_WEBHOOK_TOKEN MARKETO_WEBHOOK_TOKEN_PREVIOUS
  MAX_BODY_BYTES MAX_WEBHOOK_BODY_BYTES MCP_ALLOWED_ORIGINS MEMORY_RELEASE_QUIET_MS METRICS_PORT
  MIGRATE_ON_START MOCK_CRM_LATENCY_MS OTEL_EXPORTER_OTLP_ENDPOINT OTEL_SERVICE_NAME PORT QUEUE_BACKEND
  QUEUE_NAME QUEUE_TIMEOUT_MS RATE_LIMIT_CRM RATE_LIMIT_PER_ACCOUNT RATE_LIMIT_PER_LEAD RATE_LIMIT_WINDOW_MS
  REDIS_COMMAND_TIMEOUT_MS REDIS_KEY_PREFIX REDIS_URL REQUEST_TIMEOUT_MS SALESFORCE_ACCESS_TOKEN
  SALESFORCE_ACTION_KEY_FIELD SALESFORCE_ANNUAL_REVENUE_FIELD SALESFORCE_API_VERSION SALESFORCE_CLIENT_ID
  SALESFORCE_CLIENT_SECRET SALESFORCE_CONVERT_OWNER_ID SALESFORCE_DECISION_FIELD SALESFORCE_EMPLOYEES_FIELD SALESFORCE_INDUSTRY_FIELD
  SALESFORCE_INSTANCE_URL SALESFORCE_INTENT_FIELD SALESFORCE_JWT_AUDIENCE SALESFORCE_LEAD_KEY_FIELD
  SALESFORCE_LEAD_STATUS_MAP
  SALESFORCE_LOGIN_URL SALESFORCE_PRIVATE_KEY SALESFORCE_SCORE_FIELD SALESFORCE_USERNAME SHUTDOWN_TIMEOUT_MS
  SQS_DLQ_URL SQS_QUEUE_URL SWEEP_INTERVAL_MS SWEEP_MIN_AGE_MS SWEEP_PROCESSING_MIN_AGE_MS
  SWEEP_RESEND_MIN_AGE_MS WORKER_CONCURRENCY
`
    .trim()
    .split(/\s+/)
)

/** The settings `settings` may not give, each with why. */
const hostSettings: Readonly<Record<string, string>> = {
  LOG_LEVEL:
    "logging is your app's: layerWith and the presets install no logger (provide Logger.minimumLogLevel, or " +
    "Logging.layerConfig() reading your environment)",
  LOG_FORMAT:
    "logging is your app's: layerWith and the presets install no logger (provide your own, or " +
    "Logging.layerConfig() reading your environment)"
}

/** The closest setting name to a typo, when one is close (two edits at most). */
const closestSetting = (name: string): string | undefined => {
  const distance = (a: string, b: string): number => {
    let previous = Array.from({ length: b.length + 1 }, (_, i) => i)
    for (let i = 1; i <= a.length; i++) {
      const row = [i]
      for (let j = 1; j <= b.length; j++) {
        row[j] = Math.min(
          (previous[j] ?? 0) + 1,
          (row[j - 1] ?? 0) + 1,
          (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1)
        )
      }
      previous = row
    }
    return previous[b.length] ?? Number.POSITIVE_INFINITY
  }
  let best: { readonly name: string; readonly distance: number } | undefined
  for (const candidate of settingNames) {
    const d = distance(name.toUpperCase(), candidate)
    if (d <= 2 && (best === undefined || d < best.distance)) best = { name: candidate, distance: d }
  }
  return best?.name
}

/** `settings`' names that are no RevenueFlow setting (or are the app's own), each with why. */
const unknownSettings = (options: AppConfigOptions): ReadonlyArray<readonly [name: string, reason: string]> =>
  Object.keys(options.settings ?? {})
    .filter((name) => !settingNames.has(name))
    .map((name) => {
      const hint = closestSetting(name)
      return [
        name,
        hostSettings[name] ??
          `is not a RevenueFlow setting${hint === undefined ? "" : ` (did you mean ${hint}?)`}; see README "Configuration"`
      ]
    })

/**
 * Problems of the list options' entries: a comma inside an API key would split it into two keys on the way through
 * INGEST_API_KEYS (comma-separated), the fragments each authenticating. Names the option and the entry's position,
 * never the key.
 */
const listProblems = (options: AppConfigOptions): ReadonlyArray<readonly [name: string, reason: string]> =>
  (options.apiKeys ?? []).flatMap((key, i) =>
    key.includes(",")
      ? [["INGEST_API_KEYS", `apiKeys[${i}] contains a comma, which separates keys: a key may not hold one`] as const]
      : []
  )

/** The ConfigProvider over `options` (and the environment after them, with `fallbackToEnv`). */
export const providerOf = (options: AppConfigOptions): ConfigProvider.ConfigProvider => {
  const given = ConfigProvider.fromMap(new Map(settingsOf(options)))
  return options.fallbackToEnv === true ? ConfigProvider.orElse(given, () => ConfigProvider.fromEnv()) : given
}

/** `path` as `patch` rewrites it (ConfigProviderPathPatch's semantics; Effect keeps its own `patch` internal). */
const patched = (
  path: ReadonlyArray<string>,
  patch: PathPatch.PathPatch
): Effect.Effect<ReadonlyArray<string>, ConfigError.ConfigError> => {
  switch (patch._tag) {
    case "Empty":
      return Effect.succeed(path)
    case "AndThen":
      return Effect.flatMap(patched(path, patch.first), (next) => patched(next, patch.second))
    case "MapName":
      return Effect.succeed(path.map((segment) => patch.f(segment)))
    case "Nested":
      return Effect.succeed([patch.name, ...path])
    case "Unnested":
      return path[0] === patch.name
        ? Effect.succeed(path.slice(1))
        : Effect.fail(
            ConfigError.MissingData([...path], `Expected ${patch.name} to be in path in ConfigProvider#unnested`)
          )
  }
}

/**
 * One provider, two sources by name: RevenueFlow's settings (`settingNames`) from `ours`, every other name from
 * `host` (the provider the app had installed), so the app's own Config reads keep seeing its environment.
 */
const routed = (
  ours: ConfigProvider.ConfigProvider,
  host: ConfigProvider.ConfigProvider
): ConfigProvider.ConfigProvider => {
  const sourceOf = (path: ReadonlyArray<string>) => (settingNames.has(path.join("_")) ? ours : host).flattened
  return ConfigProvider.fromFlat(
    ConfigProvider.makeFlat({
      load: (path, primitive, split) => {
        const source = sourceOf(path)
        return Effect.flatMap(patched(path, source.patch), (at) => source.load(at, primitive, split))
      },
      enumerateChildren: (path) => {
        const source = sourceOf(path)
        return Effect.flatMap(patched(path, source.patch), (at) => source.enumerateChildren(at))
      },
      patch: PathPatch.empty
    })
  )
}

/**
 * Configuration from code: AppConfig from `options` (validated as the environment is: InvalidConfiguration lists
 * every bad setting by name, never its value, and every name in `settings` that is no RevenueFlow setting). The
 * layers built with this one provided — `layerFromConfig`'s store, queue, CRM... — read RevenueFlow's settings from
 * `options` (and the environment with `fallbackToEnv`) instead of the environment; every other name is still read
 * from the ConfigProvider your app had installed (its environment by default), so your own `Config` reads in the same
 * runtime are unchanged.
 *
 *     const Env = layerFromConfig.pipe(Layer.provideMerge(layerWith({ crmProvider: "MOCK", jobAttempts: 3 })))
 */
export const layerWith = (options: AppConfigOptions): Layer.Layer<AppConfig, InvalidConfiguration> => {
  const ours = providerOf(options)
  const refused = [...unknownSettings(options), ...listProblems(options)]
  const load = Effect.withConfigProvider(loadConfig(appConfig), ours)
  const checked =
    refused.length === 0
      ? load
      : Effect.flatMap(Effect.either(load), (loaded) => {
          const problems = [
            ...refused.map(([name, reason]) => ` - ${name}: ${reason}`),
            ...(loaded._tag === "Left" ? loaded.left.message.split("\n").slice(1) : [])
          ]
          const keys = [...refused.map(([name]) => name), ...(loaded._tag === "Left" ? loaded.left.keys : [])]
          return Effect.fail(
            new InvalidConfiguration({ message: ["Invalid configuration:", ...problems].join("\n"), keys })
          )
        })
  return Layer.merge(
    Layer.effect(AppConfig, checked),
    Layer.unwrapEffect(Effect.configProviderWith((host) => Effect.succeed(Layer.setConfigProvider(routed(ours, host)))))
  )
}
