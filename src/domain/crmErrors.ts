import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import { redactText } from "./redact.js"

/**
 * The CRM refused for rate (HTTP 429, REQUEST_LIMIT_EXCEEDED) or, HubSpot, for a short-lived lock or migration (423,
 * 477): delay the job until `retryAfterMs`.
 */
export class CrmRateLimited extends Schema.TaggedError<CrmRateLimited>()("CrmRateLimited", {
  provider: Schema.String,
  retryAfterMs: Schema.Number,
  message: Schema.String
}) {}

/** 5xx, timeout, network error, or credentials that still fail after one refresh: retry with backoff. */
export class CrmTransientError extends Schema.TaggedError<CrmTransientError>()("CrmTransientError", {
  provider: Schema.String,
  message: Schema.String,
  status: Schema.optional(Schema.Number),
  /** The CRM's own error code when it gave one (SERVER_UNAVAILABLE...), for logs. */
  code: Schema.optional(Schema.String)
}) {}

/** The CRM rejected the request itself (validation 4xx, duplicate, not found): retrying cannot help. */
export class CrmPermanentError extends Schema.TaggedError<CrmPermanentError>()("CrmPermanentError", {
  provider: Schema.String,
  message: Schema.String,
  status: Schema.optional(Schema.Number),
  code: Schema.optional(Schema.String)
}) {}

export type CrmError = CrmRateLimited | CrmTransientError | CrmPermanentError

/** What a CRM call ended with, as far as the executor could see it. */
export interface CrmFailure {
  readonly status?: number | undefined
  /** The response body, parsed JSON or raw text. */
  readonly body?: unknown
  readonly headers?: Readonly<Record<string, string | ReadonlyArray<string> | undefined>> | undefined
  /** The error code the client library already extracted (e.g. jsforce's errorCode, a SOAP faultcode). */
  readonly code?: string | undefined
  /** The client library's own message, used when the body has none. */
  readonly message?: string | undefined
  readonly networkError?: boolean | undefined
  readonly timedOut?: boolean | undefined
}

/** Used when a CRM refuses for rate but names no wait. */
export const DEFAULT_RETRY_AFTER_MS = 30_000

const MAX_MESSAGE = 500

/** A write refused under property definitions kept from an earlier call (the portal may have changed since). */
export const STALE_DEFINITIONS_CODE = "PROPERTY_DEFINITIONS_CHANGED"

/**
 * An upsert keyed by a unique property (a company key, an action key) refused with 409 CONFLICT: another upsert of the
 * same key raced it (two leads of one new domain at once, a retry racing an upsert still in flight). The upsert is
 * idempotent, so the retry finds the object the other one made.
 */
export const KEYED_UPSERT_CONFLICT_CODE = "KEYED_UPSERT_CONFLICT"

/**
 * A 2xx answer whose body is not what the API returns (a proxy's or gateway's HTML page, an empty or cut body): the
 * request may not have reached the CRM at all, so the call is tried again.
 */
export const UNEXPECTED_RESPONSE_CODE = "UNEXPECTED_RESPONSE"

// Codes a CRM returns with a 4xx that are about load or locking, not the request: retrying can succeed.
const transientCodes = new Set([
  "UNABLE_TO_LOCK_ROW",
  "SERVER_UNAVAILABLE",
  "REQUEST_RUNNING_TOO_LONG",
  "QUERY_TIMEOUT",
  "TXN_SECURITY_METERING_ERROR",
  // Salesforce read-only for a maintenance or an instance migration: writes come back when it ends
  "INSERT_UPDATE_DELETE_NOT_ALLOWED_DURING_MAINTENANCE",
  // ours (HubSpot): values fitted to property definitions kept from an earlier call were refused; the retry reads them
  STALE_DEFINITIONS_CODE,
  // ours (HubSpot): a keyed upsert raced another of the same key; the retry finds the object
  KEYED_UPSERT_CONFLICT_CODE,
  // ours: a success whose body is not the API's
  UNEXPECTED_RESPONSE_CODE
])

