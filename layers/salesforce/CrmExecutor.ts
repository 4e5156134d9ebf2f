import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Ref from "effect/Ref"
import type { Connection } from "jsforce"
import { SOAP } from "jsforce/lib/soap.js"
import { classify } from "../../src/domain/crmErrors.js"
import { type ApiUsage, type CrmCall, type CrmError, CrmExecutor, type CrmResult } from "../../services/CrmExecutor.js"
import { Metrics } from "../../services/Metrics.js"
import { SecretsRefresh } from "../../services/SecretsRefresh.js"
import { liveConfig } from "../shared/liveConfig.js"
import { type LastResponse, NotSent, SalesforceCallFailed, callSalesforce } from "./call.js"
import { type SalesforceAuth, type SalesforceOptions, salesforceConfig } from "./config.js"
import { makeSessions, needsRefresh } from "./session.js"
import { type ConvertResult, callCost, type SalesforceApi, makeTools } from "./tools.js"
import type { BoundedTransport } from "./transport.js"

export const PROVIDER = "salesforce"

type Send<A> = (conn: Connection, transport: BoundedTransport) => Promise<A>

/** Reads "api-usage=12/15000" from Sforce-Limit-Info. */
export const parseLimitInfo = (header: string | undefined): { used: number; limit: number } | undefined => {
  const match = header === undefined ? null : /api-usage=(\d+)\/(\d+)/.exec(header)
  return match === null ? undefined : { used: Number(match[1]), limit: Number(match[2]) }
}

/** The first API version whose SOAP API takes JWT-based access tokens (Salesforce core 264; jsforce checks it too). */
const SOAP_JWT_MIN_VERSION = 68

/** A JWT-format access token (header.claims.signature, the header JSON), as jsforce's own check tells one. */
const isJwtAccessToken = (token: string | undefined): boolean => {
  const parts = token?.split(".") ?? []
  if (parts.length !== 3) return false
  try {
    return typeof JSON.parse(Buffer.from(parts[0] as string, "base64url").toString()) === "object"
  } catch {
    return false
  }
}

/**
 * A connected app (or external client app) set to issue JWT-based access tokens signs every sign-in method in with
 * one; below API 68.0 the SOAP API refuses it (jsforce throws before sending, Salesforce would answer
 * INVALID_SESSION_ID), so convertLead fails on every try whatever the queue does: a permanent refusal naming the fix,
 * not a transient one (it was taken for a network error and retried, and counted by the circuit breaker).
 */
const soapRefusesSession = (conn: Connection): NotSent | undefined =>
  isJwtAccessToken(conn.accessToken ?? undefined) && Number.parseInt(conn.version, 10) < SOAP_JWT_MIN_VERSION
    ? new NotSent({
        // no HTTP answer: 400 says the request as it would be sent is refused, so no retry and no token refresh
        status: 400,
        code: "JWT_TOKEN_NOT_SUPPORTED_BY_SOAP",
        message: `convert_lead uses the SOAP API, which takes JWT-based access tokens from API ${SOAP_JWT_MIN_VERSION}.0 only: set SALESFORCE_API_VERSION to ${SOAP_JWT_MIN_VERSION}.0 or later (now ${conn.version}), or turn off "Issue JSON Web Token (JWT)-based access tokens" in the connected app`
      })
    : undefined

/** The secret values of a sign-in method (never its client id, username or instance URL). */
const secretsOf = (auth: SalesforceAuth): ReadonlyArray<Redacted.Redacted<string>> =>
  auth._tag === "ClientCredentials"
    ? [auth.clientSecret]
    : auth._tag === "JwtBearer"
      ? [auth.privateKey]
      : [auth.accessToken]

