import { createSign } from "node:crypto"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as SynchronizedRef from "effect/SynchronizedRef"
import { Connection, OAuth2 } from "jsforce"
import { type CrmFailure, isAuthFailure, scrubSecrets } from "../../src/domain/crmErrors.js"
import { SalesforceCallFailed, callSalesforce } from "./call.js"
import { type SalesforceAuth, type SalesforceOptions, defaultJwtAudience } from "./config.js"

const base64url = (value: string | Buffer) => Buffer.from(value).toString("base64url")

/**
 * The JWT bearer assertion Salesforce expects: iss = client id, sub = username, aud = https://login.salesforce.com or
 * https://test.salesforce.com (or an Experience Cloud site; never the My Domain the request goes to), 3 min life.
 */
export const jwtAssertion = (
  auth: Extract<SalesforceAuth, { _tag: "JwtBearer" }>,
  audience: string,
  nowMs: number
): string => {
  const header = base64url(JSON.stringify({ alg: "RS256" }))
  const claims = base64url(
    JSON.stringify({ iss: auth.clientId, sub: auth.username, aud: audience, exp: Math.floor(nowMs / 1000) + 180 })
  )
  const signature = createSign("RSA-SHA256")
    .update(`${header}.${claims}`)
    .sign(Redacted.value(auth.privateKey).replace(/\\n/g, "\n"))
  return `${header}.${claims}.${base64url(signature)}`
}

interface TokenResponse {
  readonly access_token: string
  readonly instance_url: string
  /** The identity URL, https://login.salesforce.com/id/<org id>/<user id>: who the session is signed in as. */
  readonly id?: string
}

/** The signed-in user and org from a token response's identity URL (jsforce's Connection.userInfo). */
export const userInfoOf = (identityUrl: string | undefined) => {
  const match =
    identityUrl === undefined ? null : /\/id\/([A-Za-z0-9]{15,18})\/([A-Za-z0-9]{15,18})\/?$/.exec(identityUrl)
  return match === null
    ? undefined
    : { id: match[2] as string, organizationId: match[1] as string, url: identityUrl as string }
}

type TokenAuth = Exclude<SalesforceAuth, { _tag: "AccessToken" }>

/** `text` on one line: control characters (a CR/LF that would forge a log line among them) become spaces. */
const oneLine = (text: string) =>
  [...text]
    .map((c) => (c < " " || c === "\u007f" ? " " : c))
    .join("")
    .replace(/\s+/g, " ")
    .trim()

/**
 * Why the token endpoint refused, from OAuth's answer: its `error` (a code such as invalid_grant) and
 * `error_description` ("request not supported on this domain", "audience is invalid"). Salesforce's descriptions are
 * fixed phrases; a proxy's could echo the request, so the secrets sent (the client secret, the key, the assertion) and
 * anything shaped like a credential are scrubbed, and the text is cut short.
 */
const refusalOf = (failure: CrmFailure, secrets: ReadonlyArray<Redacted.Redacted<string>>) => {
  const body =
    typeof failure.body === "object" && failure.body !== null ? (failure.body as Record<string, unknown>) : {}
  const error = typeof body.error === "string" && /^[a-z_]{1,64}$/.test(body.error) ? body.error : undefined
  const described = typeof body.error_description === "string" ? oneLine(body.error_description) : ""
  const description = described === "" ? undefined : scrubSecrets(described, secrets).slice(0, 200)
  const reason =
    error === undefined && description === undefined
      ? `HTTP ${failure.status}`
      : [error, description === undefined ? undefined : `(${description})`]
          .filter((part) => part !== undefined)
          .join(" ")
  return { error, description, message: `token request refused: ${reason}` }
}

/** The login URL's host, for the log (never its path or query). */
const loginHostOf = (url: string) => {
  try {
    return new URL(url).host
  } catch {
    return "(not a URL)"
  }
}

/** Sessions for one executor: created on first use, replaced once per expiry, shared by concurrent calls. */
export interface Sessions {
  readonly current: Effect.Effect<Connection, SalesforceCallFailed>
  /** A fresh session unless `stale` was already replaced; None when the auth mode cannot refresh. */
  readonly refresh: (stale: Connection) => Effect.Effect<Option.Option<Connection>, SalesforceCallFailed>
}

