import { createHash, timingSafeEqual } from "node:crypto"
import * as Redacted from "effect/Redacted"

const digest = (value: string) => createHash("sha256").update(value, "utf8").digest()

/**
 * Checks an API key against the configured ones in constant time: each side is hashed to a fixed length first, so
 * neither content nor length leaks through timing, and every key is compared.
 */
export const makeApiKeyCheck = (keys: Redacted.Redacted<ReadonlyArray<string>>) => {
  const digests = Redacted.value(keys)
    .map((key) => key.trim())
    .filter((key) => key !== "")
    .map(digest)
  return (presented: string | undefined): boolean => {
    if (digests.length === 0) return true
    if (presented === undefined || presented === "") return false
    const candidate = digest(presented)
    let ok = false
    for (const expected of digests) ok = timingSafeEqual(candidate, expected) || ok
    return ok
  }
}

/**
 * Whether the API keys `makeApiKeyCheck` is given guard anything: none set (or only blank ones), every request passes
 * it, and `makeHostCheck` is what keeps a web page from reaching the routes by DNS rebinding.
 */
export const hasApiKeys = (keys: Redacted.Redacted<ReadonlyArray<string>>): boolean =>
  Redacted.value(keys).some((key) => key.trim() !== "")

/** The host of a Host header, without its port, lower case (an IPv6 literal keeps its brackets). */
const hostName = (host: string): string => {
  const end = host.startsWith("[") ? host.indexOf("]") + 1 : host.lastIndexOf(":")
  return (end > 0 ? host.slice(0, end) : host).toLowerCase()
}

/**
 * Checks a request's Host header where no API key guards the routes (INGEST_API_KEYS unset, as `npm start` runs):
 * a page on `http://rebind.attacker.example` whose name the attacker re-points at 127.0.0.1 (DNS rebinding) is, for
 * the browser, the attacker's own origin, and could read and replay leads; its requests carry its name as Host. So a
 * Host that is a DNS name is refused unless it is `localhost` or one of `allowed` (INGEST_ALLOWED_HOSTS); an IP
 * literal (rebinding needs a name) and a request without Host (HTTP/1.0) pass. The last Host accepted is remembered:
 * the next request from the same client costs one comparison.
 */
export const makeHostCheck = (allowed: ReadonlyArray<string>) => {
  const names = new Set(allowed.map((name) => hostName(name.trim())).filter((name) => name !== ""))
  let lastAccepted: string | undefined
  return (host: string | undefined): boolean => {
    if (host === undefined || host === lastAccepted) return true
    const name = hostName(host)
    const ok = name === "localhost" || name.startsWith("[") || /^[0-9.]+$/.test(name) || name === "" || names.has(name)
    if (ok) lastAccepted = host
    return ok
  }
}

/**
 * Whether a browser sent the request from another site's page (where no API key guards the routes, what keeps a form
 * on any site from replaying a lead the visitor's browser can reach): an `Origin` on a host `allowed` names
 * (INGEST_ALLOWED_HOSTS) is not — the operator vouched for that site, whatever `Sec-Fetch-Site` says (a page on
 * another site than the ingest's, or a proxy in front that sends its own Host); else `Sec-Fetch-Site: cross-site` is,
 * and so is an `Origin` that is not this request's own — `null` included (a sandboxed frame, a file). A request
 * without either (curl, a server, an older browser's same-origin GET) is no page's.
 */
export const makeCrossSiteCheck = (allowed: ReadonlyArray<string>) => {
  const names = new Set(allowed.map((name) => hostName(name.trim())).filter((name) => name !== ""))
  return (host: string | undefined, origin: string | undefined, fetchSite: string | undefined): boolean => {
    const authority =
      origin === undefined ? undefined : /^[a-z][a-z0-9+.-]*:\/\/([^/?#@]+)$/i.exec(origin.trim())?.[1]?.toLowerCase()
    if (authority !== undefined && names.has(hostName(authority))) return false
    if (fetchSite?.trim().toLowerCase() === "cross-site") return true
    if (origin === undefined) return false
    return authority === undefined || authority !== host?.trim().toLowerCase()
  }
}

/** The 403's detail for a request from another site's page (`makeCrossSiteCheck`). */
export const crossSiteDetail =
  "A request from another site's page is refused: with no API keys (INGEST_API_KEYS) these routes answer only " +
  "pages of this server's own origin (the console), pages whose Origin header names a host INGEST_ALLOWED_HOSTS " +
  "lists (its operator vouches for that site), and clients that are no browser page; set INGEST_API_KEYS to call " +
  "them from elsewhere"

/** The 403's detail for a Host `makeHostCheck` refused: what was refused, why, and the setting that allows it. */
export const foreignHostDetail = (host: string): string =>
  `Host ${JSON.stringify(hostName(host).slice(0, 200))} is not allowed: with no API keys (INGEST_API_KEYS) this ` +
  "route answers only requests to localhost, an IP address or a host INGEST_ALLOWED_HOSTS lists (a page on another " +
  "name could reach it by DNS rebinding); add the host to INGEST_ALLOWED_HOSTS, or set INGEST_API_KEYS"

/** Request headers as Node and the platform give them: lower-case names, a list only for repeatable ones. */
export type RequestHeaders = Readonly<Record<string, string | ReadonlyArray<string> | undefined>>

/** A header's value; a repeated one is read as Node joins it (", "). */
export const header = (headers: RequestHeaders, name: string): string | undefined => {
  const value = headers[name]
  return typeof value === "string" || value === undefined ? value : value.join(", ")
}

/** The key a request presents: `X-API-Key`, or `Authorization: Bearer <key>`. */
export const presentedKey = (headers: RequestHeaders): string | undefined => {
  const key = header(headers, "x-api-key")
  if (key !== undefined) return key
  const authorization = header(headers, "authorization")
  return authorization?.toLowerCase().startsWith("bearer ") ? authorization.slice(7).trim() : undefined
}
