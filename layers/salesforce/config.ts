import * as Config from "effect/Config"
import * as ConfigError from "effect/ConfigError"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import type * as Effect from "effect/Effect"
import type * as Redacted from "effect/Redacted"
import { type LeadStatusMap, salesforceLeadStatuses } from "../../src/domain/leadStatus.js"
import { leadStatusMapConfig } from "../../src/domain/leadStatusConfig.js"
import { validateFieldName } from "../../src/domain/soql.js"
import { credential, positiveInt, validated } from "../shared/config.js"

/** How the executor gets a Salesforce session. */
export type SalesforceAuth =
  | {
      /** OAuth 2.0 client credentials flow against `${loginUrl}/services/oauth2/token`. */
      readonly _tag: "ClientCredentials"
      readonly clientId: string
      readonly clientSecret: Redacted.Redacted<string>
    }
  | {
      /** OAuth 2.0 JWT bearer flow: an RS256 assertion signed with the connected app's private key. */
      readonly _tag: "JwtBearer"
      readonly clientId: string
      readonly username: string
      readonly privateKey: Redacted.Redacted<string>
    }
  | {
      /** A ready session. It cannot be refreshed: a 401 means the token must be rotated. */
      readonly _tag: "AccessToken"
      readonly accessToken: Redacted.Redacted<string>
      readonly instanceUrl: string
    }

/** Salesforce field names the executor writes; every one can be renamed to match an org. */
export interface SalesforceFields {
  /** External id field on Lead and Contact holding the lead key. */
  readonly leadKey: string
  /** External id field on Task and Opportunity holding the action key, so a replayed create updates. */
  readonly actionKey: string
  readonly score: string
  readonly intent: string
  readonly decision: string
  readonly industry: string
  readonly employees: string
  readonly annualRevenue: string
}

/** Everything the Salesforce executor needs. */
export interface SalesforceOptions {
  /** Where token requests go: the org's My Domain (the client credentials flow is refused on login/test.salesforce.com). */
  readonly loginUrl: string
  readonly apiVersion: string
  readonly auth: SalesforceAuth
  /** A JWT bearer assertion's `aud` (default: `defaultJwtAudience(loginUrl)`); never the My Domain. */
  readonly jwtAudience?: string | undefined
  /**
   * Reads the credentials again (after asking the secret store for fresh values): used when a session expires or
   * is rejected, so a rotated client secret, key or token is picked up without a restart.
   */
  readonly reloadAuth?: Effect.Effect<SalesforceAuth> | undefined
  /** Per-call deadline; jsforce's own default is 30 minutes. */
  readonly timeoutMs: number
  readonly fields: SalesforceFields
  /** The Lead Status picklist value written for each planned status (default: salesforceLeadStatuses). */
  readonly leadStatuses?: LeadStatusMap | undefined
  /**
   * The user who owns the Account, Contact and Opportunity converted from a Lead a queue owns (a queue cannot own
   * them); default: the integration user the executor signs in as. A Lead a user owns keeps that user as their owner.
   */
  readonly convertOwnerId?: string | undefined
  /** Called with Sforce-Limit-Info after every response (metrics, the CRM-wide rate limit tier). */
  readonly onApiUsage?: ((used: number, limit: number) => Effect.Effect<void>) | undefined
}

/** Default field names; the custom ones must exist in the org (see README). */
export const defaultFields: SalesforceFields = {
  leadKey: "RevenueFlow_Key__c",
  actionKey: "RevenueFlow_Action_Key__c",
  score: "RevenueFlow_Score__c",
  intent: "RevenueFlow_Intent__c",
  decision: "RevenueFlow_Decision__c",
  industry: "Industry",
  employees: "NumberOfEmployees",
  annualRevenue: "AnnualRevenue"
}

const field = (name: string, fallback: string) =>
  validated(name, Config.string(), {
    message: "must be a Salesforce API field name",
    validation: (value) => Either.isRight(validateFieldName(value)) && !value.includes(".")
  }).pipe(Config.withDefault(fallback))

/** The three ways to sign in, as the start-up check names them. */
export const signInMethods =
  "SALESFORCE_CLIENT_ID + SALESFORCE_CLIENT_SECRET (client credentials), " +
  "SALESFORCE_CLIENT_ID + SALESFORCE_USERNAME + SALESFORCE_PRIVATE_KEY (JWT bearer), " +
  "SALESFORCE_ACCESS_TOKEN + SALESFORCE_INSTANCE_URL (session)"