/** The Salesforce CrmExecutor: jsforce REST (and SOAP convertLead), no jsforce retries, one refresh per 401. */
export const make = (options: SalesforceOptions) =>
  Effect.gen(function* () {
    /** The CRM's own API usage as last reported, so the CRM-wide rate-limit tier can tighten near its quota. */
    const lastUsage = yield* Ref.make(Option.none<ApiUsage>())
    /**
     * The credentials as last read (the configured ones, then each reload's) and the sessions last used (the current
     * one and the one it replaced, which a call still running may have sent): their secret values are scrubbed
     * literally from the text of a failed call, wrapped in Redacted only for the classification, never kept elsewhere.
     */
    const auth = yield* Ref.make(options.auth)
    const used = yield* Ref.make<ReadonlyArray<Connection>>([])
    const sessions = yield* makeSessions({
      ...options,
      reloadAuth:
        options.reloadAuth === undefined ? undefined : Effect.tap(options.reloadAuth, (fresh) => Ref.set(auth, fresh))
    })
    const secrets = Effect.map(Effect.zip(Ref.get(auth), Ref.get(used)), ([current, conns]) => [
      ...secretsOf(current),
      ...conns.flatMap((conn) => (conn.accessToken ? [Redacted.make(conn.accessToken)] : []))
    ])

    const reportUsage = (last: NonNullable<LastResponse>) => {
      const usage = parseLimitInfo(last.headers["sforce-limit-info"])
      if (usage === undefined) return Effect.void
      const remember = Ref.set(lastUsage, Option.some(usage))
      return options.onApiUsage === undefined
        ? remember
        : Effect.zipRight(remember, options.onApiUsage(usage.used, usage.limit))
    }

    const once = <A>(conn: Connection, send: Send<A>) =>
      Effect.zipRight(
        Ref.update(used, (conns) => (conns[0] === conn ? conns : [conn, ...conns.slice(0, 1)])),
        callSalesforce(options.timeoutMs, (transport) => send(conn, transport), reportUsage)
      )

    // An expired session gets one refresh and one retry; a second 401 is left to the queue's backoff.
    const run = <A>(send: Send<A>): Effect.Effect<A, SalesforceCallFailed> =>
      Effect.flatMap(sessions.current, (conn) =>
        once(conn, send).pipe(
          Effect.catchIf(needsRefresh, (expired) =>
            Effect.flatMap(
              sessions.refresh(conn),
              Option.match({ onNone: () => Effect.fail(expired), onSome: (fresh) => once(fresh, send) })
            )
          )
        )
      )

    /**
     * The integration user's id: from the session's sign-in (the token response names it), else asked once of the
     * identity service (a given access token), then kept: the user behind the credentials does not change.
     */
    const knownUserId = yield* Ref.make(Option.none<string>())
    const rest = <A>(
      method: "GET" | "PATCH" | "POST",
      path: string,
      body?: object,
      headers?: Readonly<Record<string, string>>
    ) =>
      run<A>(
        (conn, transport) =>
          conn.request<A>(
            {
              method,
              url: path,
              ...(body === undefined ? {} : { body: JSON.stringify(body) }),
              ...(body === undefined && headers === undefined
                ? {}
                : { headers: { ...(body === undefined ? {} : { "content-type": "application/json" }), ...headers } })
            },
            { transport, noContentResponse: undefined }
          ) as Promise<A>
      )
    const lookUpUserId = Effect.flatMap(sessions.current, (conn) => {
      const signedIn = conn.userInfo?.id
      if (signedIn !== undefined) return Effect.succeed(signedIn)
      // the version's resources name the identity URL; the identity service answers with the user's id (the token is
      // sent as the Authorization header, never in the URL as jsforce's identity() does)
      return Effect.flatMap(rest<{ identity?: string }>("GET", "/"), (resources) =>
        resources.identity === undefined
          ? Effect.fail(
              new SalesforceCallFailed({ failure: { status: 500, message: "no identity URL in the API's resources" } })
            )
          : Effect.map(rest<{ user_id: string }>("GET", resources.identity), (identity) => identity.user_id)
      )
    })
    const userId = Effect.flatMap(
      Ref.get(knownUserId),
      Option.match({
        onSome: Effect.succeed,
        onNone: () => Effect.tap(lookUpUserId, (id) => Ref.set(knownUserId, Option.some(id)))
      })
    )

    const api: SalesforceApi = {
      userId,
      rest,
      convertLead: (leadConvert) =>
        run(async (conn, transport) => {
          const refused = soapRefusesSession(conn)
          if (refused !== undefined) throw refused
          const soap = new SOAP(conn, {
            xmlns: "urn:partner.soap.sforce.com",
            endpointUrl: `${conn.instanceUrl}/services/Soap/u/${conn.version}`,
            transport
          } as ConstructorParameters<typeof SOAP>[1])
          const res = (await soap.invoke("convertLead", { leadConverts: leadConvert })) as { result?: ConvertResult }
          return res.result ?? {}
        })
    }

    const tools = makeTools(api, options.fields, options.leadStatuses, options.convertOwnerId)

    const execute = (call: CrmCall): Effect.Effect<CrmResult, CrmError> =>
      tools(call).pipe(
        // the credentials and the session token in use are scrubbed from the error's text wherever it echoed them
        Effect.catchAll((error) =>
          Effect.flatMap(Effect.zip(Clock.currentTimeMillis, secrets), ([now, current]) =>
            Effect.fail(classify(PROVIDER, error.failure, now, current))
          )
        ),
        Effect.withSpan("crm.salesforce", { captureStackTrace: false, attributes: { "crm.tool": call.tool } })
      )

    return CrmExecutor.of({ provider: PROVIDER, execute, apiUsage: Ref.get(lastUsage), callCost })
  })

/** The Salesforce executor from explicit options (tests, embedding apps). */
export const layer = (options: SalesforceOptions): Layer.Layer<CrmExecutor> => Layer.effect(CrmExecutor, make(options))

/** The Salesforce executor from SALESFORCE_* / CRM_TIMEOUT_MS; reports API usage to Metrics when it is provided. */
export const layerConfig: Layer.Layer<CrmExecutor, import("effect/ConfigError").ConfigError> = Layer.effect(
  CrmExecutor,
  Effect.gen(function* () {
    const options = yield* salesforceConfig
    const metrics = yield* Effect.serviceOption(Metrics)
    const secrets = yield* Effect.serviceOption(SecretsRefresh)
    const current = yield* liveConfig(salesforceConfig)
    return yield* make({
      ...options,
      // on an expired or rejected session: fresh secrets first, then the credentials as they are now
      reloadAuth: Option.match(secrets, { onNone: () => Effect.void, onSome: (s) => s.refresh }).pipe(
        Effect.zipRight(current),
        Effect.map((fresh) => fresh.auth),
        Effect.orElseSucceed(() => options.auth)
      ),
      onApiUsage: Option.match(metrics, {
        onNone: () => undefined,
        onSome: (m) => (used: number, limit: number) => m.crmApiUsage(PROVIDER, used, limit)
      })
    })
  })
)
