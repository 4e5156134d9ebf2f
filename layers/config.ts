import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import { AppConfig, appConfig } from "../services/AppConfig.js"
import { checkedOr, type InvalidConfiguration, loadConfig } from "./shared/config.js"

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
 * The settings of AppConfig given in code (every one optional: unset ones keep their defaults), validated exactly as
 * the environment's are. Backend settings with no field here (DATABASE_POOL_SIZE, SALESFORCE_*, HUBSPOT_*,
 * BEDROCK_*, ...) go in `settings` under their environment names.
 */
export interface AppConfigOptions {
  readonly host?: string
  readonly port?: number
  readonly metricsPort?: number
  /** Postgres (else: embedded PGlite in dataDir). */
  readonly databaseUrl?: Secret
  /** Redis: BullMQ queue, Redis rate limits and idempotency (else: in-process memory). */
  readonly redisUrl?: Secret
  /** API keys for the HTTP API (none: no authentication). */
  readonly apiKeys?: ReadonlyArray<string>
  /** Browser pages (origins, `https://host[:port]`) that may call /mcp (none: no browser page may). */
  readonly mcpAllowedOrigins?: ReadonlyArray<string>
  readonly maxBodyBytes?: number
  readonly requestTimeoutMs?: number
  readonly keepAliveTimeoutMs?: number
  readonly ingestStoreTimeoutMs?: number
  readonly workerConcurrency?: number
  readonly jobAttempts?: number
  readonly jobBackoffMs?: number
  readonly shutdownTimeoutMs?: number
  readonly sweepIntervalMs?: number
  readonly sweepMinAgeMs?: number
  readonly sweepProcessingMinAgeMs?: number
  readonly sweepResendMinAgeMs?: number
  readonly rateLimits?: {
    readonly perLead?: number
    readonly perAccount?: number
    readonly crm?: number
    readonly windowMs?: number
  }
  readonly idempotency?: { readonly inProgressTtlMs?: number; readonly completedTtlMs?: number }
  readonly webhooks?: {
    readonly marketoToken?: Secret
    readonly hubspotAppSecret?: Secret
    readonly hubspotPublicUrl?: string
    readonly hubspotCampaignProperty?: string
  }
  readonly breaker?: "MEMORY" | "REDIS"
  readonly crmProvider?: "MOCK" | "SALESFORCE" | "HUBSPOT"
  readonly analyzer?: "HEURISTIC" | "BEDROCK"
  readonly enrichmentProvider?: "MOCK" | "HTTP"
  /** Any other setting by its environment name, e.g. `{ DATA_DIR: ".data", SALESFORCE_LOGIN_URL: "…" }`. */
  readonly settings?: Readonly<Record<string, SettingValue>>
  /** Read settings not given here from the environment too (default: false, only what is given here). */
  readonly fallbackToEnv?: boolean
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
    hubspotAppSecret: "HUBSPOT_APP_SECRET",
    hubspotPublicUrl: "HUBSPOT_WEBHOOK_URL",
    hubspotCampaignProperty: "HUBSPOT_CAMPAIGN_PROPERTY"
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

/** The ConfigProvider over `options` (and the environment after them, with `fallbackToEnv`). */
export const providerOf = (options: AppConfigOptions): ConfigProvider.ConfigProvider => {
  const given = ConfigProvider.fromMap(new Map(settingsOf(options)))
  return options.fallbackToEnv === true ? ConfigProvider.orElse(given, () => ConfigProvider.fromEnv()) : given
}

/**
 * Configuration from code: AppConfig from `options` (validated as the environment is: InvalidConfiguration lists
 * every bad setting by name, never its value), and the same settings installed as the ConfigProvider, so every layer built with this one
 * provided — `layerFromConfig`'s store, queue, CRM... — reads them instead of the environment.
 *
 *     const Env = layerFromConfig.pipe(Layer.provideMerge(layerWith({ crmProvider: "MOCK", jobAttempts: 3 })))
 */
export const layerWith = (options: AppConfigOptions): Layer.Layer<AppConfig, InvalidConfiguration> => {
  const provider = providerOf(options)
  return Layer.merge(
    Layer.effect(AppConfig, Effect.withConfigProvider(loadConfig(appConfig), provider)),
    Layer.setConfigProvider(provider)
  )
}