/** Builds the session manager; token requests go through jsforce's OAuth2 with the bounded transport. */
export const makeSessions = (options: SalesforceOptions): Effect.Effect<Sessions> =>
  Effect.gen(function* () {
    const connect = (accessToken: string, instanceUrl: string, identityUrl?: string) => {
      const conn = new Connection({ accessToken, instanceUrl, version: options.apiVersion })
      // set after construction: jsforce 3's constructor does not take the config's userInfo
      const userInfo = userInfoOf(identityUrl)
      if (userInfo !== undefined) conn.userInfo = userInfo
      return conn
    }

    const audience = options.jwtAudience ?? defaultJwtAudience(options.loginUrl)

    const requestToken = (auth: TokenAuth) =>
      Effect.flatMap(
        Effect.clockWith((clock) => clock.currentTimeMillis),
        (nowMs) => {
          const assertion = auth._tag === "JwtBearer" ? jwtAssertion(auth, audience, nowMs) : undefined
          const secrets = [
            auth._tag === "ClientCredentials" ? auth.clientSecret : auth.privateKey,
            ...(assertion === undefined ? [] : [Redacted.make(assertion)])
          ]
          return callSalesforce(options.timeoutMs, (transport) => {
            const oauth2 =
              auth._tag === "ClientCredentials"
                ? new OAuth2({
                    loginUrl: options.loginUrl,
                    clientId: auth.clientId,
                    clientSecret: Redacted.value(auth.clientSecret)
                  })
                : new OAuth2({ loginUrl: options.loginUrl })
            oauth2._transport = transport
            return oauth2.requestToken(
              assertion === undefined
                ? { grant_type: "client_credentials" }
                : { grant_type: "urn:ietf:params:oauth:grant-type:jwt-bearer", assertion }
            ) as Promise<unknown> as Promise<TokenResponse>
          }).pipe(
            // The token endpoint answers bad credentials with 400 invalid_client / invalid_grant: report them as
            // rejected credentials (transient, a rotated secret fixes them), never as a permanent tool failure. Its
            // reason is kept, and logged: the executor's error says only "credentials rejected".
            Effect.catchIf(
              (error) => [400, 401, 403].includes(error.failure.status ?? 0),
              (error) => {
                const refusal = refusalOf(error.failure, secrets)
                return Effect.zipRight(
                  Effect.logWarning("CRM token request refused").pipe(
                    Effect.annotateLogs({
                      provider: "salesforce",
                      auth: auth._tag,
                      status: error.failure.status,
                      loginHost: loginHostOf(options.loginUrl),
                      ...(refusal.error === undefined ? {} : { error: refusal.error }),
                      ...(refusal.description === undefined ? {} : { reason: refusal.description })
                    })
                  ),
                  Effect.fail(new SalesforceCallFailed({ failure: { status: 401, message: refusal.message } }))
                )
              }
            )
          )
        }
      ).pipe(Effect.map((token) => connect(token.access_token, token.instance_url, token.id)))

    const loginWith = (auth: SalesforceAuth): Effect.Effect<Connection, SalesforceCallFailed> =>
      auth._tag === "AccessToken"
        ? Effect.sync(() => connect(Redacted.value(auth.accessToken), auth.instanceUrl))
        : requestToken(auth)
    // The first sign-in uses the credentials read at start; refused (a secret rotated since, which no call has yet
    // met to refresh), it reads them again once, as a rejected session does
    const login = loginWith(options.auth).pipe(
      Effect.catchIf(
        (error) => options.reloadAuth !== undefined && isAuthFailure(error.failure),
        (refused) =>
          options.reloadAuth === undefined ? Effect.fail(refused) : Effect.flatMap(options.reloadAuth, loginWith)
      )
    )

    const state = yield* SynchronizedRef.make<Option.Option<Connection>>(Option.none())

    const current = SynchronizedRef.modifyEffect(state, (conn) =>
      Option.match(conn, {
        onSome: (existing) => Effect.succeed([existing, conn] as const),
        onNone: () => Effect.map(login, (fresh) => [fresh, Option.some(fresh)] as const)
      })
    )

    const refresh = (stale: Connection) =>
      SynchronizedRef.modifyEffect(state, (conn) =>
        Effect.gen(function* () {
          if (Option.isSome(conn) && conn.value !== stale) return [conn, conn] as const
          const auth = options.reloadAuth === undefined ? options.auth : yield* options.reloadAuth
          // A fixed access token can only be replaced by a rotated one.
          if (auth._tag === "AccessToken" && Redacted.value(auth.accessToken) === stale.accessToken) {
            return [Option.none(), conn] as const
          }
          const fresh = yield* loginWith(auth)
          yield* Effect.logInfo("CRM token refreshed").pipe(
            Effect.annotateLogs({
              provider: "salesforce",
              reason: "the session was rejected (401 / INVALID_SESSION_ID)",
              auth: auth._tag
            })
          )
          return [Option.some(fresh), Option.some(fresh)] as const
        })
      )

    return { current, refresh }
  })

/** True when a failed call should be retried once on a refreshed session. */
export const needsRefresh = (error: SalesforceCallFailed): boolean => isAuthFailure(error.failure)
