/**
 * The intake routes' handlers — POST /leads and the two webhooks, one request per lead — and the API key check: what
 * the HttpApi's groups serve (leads.ts, webhooks.ts) and what the ingest's node:http server answers directly
 * (intake.ts). Nothing here needs the HttpApi's declaration, so the server can answer before that is even loaded.
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
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
import {
  crossSiteDetail,
  foreignHostDetail,
  hasApiKeys,
  header,
  makeApiKeyCheck,
  makeCrossSiteCheck,
  makeHostCheck,
  presentedKey,
  type RequestHeaders
} from "./auth.js"
import {
  checkJsonContentType,
  type IntakeRequest,
  type JsonBody,
  parseJsonBody,
  readBodyBytes,
  readJson,
  unreadBody
} from "./body.js"
import { acceptUntrusted } from "./leadAnswers.js"
import { pathOf } from "./paths.js"
import { problem } from "./problem.js"
import { answerRefusal, type RefusalReason, type Refused, refused } from "./refusals.js"
import type { LeadSource } from "../domain/lead.js"

const deniedDetail = "A valid API key is required (X-API-Key or Authorization: Bearer)"
const bearerChallenge = { "www-authenticate": 'Bearer realm="revenueflow"' }

/** Answers a request without a valid API key (when keys are configured). */
const deniedResponse = problem(401, deniedDetail, { headers: bearerChallenge })

/** POST /leads without a valid API key: refused before its body is read, so the connection closes after it. */
const deniedUnread = refused(
  "unauthorized",
  problem(401, deniedDetail, { headers: { ...bearerChallenge, ...unreadBody } })
)

/**
 * Whether the routes the API keys would guard check the Host header when no key is configured (DNS rebinding, see
 * `makeHostCheck`): on where a browser could reach the server at a private address — the ingest's own server
 * (./intake.ts) turns it on for the HttpApi it serves and answers its intake routes with it. Off by default: behind
 * API Gateway or a load balancer (the Lambda handlers) the Host is the public API's, and an embedding app decides.
 */
export class CheckHostHeader extends Context.Reference<CheckHostHeader>()("revenueflow/CheckHostHeader", {
  defaultValue: () => false
}) {}

/**
 * The API key check for the configured keys (INGEST_API_KEYS): 401 without a valid one. With none configured the
 * routes are open; where CheckHostHeader is on, to this machine's clients only: a Host that is a DNS name other than
 * localhost and not in INGEST_ALLOWED_HOSTS is 403, and so is a request another site's page sent (a form posting a
 * replay: `fromAnotherSite`).
 */
export const makeGuard = (config: AppConfig.Service) => {
  const access = makeAccess(config)
  if (access.keyed) {
    return (headers: RequestHeaders) => (access.authorized(headers) ? Effect.void : Effect.fail(deniedResponse))
  }
  return (headers: RequestHeaders) =>
    Effect.flatMap(CheckHostHeader, (check) =>
      !check
        ? Effect.void
        : !access.hostAllowed(headers)
          ? Effect.fail(foreignHost(headers, {}))
          : access.fromAnotherSite(headers)
            ? Effect.fail(problem(403, crossSiteDetail))
            : Effect.void
    )
}

/** A request refused for its Host: 403 naming the host, the reason and the setting. */
const foreignHost = (headers: RequestHeaders, extra: Readonly<Record<string, string>>) =>
  problem(403, foreignHostDetail(header(headers, "host") ?? ""), { headers: extra })

/**
 * What may use the routes the API keys guard: with keys configured, a request with a valid one (`authorized`);
 * without, any request — or, where the Host is checked, one whose Host could not be a DNS-rebinding page's
 * (`hostAllowed`).
 */
const makeAccess = (config: AppConfig.Service) => {
  const keys = Option.getOrElse(config.apiKeys, () => Redacted.make<ReadonlyArray<string>>([]))
  const check = makeApiKeyCheck(keys)
  const hostCheck = makeHostCheck(config.allowedHosts)
  const crossSite = makeCrossSiteCheck(config.allowedHosts)
  return {
    keyed: hasApiKeys(keys),
    authorized: (headers: RequestHeaders) => check(presentedKey(headers)),
    hostAllowed: (headers: RequestHeaders) => hostCheck(header(headers, "host")),
    fromAnotherSite: (headers: RequestHeaders) =>
      crossSite(header(headers, "host"), header(headers, "origin"), header(headers, "sec-fetch-site"))
  }
}

/** An intake route's handler: always a response (client errors included), never a failure. */
export type IntakeHandler = (
  request: IntakeRequest
) => Effect.Effect<HttpServerResponse.HttpServerResponse, never, LeadStore | JobQueue | Metrics>

/** A handler's outcome, every refusal answered, counted and logged (./refusals.ts). */
const answering =
  (source: LeadSource) =>
  <R>(
    outcome: Effect.Effect<HttpServerResponse.HttpServerResponse, Refused, R>
  ): Effect.Effect<HttpServerResponse.HttpServerResponse, never, R | Metrics> =>
    Effect.catchAll(outcome, answerRefusal(source))

