/**
 * The intake routes' handlers — POST /leads and the two webhooks, one request per lead — and the API key check: what
 * the HttpApi's groups serve (leads.ts, webhooks.ts) and what the ingest's node:http server answers directly
 * (intake.ts). Nothing here needs the HttpApi's declaration, so the server can answer before that is even loaded.
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import type * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { hubspotToLeadInput } from "../domain/webhooks/hubspot.js"
import {
  checkHubSpotSignatureHeaders,
  hubspotSignatureHeader,
  hubspotTimestampHeader,
  verifyHubSpotSignatureV3
} from "../domain/webhooks/hubspotSignature.js"
import { marketoToLeadInput, marketoTokenHeader, verifyMarketoToken } from "../domain/webhooks/marketo.js"
import { withSpanWhenTraced } from "../domain/spans.js"
import type { AppConfig } from "../../services/AppConfig.js"
import type { JobQueue } from "../../services/JobQueue.js"
import type { LeadStore } from "../../services/LeadStore.js"
import type { Metrics } from "../../services/Metrics.js"
import { header, makeApiKeyCheck, presentedKey, type RequestHeaders } from "./auth.js"
import {
  checkJsonContentType,
  type IntakeRequest,
  type JsonBody,
  parseJsonBody,
  readBodyBytes,
  readJsonBody
} from "./body.js"
import { acceptUntrusted } from "./leadAnswers.js"
import { problem } from "./problem.js"

/** Answers a request without a valid API key (when keys are configured). */
const deniedResponse = problem(401, "A valid API key is required (X-API-Key or Authorization: Bearer)", {
  headers: { "www-authenticate": 'Bearer realm="revenueflow"' }
})

/** The API key check for the configured keys (INGEST_API_KEYS; none configured: open). */
export const makeGuard = (config: AppConfig.Service) => {
  const authorized = makeAuthorized(config)
  return (headers: RequestHeaders) => (authorized(headers) ? Effect.void : Effect.fail(deniedResponse))
}

/** Whether a request's headers carry a valid API key (or none is configured). */
const makeAuthorized = (config: AppConfig.Service) => {
  const authorized = makeApiKeyCheck(Option.getOrElse(config.apiKeys, () => Redacted.make([])))
  return (headers: RequestHeaders) => authorized(presentedKey(headers))
}

/** An intake route's handler: always a response (client errors included), never a failure. */
export type IntakeHandler = (
  request: IntakeRequest
) => Effect.Effect<HttpServerResponse.HttpServerResponse, never, LeadStore | JobQueue | Metrics>

/**
 * POST /leads: 401, 415, 413, 400 or the accepted lead. Served by the HttpApi (./leads.ts) and, in the ingest
 * program, directly on node:http (see ./intake.ts).
 */
export const makeCreateLead = (config: AppConfig.Service): IntakeHandler => {
  const authorized = makeAuthorized(config)
  const options = { storeTimeoutMs: config.ingestStoreTimeoutMs }
  const accept = (body: JsonBody) => acceptUntrusted(body.json, "api", options)
  const span = withSpanWhenTraced("http.createLead", { captureStackTrace: false })
  // plain combinators, not Effect.gen: the ingest's hot path (see acceptLead)
  return (request) =>
    span(
      authorized(request.headers)
        ? Effect.merge(Effect.flatMap(readJsonBody(request, config.maxBodyBytes), accept))
        : Effect.succeed(deniedResponse)
    )
}

/**
 * The URL HubSpot signed: the configured public URL (a load balancer sits in front) plus the query string, or
 * else rebuilt from the forwarded protocol and Host header.
 */
const signedUrl = (request: IntakeRequest, publicUrl: Option.Option<string>) => {
  const query = request.url.includes("?") ? request.url.slice(request.url.indexOf("?")) : ""
  if (Option.isSome(publicUrl)) return publicUrl.value.replace(/\/$/, "") + query
  const proto = header(request.headers, "x-forwarded-proto")?.split(",")[0]?.trim() ?? "http"
  return `${proto}://${header(request.headers, "host") ?? "localhost"}${request.url}`
}

