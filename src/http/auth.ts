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
