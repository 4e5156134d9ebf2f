import * as Config from "effect/Config"
import type * as Effect from "effect/Effect"
import type * as Redacted from "effect/Redacted"
import { type LeadStatusMap, hubSpotLeadStatuses } from "../../src/domain/leadStatus.js"
import { leadStatusMapConfig } from "../../src/domain/leadStatusConfig.js"
import { credential, positiveInt, validated } from "../shared/config.js"

/** HubSpot property names the executor writes; every one can be renamed to match a portal. */
export interface HubSpotProperties {
  /** Contact property holding the lead key. */
  readonly leadKey: string
  /** Unique-value property on deals, tasks and notes holding the action key (the batch upsert idProperty). */
  readonly actionKey: string
  /** Unique-value property on companies holding the domain: companies are upserted by it, so none is made twice. */
  readonly companyKey: string
  readonly score: string
  readonly intent: string
  readonly decision: string
  readonly leadStatus: string
  readonly industry: string
  readonly employees: string
  readonly annualRevenue: string
  /** Pipeline of created deals. */
  readonly dealPipeline: string
}

/** Everything the HubSpot executor needs. */
export interface HubSpotOptions {
  /** The client's basePath: https://api.hubapi.com, or a local fake in tests. */
  readonly baseUrl: string
  /**
   * The private app token, read again after a 401 so a rotated secret is picked up without a restart.
   * A plain Redacted is read once.
   */
  readonly accessToken: Redacted.Redacted<string> | Effect.Effect<Redacted.Redacted<string>>
  /** Per-call deadline; the client itself has none. */
  readonly timeoutMs: number
  readonly properties: HubSpotProperties
  /** The hs_lead_status option written for each planned status (default: hubSpotLeadStatuses). */
  readonly leadStatuses?: LeadStatusMap | undefined
  /**
   * HubSpot's burst limit: calls per rolling interval (private apps: 100 per 10 s on Free / Starter, 190 on
   * Professional / Enterprise, 250 with the API add-on). The rate limiter counts calls against it, and the
   * X-HubSpot-RateLimit-Remaining of each response holds actions back before HubSpot would answer 429.
   */
  readonly burst?: BurstLimit | undefined
  /** Called with the X-HubSpot-RateLimit-* usage after every response: the day's quota and the burst interval. */
  readonly onApiUsage?: ((used: number, limit: number, window: "daily" | "interval") => Effect.Effect<void>) | undefined
}

/** Calls allowed per rolling interval. */
export interface BurstLimit {
  readonly limit: number
  readonly intervalMs: number
}

/** The lowest published private-app burst limit (Free / Starter): safe on every plan. */
export const defaultBurst: BurstLimit = { limit: 100, intervalMs: 10_000 }

/** Default property names; the revenueflow_* ones must be created in the portal (see README). */
export const defaultProperties: HubSpotProperties = {
  leadKey: "revenueflow_lead_key",
  actionKey: "revenueflow_action_key",
  companyKey: "revenueflow_company_key",
  score: "revenueflow_score",
  intent: "revenueflow_intent",
  decision: "revenueflow_decision",
  leadStatus: "hs_lead_status",
  industry: "industry",
  employees: "numberofemployees",
  annualRevenue: "annualrevenue",
  dealPipeline: "default"
}

const property = (name: string, fallback: string) =>
  validated(name, Config.string(), {
    message: "must be a HubSpot property internal name (lowercase letters, digits, _)",
    validation: (value) => /^[a-z][a-z0-9_]{0,99}$/.test(value)
  }).pipe(Config.withDefault(fallback))

/**
 * An absolute http(s) URL with no credentials, query or fragment: the client appends each path (`/crm/v3/...`) to it as
 * it is, so a query or fragment would swallow the path.
 */
const isBaseUrl = (value: string): boolean => {
  if (!URL.canParse(value)) return false
  const url = new URL(value)
  return (
    (url.protocol === "https:" || url.protocol === "http:") &&
    url.username === "" &&
    url.password === "" &&
    url.search === "" &&
    url.hash === "" &&
    !/[?#]/.test(value)
  )
}

/**
 * HUBSPOT_BASE_URL, without its trailing slashes: the client appends `/crm/v3/...` to it, and
 * `https://api.hubapi.com/` would send every call to `//crm/v3/...`, which HubSpot answers 404.
 */
const baseUrlConfig = validated("HUBSPOT_BASE_URL", Config.string(), {
  message: "must be an absolute http(s) URL such as https://api.hubapi.com, without credentials, query or fragment",
  validation: (value) => isBaseUrl(value.trim())
}).pipe(
  Config.map((value) => value.trim().replace(/\/+$/, "")),
  Config.withDefault("https://api.hubapi.com")
)

/** HUBSPOT_* settings from the environment (or any ConfigProvider). */
export const hubSpotConfig: Config.Config<Omit<HubSpotOptions, "onApiUsage">> = Config.all({
  baseUrl: baseUrlConfig,
  accessToken: credential("HUBSPOT_ACCESS_TOKEN"),
  timeoutMs: positiveInt("CRM_TIMEOUT_MS", 10_000),
  properties: Config.all({
    leadKey: property("HUBSPOT_LEAD_KEY_PROPERTY", defaultProperties.leadKey),
    actionKey: property("HUBSPOT_ACTION_KEY_PROPERTY", defaultProperties.actionKey),
    companyKey: property("HUBSPOT_COMPANY_KEY_PROPERTY", defaultProperties.companyKey),
    score: property("HUBSPOT_SCORE_PROPERTY", defaultProperties.score),
    intent: property("HUBSPOT_INTENT_PROPERTY", defaultProperties.intent),
    decision: property("HUBSPOT_DECISION_PROPERTY", defaultProperties.decision),
    leadStatus: property("HUBSPOT_LEAD_STATUS_PROPERTY", defaultProperties.leadStatus),
    industry: property("HUBSPOT_INDUSTRY_PROPERTY", defaultProperties.industry),
    employees: property("HUBSPOT_EMPLOYEES_PROPERTY", defaultProperties.employees),
    annualRevenue: property("HUBSPOT_ANNUAL_REVENUE_PROPERTY", defaultProperties.annualRevenue),
    dealPipeline: Config.string("HUBSPOT_DEAL_PIPELINE").pipe(Config.withDefault(defaultProperties.dealPipeline))
  }),
  leadStatuses: leadStatusMapConfig("HUBSPOT_LEAD_STATUS_MAP", hubSpotLeadStatuses),
  burst: Config.all({
    limit: positiveInt("HUBSPOT_BURST_LIMIT", defaultBurst.limit),
    intervalMs: positiveInt("HUBSPOT_BURST_INTERVAL_MS", defaultBurst.intervalMs)
  })
})