/**
 * POST /leads: 401 (or, with no keys and the Host checked, 403), 415, 413, 400 or the accepted lead. Served by the
 * HttpApi (./leads.ts) and, in the ingest program, directly on node:http (see ./intake.ts).
 */
export const makeCreateLead = (
  config: AppConfig.Service,
  options: {
    /**
     * Whether to check the Host header, and the page a request came from, with no keys configured (see
     * CheckHostHeader); unset: as CheckHostHeader says.
     */
    readonly checkHost?: boolean | undefined
  } = {}
): IntakeHandler => {
  const access = makeAccess(config)
  const storeOptions = { storeTimeoutMs: config.ingestStoreTimeoutMs }
  const accept = (body: JsonBody) => acceptUntrusted(body.json, "api", storeOptions)
  const span = withSpanWhenTraced("http.createLead", { captureStackTrace: false })
  const answer = answering("api")
  const read = (request: IntakeRequest) => Effect.flatMap(readJson(request, config.maxBodyBytes), accept)
  // with no keys, where the Host is checked, what makeGuard refuses on the other routes: a Host that could be a
  // DNS-rebinding page's, and another site's page (a form posting a lead from the visitor's browser)
  const checked = (request: IntakeRequest) =>
    !access.hostAllowed(request.headers)
      ? Effect.fail(refused("foreign-host", foreignHost(request.headers, unreadBody)))
      : access.fromAnotherSite(request.headers)
        ? Effect.fail(crossSiteUnread)
        : read(request)
  // plain combinators, not Effect.gen: the ingest's hot path (see acceptLead); one check per request, made once
  if (access.keyed) {
    return (request) => span(answer(access.authorized(request.headers) ? read(request) : Effect.fail(deniedUnread)))
  }
  if (options.checkHost === true) return (request) => span(answer(checked(request)))
  if (options.checkHost === false) return (request) => span(answer(read(request)))
  return (request) =>
    span(answer(Effect.flatMap(CheckHostHeader, (check) => (check ? checked(request) : read(request)))))
}

/** POST /leads from another site's page (no keys set): refused before its body is read, the connection closed. */
const crossSiteUnread = refused("cross-site", problem(403, crossSiteDetail, { headers: unreadBody }))

/** A path without its one trailing slash (the router takes `/webhooks/hubspot/` for `/webhooks/hubspot`). */
const untrailed = (path: string) => (path.endsWith("/") ? path.slice(0, -1) : path)

/**
 * The URL HubSpot signed, which is the URL it called, exactly. With HUBSPOT_WEBHOOK_URL (a load balancer or proxy in
 * front): the setting's origin, and the path the request arrived on under whatever prefix the setting has before it
 * (a proxy took it off) — the request's path is what HubSpot called, trailing slash and case included, for the router
 * takes `/webhooks/hubspot/` and `/Webhooks/HubSpot` too; the setting's own path as given when the request's is not
 * its end (a proxy rewrote the path) — and the request's own query string, for the query is what HubSpot called and a
 * query pasted into the setting must not be counted twice. Without: rebuilt from the forwarded protocol, the Host
 * header and the path, after the prefix a proxy or an HTTP API's named stage took off it (X-Forwarded-Prefix).
 */