const optional = <A>(config: Config.Config<A>) => Config.option(config).pipe(Config.map(Option.getOrUndefined))

const hostOf = (url: string): string | undefined => {
  try {
    return new URL(url).hostname.toLowerCase()
  } catch {
    return undefined
  }
}

const DEFAULT_LOGIN_URL = "https://login.salesforce.com"
const PRODUCTION_AUDIENCE = "https://login.salesforce.com"
const SANDBOX_AUDIENCE = "https://test.salesforce.com"

/**
 * A sandbox's login host: test.salesforce.com; its My Domain, `<name>--<sandbox>.sandbox.my.salesforce.com` (enhanced
 * domains) or `<name>--<sandbox>.my.salesforce.com` (without); the older instance forms `cs42.salesforce.com` and
 * `<name>--<sandbox>.cs42.my.salesforce.com`.
 */
const isSandboxHost = (host: string): boolean =>
  host === "test.salesforce.com" ||
  host.endsWith(".sandbox.my.salesforce.com") ||
  host.endsWith(".scratch.my.salesforce.com") ||
  /^[a-z0-9-]+--[a-z0-9-]+\.my\.salesforce\.com$/.test(host) ||
  /(?:^|\.)cs\d+\.(?:my\.)?salesforce\.com$/.test(host)

/**
 * The `aud` Salesforce takes in a JWT bearer assertion: https://test.salesforce.com for a sandbox or scratch org (by
 * its login host), https://login.salesforce.com for any other Salesforce host (login, a My Domain: never the My Domain
 * itself, which is refused, "audience is invalid"); and for an Experience Cloud site's login URL (`*.my.site.com`,
 * `*.force.com`, a custom domain) that URL itself, as Salesforce documents for sites and as this setting did before.
 */
export const defaultJwtAudience = (loginUrl: string): string => {
  const host = hostOf(loginUrl)
  if (host === undefined) return PRODUCTION_AUDIENCE
  if (isSandboxHost(host)) return SANDBOX_AUDIENCE
  return host === "salesforce.com" || host.endsWith(".salesforce.com")
    ? PRODUCTION_AUDIENCE
    : loginUrl.replace(/\/+$/, "")
}

/** The shared login hosts, where Salesforce refuses the client credentials flow ("request not supported on this domain"). */
const sharedLoginHosts: ReadonlySet<string> = new Set(["login.salesforce.com", "test.salesforce.com"])

/**
 * The first API version the executor works on: the REST API reads `Sforce-Duplicate-Rule-Header` (which lets a lead's
 * second campaign be saved past an Alert duplicate rule) from 52.0; an upsert that updates answers with the record's id
 * and `created` from 46.0 (before, 204 with no body, which the executor cannot tell from a proxy's empty answer).
 */
export const MIN_API_VERSION = 52

/**
 * The first complete sign-in method, a session taking precedence. Read as optional keys and picked here, so that
 * missing credentials are one line naming the three alternatives, not six "missing" keys that look all required.
 */
const auth: Config.Config<SalesforceAuth> = Config.all({
  accessToken: optional(credential("SALESFORCE_ACCESS_TOKEN")),
  instanceUrl: optional(Config.string("SALESFORCE_INSTANCE_URL")),
  clientId: optional(Config.string("SALESFORCE_CLIENT_ID")),
  clientSecret: optional(credential("SALESFORCE_CLIENT_SECRET")),
  username: optional(Config.string("SALESFORCE_USERNAME")),
  privateKey: optional(credential("SALESFORCE_PRIVATE_KEY"))
}).pipe(
  Config.mapOrFail((keys): Either.Either<SalesforceAuth, ConfigError.ConfigError> => {
    const { accessToken, instanceUrl, clientId, clientSecret, username, privateKey } = keys
    if (accessToken !== undefined && instanceUrl !== undefined) {
      return Either.right({ _tag: "AccessToken", accessToken, instanceUrl })
    }
    if (clientId !== undefined && username !== undefined && privateKey !== undefined) {
      return Either.right({ _tag: "JwtBearer", clientId, username, privateKey })
    }
    if (clientId !== undefined && clientSecret !== undefined) {
      return Either.right({ _tag: "ClientCredentials", clientId, clientSecret })
    }
    // names of the keys that are set (never their values): a half-configured method is the likely mistake
    const set = Object.entries(keys)
      .filter(([, value]) => value !== undefined)
      .map(([name]) => `SALESFORCE_${name.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`)
    const what = set.length === 0 ? "no credentials" : `incomplete credentials (${set.join(", ")} set)`
    return Either.left(ConfigError.InvalidData(["SALESFORCE"], `${what} — set one of: ${signInMethods}`))
  })
)

