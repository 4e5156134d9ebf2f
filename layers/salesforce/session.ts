import { createSign } from "node:crypto"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as SynchronizedRef from "effect/SynchronizedRef"
import { Connection, OAuth2 } from "jsforce"
import { isAuthFailure } from "../../src/domain/crmErrors.js"
import { SalesforceCallFailed, callSalesforce } from "./call.js"
import type { SalesforceAuth, SalesforceOptions } from "./config.js"

const base64url = (value: string | Buffer) => Buffer.from(value).toString("base64url")

/** The JWT bearer assertion Salesforce expects: iss = client id, sub = username, aud = login URL, 3 min life. */
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

    const requestToken = (auth: Exclude<SalesforceAuth, { _tag: "AccessToken" }>) =>
      Effect.flatMap(
        Effect.clockWith((clock) => clock.currentTimeMillis),
        (nowMs) =>
          callSalesforce(options.timeoutMs, (transport) => {
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
              auth._tag === "ClientCredentials"
                ? { grant_type: "client_credentials" }
                : {
                    grant_type: "urn:ietf:params:oauth:grant-type:jwt-bearer",
                    assertion: jwtAssertion(auth, options.loginUrl, nowMs)
                  }
            ) as Promise<unknown> as Promise<TokenResponse>
          })
      ).pipe(
        // The token endpoint answers bad credentials with 400 invalid_client / invalid_grant: report them as
        // rejected credentials (transient, a rotated secret fixes them), never as a permanent tool failure.
        Effect.mapError((error) => {
          const status = error.failure.status
          return status === 400 || status === 401 || status === 403
            ? new SalesforceCallFailed({ failure: { status: 401, message: "token request refused" } })
            : error
        }),
        Effect.map((token) => connect(token.access_token, token.instance_url, token.id))
      )

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