/**
 * Salesforce wraps what a trigger or flow hit in CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY; row-lock contention inside one
 * ("...first error: UNABLE_TO_LOCK_ROW, unable to obtain exclusive access to this record", "Record Currently
 * Unavailable") frees up like a bare UNABLE_TO_LOCK_ROW does. Any other wrapped error stays permanent.
 */
const isWrappedLockContention = (code: string | undefined, message: string | undefined): boolean =>
  code === "CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY" &&
  /UNABLE_TO_LOCK_ROW|Record Currently Unavailable/i.test(message ?? "")

const rateCodes = new Set(["REQUEST_LIMIT_EXCEEDED", "RATE_LIMIT", "RATE_LIMITS", "TOO_MANY_REQUESTS"])

/** True when the CRM said the session or token is not (or no longer) valid. */
export const isAuthFailure = (failure: CrmFailure): boolean =>
  failure.status === 401 || /INVALID_SESSION_ID|INVALID_AUTH_HEADER|EXPIRED_AUTHENTICATION/.test(codeOf(failure) ?? "")

const REDACTED = "[redacted]"

/**
 * A secret value shorter than this is not scrubbed literally: real tokens, passwords and keys are longer, and masking
 * every occurrence of a short value would garble the text (and, by where "[redacted]" lands, tell what the value is).
 */
const MIN_LITERAL_SECRET = 8

/**
 * A value named as a credential, as a CRM, an OAuth server or an HTTP client echoes it: `name=value` (query, form,
 * cookie), `name: value` (header), `"name": "value"` (JSON, escaped or not), `<name>value</name>` (SOAP). The name is
 * not part of a longer one (no letter, digit, "-" or "_" before it: `x-api-key` is one name, `INVALID_SESSION_ID`
 * none); a quoted value is taken to its closing quote (a password may hold spaces), any other up to a delimiter.
 */