const loginUrl = validated("SALESFORCE_LOGIN_URL", Config.string(), {
  message: "must be a URL, your My Domain's: https://<name>.my.salesforce.com",
  validation: (value) => /^https?:\/\//i.test(value) && hostOf(value) !== undefined
}).pipe(Config.withDefault(DEFAULT_LOGIN_URL))

const jwtAudience = validated("SALESFORCE_JWT_AUDIENCE", Config.string(), {
  message:
    "must be https://login.salesforce.com, https://test.salesforce.com or an Experience Cloud site's URL (not a My " +
    "Domain: Salesforce refuses it as the audience)",
  validation: (value) =>
    /^https:\/\//i.test(value) && !/\.my\.salesforce\.com$/.test(hostOf(value) ?? ".my.salesforce.com")
})

/**
 * Where and how to sign in. The client credentials flow is taken only at the org's My Domain: on login.salesforce.com
 * or test.salesforce.com every token request would be refused (400 invalid_grant), so it is refused at start instead.
 */
const signIn = Config.all({ loginUrl, auth, jwtAudience: optional(jwtAudience) }).pipe(
  Config.mapOrFail(({ loginUrl, auth, jwtAudience }) =>
    auth._tag === "ClientCredentials" && sharedLoginHosts.has(hostOf(loginUrl) ?? "")
      ? Either.left(
          ConfigError.InvalidData(
            ["SALESFORCE_LOGIN_URL"],
            `must be your org's My Domain URL (https://<name>.my.salesforce.com, Setup > My Domain) for the client ` +
              `credentials flow: Salesforce refuses it on ${hostOf(loginUrl)} ("request not supported on this domain")`
          )
        )
      : Either.right({ loginUrl, auth, jwtAudience: jwtAudience ?? defaultJwtAudience(loginUrl) })
  )
)

/** SALESFORCE_* settings from the environment (or any ConfigProvider). */
export const salesforceConfig: Config.Config<SalesforceOptions> = Config.all({
  signIn,
  apiVersion: validated("SALESFORCE_API_VERSION", Config.string(), {
    message:
      `must be an API version like 62.0, ${MIN_API_VERSION}.0 or later (the REST API takes the duplicate rule header ` +
      `from ${MIN_API_VERSION}.0; before 46.0 an upsert that updates answers without the record's id)`,
    validation: (v) => /^\d{2,3}\.0$/.test(v) && Number(v) >= MIN_API_VERSION
  }).pipe(Config.withDefault("62.0")),
  timeoutMs: positiveInt("CRM_TIMEOUT_MS", 10_000),
  fields: Config.all({
    leadKey: field("SALESFORCE_LEAD_KEY_FIELD", defaultFields.leadKey),
    actionKey: field("SALESFORCE_ACTION_KEY_FIELD", defaultFields.actionKey),
    score: field("SALESFORCE_SCORE_FIELD", defaultFields.score),
    intent: field("SALESFORCE_INTENT_FIELD", defaultFields.intent),
    decision: field("SALESFORCE_DECISION_FIELD", defaultFields.decision),
    industry: field("SALESFORCE_INDUSTRY_FIELD", defaultFields.industry),
    employees: field("SALESFORCE_EMPLOYEES_FIELD", defaultFields.employees),
    annualRevenue: field("SALESFORCE_ANNUAL_REVENUE_FIELD", defaultFields.annualRevenue)
  }),
  leadStatuses: leadStatusMapConfig("SALESFORCE_LEAD_STATUS_MAP", salesforceLeadStatuses),
  convertOwnerId: optional(
    validated("SALESFORCE_CONVERT_OWNER_ID", Config.string(), {
      message: "must be a Salesforce user id (15 or 18 characters starting 005)",
      validation: (value) => /^005[A-Za-z0-9]{12}(?:[A-Za-z0-9]{3})?$/.test(value)
    })
  )
}).pipe(Config.map(({ signIn, ...rest }) => ({ ...signIn, ...rest })))