const signedUrl = (request: IntakeRequest, publicUrl: Option.Option<string>) => {
  const path = pathOf(request.url)
  const query = request.url.slice(path.length)
  if (Option.isSome(publicUrl)) {
    // the setting's own query (and fragment), if pasted with it, is not what this request carried
    const configured = publicUrl.value.trim().replace(/[?#].*$/, "")
    const origin = /^[a-z][a-z0-9+.-]*:\/\/[^/]*/i.exec(configured)?.[0] ?? ""
    const configuredPath = untrailed(configured.slice(origin.length))
    const called = untrailed(path)
    const prefix = configuredPath.length - called.length
    const under =
      called.startsWith("/") && prefix >= 0 && configuredPath.slice(prefix).toLowerCase() === called.toLowerCase()
    return under ? origin + configuredPath.slice(0, prefix) + path + query : configured + query
  }
  const proto = header(request.headers, "x-forwarded-proto")?.split(",")[0]?.trim() ?? "http"
  // a path prefix a proxy (or an HTTP API's named stage) took off before routing was part of the URL called
  const prefix = header(request.headers, "x-forwarded-prefix")?.trim() ?? ""
  const target = /^\/[^?#\s]*$/.test(prefix) ? prefix.replace(/\/$/, "") + request.url : request.url
  return `${proto}://${header(request.headers, "host") ?? "localhost"}${target}`
}

/**
 * The URL HubSpot signed (`signedUrl`) and the same with its path's trailing slash toggled: a proxy in front may add
 * or drop one on the way (the router takes both), and HubSpot signed the URL it called, with or without. Accepting
 * either form accepts nothing HubSpot did not sign for this route.
 */
const signedUrls = (request: IntakeRequest, publicUrl: Option.Option<string>): ReadonlyArray<string> => {
  const url = signedUrl(request, publicUrl)
  const end = url.search(/[?#]|$/)
  const path = url.slice(0, end)
  const toggled = path.endsWith("/") ? path.slice(0, -1) : `${path}/`
  return [url, toggled + url.slice(end)]
}

/**
 * A webhook's body must be a JSON object (its fields are mapped to a lead's): anything else is 400 saying so, not
 * the missing fields its mapping would leave (a campaignId the sender does not even choose).
 */
const jsonObject = (body: JsonBody): Effect.Effect<unknown, Refused> => {
  const json = body.json
  if (json !== null && typeof json === "object" && !Array.isArray(json)) return Effect.succeed(json)
  const kind = json === null ? "null" : Array.isArray(json) ? "an array" : `a ${typeof json}`
  return Effect.fail(refused("not-an-object", problem(400, `The body must be a JSON object (got ${kind})`)))
}

/** A secret or token and, while it is rotated, the previous one: every one a delivery may be verified with. */
const secretsOf = (
  current: Option.Option<Redacted.Redacted<string>>,
  previous: Option.Option<Redacted.Redacted<string>>
): Option.Option<ReadonlyArray<string>> =>
  Option.map(current, (secret) => [Redacted.value(secret), ...Option.toArray(Option.map(previous, Redacted.value))])

/**
 * A refusal before any of the body is read: the connection closes after it, so Node does not read the unread body to
 * reuse the connection.
 */
const refusedUnread = (reason: RefusalReason, detail: string) =>
  refused(reason, problem(401, detail, { headers: unreadBody }))

/**
 * POST /webhooks/marketo: the shared token header (401, nothing read, the connection closed), then the body up to
 * MAX_WEBHOOK_BODY_BYTES and the Marketo payload mapped to a lead.
 */
export const makeMarketoWebhook = (config: AppConfig.Service): IntakeHandler => {
  const { webhooks } = config
  const tokens = secretsOf(webhooks.marketoToken, webhooks.marketoTokenPrevious)
  const denied = `A valid ${marketoTokenHeader} header is required`
  return (request) =>
    Effect.gen(function* () {
      if (Option.isNone(tokens)) return yield* Effect.fail(refusedUnread("not-configured", denied))
      const presented = header(request.headers, marketoTokenHeader)
      if (presented === undefined || presented === "") {
        return yield* Effect.fail(refusedUnread("missing-token", denied))
      }
      if (!verifyMarketoToken(tokens.value, presented)) return yield* Effect.fail(refusedUnread("bad-token", denied))
      const body = yield* Effect.flatMap(readJson(request, webhooks.maxBodyBytes), jsonObject)
      return yield* acceptUntrusted(marketoToLeadInput(body), "marketo", {
        storeTimeoutMs: config.ingestStoreTimeoutMs
      })
    }).pipe(answering("marketo"), withSpanWhenTraced("http.webhook.marketo", { captureStackTrace: false }))
}

/**
 * POST /webhooks/hubspot, authentication first: 401 (nothing read) without a configured secret, a signature, or a
 * timestamp within 5 minutes; then the body is read — the signature covers it — up to MAX_WEBHOOK_BODY_BYTES (413
 * past it) and the signature checked on the raw bytes (401; the current secret or, while it is rotated, the previous
 * one); only a request that verified learns about its content type (415) or its JSON (400).
 */
export const makeHubspotWebhook = (config: AppConfig.Service): IntakeHandler => {
  const { webhooks } = config
  const secrets = secretsOf(webhooks.hubspotAppSecret, webhooks.hubspotAppSecretPrevious)
  return (request) =>
    Effect.gen(function* () {
      if (Option.isNone(secrets)) {
        return yield* Effect.fail(
          refusedUnread("not-configured", "HubSpot webhooks are not configured (HUBSPOT_APP_SECRET)")
        )
      }
      const now = yield* Clock.currentTimeMillis
      const signed = {
        timestamp: header(request.headers, hubspotTimestampHeader),
        signature: header(request.headers, hubspotSignatureHeader),
        nowMs: now
      }
      const headers = checkHubSpotSignatureHeaders(signed)
      if (Either.isLeft(headers)) {
        return yield* Effect.fail(refusedUnread(headers.left, `HubSpot signature rejected: ${headers.left}`))
      }
      const bytes = yield* readBodyBytes(request, webhooks.maxBodyBytes)
      const verdict = verifyHubSpotSignatureV3({
        ...signed,
        secret: secrets.value,
        method: request.method,
        uri: signedUrls(request, webhooks.hubspotPublicUrl),
        body: bytes
      })
      if (Either.isLeft(verdict)) {
        return yield* Effect.fail(refused(verdict.left, problem(401, `HubSpot signature rejected: ${verdict.left}`)))
      }
      yield* checkJsonContentType(request.headers)
      const body = yield* Effect.flatMap(parseJsonBody(bytes), jsonObject)
      const mapped = hubspotToLeadInput(body, {
        campaignProperty: Option.getOrUndefined(webhooks.hubspotCampaignProperty)
      })
      return yield* acceptUntrusted(mapped, "hubspot", { storeTimeoutMs: config.ingestStoreTimeoutMs })
    }).pipe(answering("hubspot"), withSpanWhenTraced("http.webhook.hubspot", { captureStackTrace: false }))
}