/**
 * A webhook's body must be a JSON object (its fields are mapped to a lead's): anything else is 400 saying so, not
 * the missing fields its mapping would leave (a campaignId the sender does not even choose).
 */
const jsonObject = (body: JsonBody): Effect.Effect<unknown, HttpServerResponse.HttpServerResponse> => {
  const json = body.json
  if (json !== null && typeof json === "object" && !Array.isArray(json)) return Effect.succeed(json)
  const kind = json === null ? "null" : Array.isArray(json) ? "an array" : `a ${typeof json}`
  return Effect.fail(problem(400, `The body must be a JSON object (got ${kind})`))
}

/** POST /webhooks/marketo: the shared token header, then the Marketo payload mapped to a lead. */
export const makeMarketoWebhook = (config: AppConfig.Service): IntakeHandler => {
  const token = Option.map(config.webhooks.marketoToken, Redacted.value)
  return (request) =>
    Effect.gen(function* () {
      if (Option.isNone(token) || !verifyMarketoToken(token.value, header(request.headers, marketoTokenHeader))) {
        return problem(401, `A valid ${marketoTokenHeader} header is required`)
      }
      const body = yield* Effect.flatMap(readJsonBody(request, config.maxBodyBytes), jsonObject)
      return yield* acceptUntrusted(marketoToLeadInput(body), "marketo", {
        storeTimeoutMs: config.ingestStoreTimeoutMs
      })
    }).pipe(Effect.merge, withSpanWhenTraced("http.webhook.marketo", { captureStackTrace: false }))
}

/**
 * A refusal before any of the body is read: the connection closes after it, so Node does not read the unread body to
 * reuse the connection.
 */
const refusedUnread = (detail: string) => problem(401, detail, { headers: { connection: "close" } })

/**
 * POST /webhooks/hubspot, authentication first: 401 (nothing read) without a configured secret, a signature, or a
 * timestamp within 5 minutes; then the body is read — the signature covers it — up to MAX_BODY_BYTES (413 past it)
 * and the signature checked on the raw bytes (401); only a request that verified learns about its content type (415)
 * or its JSON (400).
 */
export const makeHubspotWebhook = (config: AppConfig.Service): IntakeHandler => {
  const { webhooks } = config
  return (request) =>
    Effect.gen(function* () {
      if (Option.isNone(webhooks.hubspotAppSecret)) {
        return refusedUnread("HubSpot webhooks are not configured (HUBSPOT_APP_SECRET)")
      }
      const secret = webhooks.hubspotAppSecret.value
      const now = yield* Clock.currentTimeMillis
      const signed = {
        timestamp: header(request.headers, hubspotTimestampHeader),
        signature: header(request.headers, hubspotSignatureHeader),
        nowMs: now
      }
      const headers = checkHubSpotSignatureHeaders(signed)
      if (Either.isLeft(headers)) return refusedUnread(`HubSpot signature rejected: ${headers.left}`)
      const bytes = yield* readBodyBytes(request, config.maxBodyBytes)
      const verdict = verifyHubSpotSignatureV3({
        ...signed,
        secret: Redacted.value(secret),
        method: request.method,
        uri: signedUrl(request, webhooks.hubspotPublicUrl),
        body: bytes
      })
      if (Either.isLeft(verdict)) return problem(401, `HubSpot signature rejected: ${verdict.left}`)
      yield* checkJsonContentType(request.headers)
      const body = yield* Effect.flatMap(parseJsonBody(bytes), jsonObject)
      const mapped = hubspotToLeadInput(body, {
        campaignProperty: Option.getOrUndefined(webhooks.hubspotCampaignProperty)
      })
      return yield* acceptUntrusted(mapped, "hubspot", { storeTimeoutMs: config.ingestStoreTimeoutMs })
    }).pipe(Effect.merge, withSpanWhenTraced("http.webhook.hubspot", { captureStackTrace: false }))
}