const KEYED_SECRET =
  /(?<![A-Za-z0-9_-])(access_?token|refresh_?token|id_?token|security_?token|session_?token|auth_?token|client_?secret|password|passwd|pwd|hapikey|x-api-key|api[_-]?key|assertion|session_?id|sid|secret|token)(\\?["']?\s*(?:[=:]|%3D)\s*|\\?["']?\s*>)(?:(\\?")(?:[^"\\]|\\[^"])*\\?"|'[^']*'|[^\s"'&<,;)}\]]+)/gi

/** HTTP Basic credentials are base64 of "user:password": recognised by decoding, so "Basic information" is left. */
const isBasicCredential = (value: string): boolean => {
  try {
    return atob(value).includes(":")
  } catch {
    return false
  }
}

/** The spellings a secret value may take in an echoed request: as it is, percent-encoded, JSON-escaped. */
const spellingsOf = (value: string): ReadonlyArray<string> => {
  const forms = new Set([value, encodeURIComponent(value), JSON.stringify(value).slice(1, -1)])
  // a PEM key kept with escaped newlines ("\n") is used with real ones, and the other way round
  forms.add(value.replace(/\\n/g, "\n"))
  forms.add(value.replace(/\n/g, "\\n"))
  return [...forms].filter((form) => form.length >= MIN_LITERAL_SECRET)
}

/**
 * Removes the given secret values (the caller's own token, password, key: Redacted, so they are unwrapped only here,
 * never logged nor kept) wherever they appear literally, then anything shaped like a credential. Not cut to length.
 */
const scrubAll = (text: string, secrets: ReadonlyArray<Redacted.Redacted<string>>): string => {
  let out = text
  for (const secret of secrets) {
    const value = Redacted.value(secret)
    if (value.length < MIN_LITERAL_SECRET) continue
    for (const form of spellingsOf(value)) out = out.split(form).join(REDACTED)
  }
  return (
    out
      .replace(/-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)/g, REDACTED)
      // an Authorization header whatever its scheme (Bearer, Basic, OAuth, Token...): scheme kept, credential not
      .replace(
        /\b((?:proxy-)?authorization\\?["']?\s*[:=]\s*\\?["']?)(?:(Bearer|Basic|OAuth|Token|Digest|Negotiate|ApiKey)\s+)?[^\s"',;]+/gi,
        (_match, name: string, scheme: string | undefined) =>
          `${name}${scheme === undefined ? "" : `${scheme} `}${REDACTED}`
      )
      .replace(/Bearer\s+(?!\[redacted\])[^\s"',]+/gi, `Bearer ${REDACTED}`)
      .replace(/\bBasic\s+([A-Za-z0-9+/]{6,}={0,2})(?![A-Za-z0-9+/=])/g, (match, value: string) =>
        isBasicCredential(value) ? `Basic ${REDACTED}` : match
      )
      // a Salesforce session id: the org's id (00D...), "!", the session token
      .replace(/\b00D[A-Za-z0-9]{12,15}![A-Za-z0-9._-]+/g, REDACTED)
      .replace(/\bpat-[a-z0-9]+-[A-Za-z0-9-]+/g, REDACTED)
      .replace(/\beyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+/g, REDACTED)
      .replace(KEYED_SECRET, (match: string, name: string, separator: string, openDouble: string | undefined) => {
        const value = match.slice(name.length + separator.length)
        // already scrubbed (the delimiters stop an unquoted value before the closing "]")
        if (value.startsWith(REDACTED.slice(0, -1))) return match
        if (openDouble !== undefined) return `${name}${separator}${openDouble}${REDACTED}${openDouble}`
        if (value.startsWith("'")) return `${name}${separator}'${REDACTED}'`
        return `${name}${separator}${REDACTED}`
      })
  )
}

/**
 * Removes anything shaped like a credential (Authorization headers of any scheme, Bearer and Basic credentials,
 * Salesforce session ids, HubSpot private app tokens, JWTs, private keys, and the values of access_token,
 * refresh_token, client_secret, password, hapikey, api_key / x-api-key, sid / sessionId and the like) and, literally
 * in the spellings a request may carry them, the `secrets` given (the caller's own credentials), so an error message
 * can be logged and stored. Cut to 500 characters.
 */
export const scrubSecrets = (text: string, secrets: ReadonlyArray<Redacted.Redacted<string>> = []): string =>
  scrubAll(text, secrets).slice(0, MAX_MESSAGE)

/** A header's single value, case-insensitively. */
export const headerValue = (headers: CrmFailure["headers"], name: string): string | undefined => {
  if (headers === undefined) return undefined
  const wanted = name.toLowerCase()
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() !== wanted || value === undefined) continue
    return typeof value === "string" ? value : value[0]
  }
  return undefined
}

/** Retry-After as milliseconds: delay-seconds or an HTTP date (relative to `nowMs`); undefined if absent or bad. */
export const parseRetryAfter = (value: string | undefined, nowMs: number): number | undefined => {
  if (value === undefined || value.trim() === "") return undefined
  const trimmed = value.trim()
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.ceil(Number(trimmed) * 1000)
  const at = Date.parse(trimmed)
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs)
}

const firstRecord = (body: unknown): Record<string, unknown> | undefined => {
  const value = Array.isArray(body) ? body[0] : body
  return typeof value === "object" && value !== null ? (value as Record<string, unknown>) : undefined
}

const str = (value: unknown): string | undefined => (typeof value === "string" && value !== "" ? value : undefined)

// Salesforce REST: [{ errorCode, message }]; OAuth: { error, error_description }; HubSpot: { category, message }.
const codeOf = (failure: CrmFailure): string | undefined => {
  const record = firstRecord(failure.body)
  const code =
    str(record?.errorCode) ?? str(record?.category) ?? str(record?.errorType) ?? str(record?.error) ?? failure.code
  return code?.replace(/^[a-z]+:/, "")
}

/** At most this many matched record ids are named in a duplicate refusal's message. */
const MAX_DUPLICATE_IDS = 5

/**
 * Salesforce's DUPLICATES_DETECTED carries `duplicateResult.matchResults[].matchRecords[].record.Id`: which records the
 * org's duplicate rule matched. Named as "Contact 003…" (object and id only, never the record's fields), so an operator
 * can find them; undefined when the body has none.
 */
const duplicateMatchesOf = (record: Record<string, unknown> | undefined): string | undefined => {
  const result = record?.duplicateResult as { duplicateRule?: unknown; matchResults?: unknown } | undefined
  if (typeof result !== "object" || result === null || !Array.isArray(result.matchResults)) return undefined
  const ids: Array<string> = []
  for (const match of result.matchResults as ReadonlyArray<{ entityType?: unknown; matchRecords?: unknown }>) {
    if (!Array.isArray(match?.matchRecords)) continue
    for (const found of match.matchRecords as ReadonlyArray<{ record?: { Id?: unknown; attributes?: unknown } }>) {
      const attributes = found?.record?.attributes as { type?: unknown; url?: unknown } | undefined
      const id = str(found?.record?.Id) ?? str(attributes?.url)?.split("/").pop()
      if (id === undefined || !/^[A-Za-z0-9]{15,18}$/.test(id)) continue
      const type = str(match.entityType) ?? str(attributes?.type)
      ids.push(type === undefined || !/^\w+$/.test(type) ? id : `${type} ${id}`)
    }
  }
  if (ids.length === 0) return undefined
  const shown = ids.slice(0, MAX_DUPLICATE_IDS).join(", ") + (ids.length > MAX_DUPLICATE_IDS ? ", …" : "")
  const rule = str(result.duplicateRule)
  return `duplicate rule${rule !== undefined && /^\w+$/.test(rule) ? ` ${rule}` : ""} matched ${shown}`
}

const messageOf = (failure: CrmFailure): string | undefined => {
  const record = firstRecord(failure.body)
  const fromBody = str(record?.message) ?? str(record?.error_description)
  const fields = Array.isArray(record?.fields) && record.fields.length > 0 ? ` (${record.fields.join(", ")})` : ""
  const matches = duplicateMatchesOf(record)
  if (fromBody !== undefined) return fromBody + fields + (matches === undefined ? "" : ` [${matches}]`)
  if (typeof failure.body === "string" && failure.body.trim() !== "" && !failure.body.startsWith("<")) {
    return failure.body
  }
  return failure.message
}

/**
 * How long a job refused for the day's quota waits before it tries again: five minutes, not the burst window's ten
 * seconds (a spent daily quota frees up in hours; HubSpot resets it at midnight in the portal's time zone, Salesforce's
 * rolling 24 hours free calls up as they go). Kept below the sweeper's PROCESSING threshold (SWEEP_PROCESSING_MIN_AGE_MS,
 * 10 minutes by default): each try claims the lead again, so a waiting lead never looks stuck and is never re-enqueued.
 */
export const DAILY_QUOTA_RETRY_MS = 5 * 60_000

/**
 * A refusal for the day's quota rather than a burst: HubSpot's 429 with policy DAILY, Salesforce's REQUEST_LIMIT_EXCEEDED
 * for TotalRequests (its 24-hour allocation; the same code for concurrent long requests frees up in seconds).
 */
const isDailyQuota = (failure: CrmFailure): boolean => {
  const record = firstRecord(failure.body)
  if (record?.policyName === "DAILY") return true
  return codeOf(failure) === "REQUEST_LIMIT_EXCEEDED" && /TotalRequests Limit/i.test(messageOf(failure) ?? "")
}

/**
 * How long a job refused by HubSpot's search limit waits: its search endpoints allow a few requests per second per
 * token, answer 429 "You have reached your secondly limit." without X-HubSpot-RateLimit-* headers, and free up within a
 * second (HubSpot's own client retries it after 1000 ms).
 */
export const SECONDLY_LIMIT_RETRY_MS = 1000

/** HubSpot's per-second (search) limit, by its message or policy name. */
const isSecondlyLimit = (failure: CrmFailure): boolean => {
  const record = firstRecord(failure.body)
  return (
    record?.policyName === "SECONDLY" || /^You have reached your secondly limit\.?$/i.test(str(record?.message) ?? "")
  )
}

/** HubSpot's 423 Locked: a record upserted many times in a very short period; its locks last 2 seconds. */
export const HUBSPOT_LOCK_RETRY_MS = 2000

/** HubSpot's 477 Migration in Progress without the Retry-After it is documented to carry. */
export const HUBSPOT_MIGRATION_RETRY_MS = DEFAULT_RETRY_AFTER_MS

const retryAfterOf = (failure: CrmFailure, nowMs: number): number =>
  parseRetryAfter(headerValue(failure.headers, "retry-after"), nowMs) ??
  (isDailyQuota(failure) ? DAILY_QUOTA_RETRY_MS : undefined) ??
  (isSecondlyLimit(failure) ? SECONDLY_LIMIT_RETRY_MS : undefined) ??
  parseRetryAfter(
    // HubSpot names its window length; waiting one window always clears the limit it hit.
    (() => {
      const interval = headerValue(failure.headers, "x-hubspot-ratelimit-interval-milliseconds")
      return interval === undefined ? undefined : String(Number(interval) / 1000)
    })(),
    nowMs
  ) ??
  DEFAULT_RETRY_AFTER_MS

/**
 * Decides the fate of a failed CRM call: rate-limited (delay), transient (retry with backoff) or permanent
 * (fail now). The executor handles 401 itself (refresh once, retry once) and passes a still-rejected call here,
 * which becomes transient so that a rotated secret can fix it later. `nowMs` resolves Retry-After dates.
 *
 * The message carries no credential (`scrubSecrets`, with `secrets`: the executor's own current credentials, scrubbed
 * literally) and no lead's email or phone number (`redactText`), so spans, logs and leads.error built from it do not
 * either; the pipeline masks the lead's own names and details on top (its masking is idempotent over this one).
 */
export const classify = (
  provider: string,
  failure: CrmFailure,
  nowMs = 0,
  secrets: ReadonlyArray<Redacted.Redacted<string>> = []
): CrmError => {
  const code = codeOf(failure)
  const status = failure.status
  // masked before it is cut, so no email or number is cut short of what the masking recognises
  const detail = redactText(
    scrubAll(messageOf(failure) ?? (status === undefined ? "no response" : `HTTP ${status}`), secrets)
  ).slice(0, MAX_MESSAGE)
  const withStatus = status === undefined ? {} : { status }

  if (failure.timedOut) {
    return new CrmTransientError({ provider, message: `${provider} did not answer in time` })
  }
  if (status === 429 || (code !== undefined && rateCodes.has(code))) {
    return new CrmRateLimited({ provider, retryAfterMs: retryAfterOf(failure, nowMs), message: detail })
  }
  // HubSpot's own statuses (the provider's name decides: another CRM's 423 or 477 means what that CRM says):
  // 423 Locked frees up when the lock does (at least 2 s); 477 Migration in Progress names its wait in Retry-After.
  if (provider === "hubspot" && (status === 423 || status === 477)) {
    const named = parseRetryAfter(headerValue(failure.headers, "retry-after"), nowMs)
    const retryAfterMs =
      status === 423 ? Math.max(HUBSPOT_LOCK_RETRY_MS, named ?? 0) : (named ?? HUBSPOT_MIGRATION_RETRY_MS)
    return new CrmRateLimited({ provider, retryAfterMs, message: detail })
  }
  if (failure.networkError || status === undefined) {
    return new CrmTransientError({ provider, message: `${provider} unreachable: ${detail}` })
  }
  if (isAuthFailure(failure)) {
    return new CrmTransientError({ provider, ...withStatus, message: `${provider} credentials rejected` })
  }
  // A SOAP fault (Salesforce's convertLead) always comes as HTTP 500: its fault code says what it is, so a configuration
  // fault (sf:API_DISABLED_FOR_ORG, sf:INVALID_FIELD) is permanent; only Salesforce's own internal error is transient.
  const soapFault = provider === "salesforce" && /^sf:/.test(failure.code ?? "")
  if (
    (status >= 500 && (!soapFault || code === "UNKNOWN_EXCEPTION")) ||
    status === 408 ||
    (code !== undefined && transientCodes.has(code)) ||
    isWrappedLockContention(code, messageOf(failure))
  ) {
    return new CrmTransientError({ provider, ...withStatus, ...(code === undefined ? {} : { code }), message: detail })
  }
  return new CrmPermanentError({ provider, ...withStatus, ...(code === undefined ? {} : { code }), message: detail })
}
