import { createHmac, timingSafeEqual } from "node:crypto"
import * as Either from "effect/Either"

/** Header carrying HubSpot's v3 signature (base64 HMAC-SHA256). */
export const hubspotSignatureHeader = "x-hubspot-signature-v3"
/** Header carrying the millisecond epoch timestamp HubSpot signed. */
export const hubspotTimestampHeader = "x-hubspot-request-timestamp"

/**
 * HubSpot signs the URI with these escapes decoded ("Validating requests", v3); every other %XX stays as sent.
 * One pass, so "%253A" stays "%253A" rather than becoming ":".
 */
const decodedInUri: Readonly<Record<string, string>> = {
  "%3A": ":",
  "%2F": "/",
  "%3F": "?",
  "%40": "@",
  "%21": "!",
  "%24": "$",
  "%27": "'",
  "%28": "(",
  "%29": ")",
  "%2A": "*",
  "%2C": ",",
  "%3B": ";"
}

/** The URI as HubSpot signs it: the documented percent-escapes decoded, nothing else touched. */
export const hubspotSignedUri = (uri: string): string =>
  uri.replace(/%(?:3A|2F|3F|40|21|24|27|28|29|2A|2C|3B)/gi, (escape) => decodedInUri[escape.toUpperCase()] ?? escape)

/** Computes the v3 signature: base64(HMAC-SHA256(secret, method + uri + body + timestamp)). */
export const hubspotSignatureV3 = (input: {
  readonly secret: string
  readonly method: string
  readonly uri: string
  readonly body: string | Uint8Array
  readonly timestamp: string
}): string =>
  createHmac("sha256", input.secret)
    .update(input.method, "utf8")
    .update(hubspotSignedUri(input.uri), "utf8")
    .update(typeof input.body === "string" ? Buffer.from(input.body, "utf8") : input.body)
    .update(input.timestamp, "utf8")
    .digest("base64")

/** Why a request failed verification; safe to log (no secret, no signature). */
export type HubSpotSignatureFailure =
  | "missing-signature"
  | "missing-timestamp"
  | "invalid-timestamp"
  | "timestamp-too-old"
  | "timestamp-in-future"
  | "signature-mismatch"

/**
 * The part of the v3 check that needs no body: a signature is present and the timestamp is present, numeric and no
 * further than `maxAgeMs` (default 5 minutes) from now. Run before reading the body, so a request that cannot be
 * authentic is refused without reading it.
 */
export const checkHubSpotSignatureHeaders = (input: {
  readonly timestamp: string | undefined
  readonly signature: string | undefined
  readonly nowMs: number
  readonly maxAgeMs?: number
}): Either.Either<{ readonly signature: string; readonly timestamp: string }, HubSpotSignatureFailure> => {
  const maxAgeMs = input.maxAgeMs ?? 300_000
  const { signature, timestamp } = input
  if (signature === undefined || signature.length === 0) return Either.left("missing-signature")
  if (timestamp === undefined || timestamp.length === 0) return Either.left("missing-timestamp")
  if (!/^\d{1,16}$/.test(timestamp)) return Either.left("invalid-timestamp")
  const age = input.nowMs - Number(timestamp)
  if (age > maxAgeMs) return Either.left("timestamp-too-old")
  if (-age > maxAgeMs) return Either.left("timestamp-in-future")
  return Either.right({ signature, timestamp })
}

/**
 * Verifies X-HubSpot-Signature-v3. `uri` is the full URL HubSpot called (https://host/path?query), `body` the raw
 * bytes received, `timestamp` the X-HubSpot-Request-Timestamp header (ms). Requests older than `maxAgeMs`
 * (default 5 minutes) or as far in the future are rejected; the comparison is constant-time.
 *
 * `secret` may be several (the current app secret and, while it is rotated, the previous one): the request verifies
 * if it was signed with any of them, and each is computed and compared, whichever matches, so the time taken does
 * not tell which. A blank secret verifies nothing (HMAC under an empty key is anyone's to compute).
 */
export const verifyHubSpotSignatureV3 = (input: {
  readonly secret: string | ReadonlyArray<string>
  readonly method: string
  /** The URL HubSpot called, or every form it may have had (see the ingest's `signedUrls`). */
  readonly uri: string | ReadonlyArray<string>
  readonly body: string | Uint8Array
  readonly timestamp: string | undefined
  readonly signature: string | undefined
  readonly nowMs: number
  readonly maxAgeMs?: number
}): Either.Either<true, HubSpotSignatureFailure> => {
  const headers = checkHubSpotSignatureHeaders(input)
  if (Either.isLeft(headers)) return Either.left(headers.left)
  const { signature, timestamp } = headers.right
  const received = Buffer.from(signature, "utf8")
  const secrets = typeof input.secret === "string" ? [input.secret] : input.secret
  const uris = typeof input.uri === "string" ? [input.uri] : input.uri
  let verified = false
  for (const secret of secrets) {
    if (secret.trim() === "") continue
    for (const uri of uris) {
      const expected = Buffer.from(hubspotSignatureV3({ ...input, uri, secret, timestamp }), "utf8")
      // timingSafeEqual needs equal lengths; a length mismatch is already a mismatch and reveals only the length.
      verified = (expected.length === received.length && timingSafeEqual(expected, received)) || verified
    }
  }
  return verified ? Either.right(true as const) : Either.left("signature-mismatch")
}
