import { Buffer, isUtf8 } from "node:buffer"
import { IncomingMessage } from "node:http"
import type * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import type * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { header, type RequestHeaders } from "./auth.js"
import {
  findDuplicateKey,
  findUnrepresentable,
  type JsonTextCounts,
  MAX_JSON_DEPTH,
  memberCount,
  scanJsonText
} from "./jsonText.js"
import { problem } from "./problem.js"
import { type Refused, refused } from "./refusals.js"

export { MAX_JSON_DEPTH } from "./jsonText.js"

/** The body as text (decoded from UTF-8) and its parsed JSON. */
export interface JsonBody {
  readonly text: string
  readonly json: unknown
}

/** Why a body could not be read: more than the cap, or the stream failed. */
type ReadFailure = "too-large" | "unreadable"

/**
 * What the intake handlers (POST /leads and the webhooks) read of a request: the same whether it came through the
 * HttpApi on any platform (`fromPlatform`: Node, a web handler, Lambda) or straight from node:http in the ingest
 * program (`fromNode`, see ./intake.ts).
 */
export interface IntakeRequest {
  readonly headers: RequestHeaders
  readonly method: string
  /** Path and query string, as received. */
  readonly url: string
  /** The body's bytes, reading no further than `maxBytes` (then "too-large"). */
  readonly body: (maxBytes: number) => Effect.Effect<Uint8Array, ReadFailure>
}

/**
 * The platform's request. On Node (its source an IncomingMessage) the body is read from the socket as `fromNode`
 * does; anywhere else (a web Request: `HttpApp.toWebHandler`, the Lambda handlers) through `request.stream`, the cap
 * enforced chunk by chunk, so an oversized body is never held whole.
 */
export const fromPlatform = (request: HttpServerRequest.HttpServerRequest): IntakeRequest => ({
  headers: request.headers,
  method: request.method,
  url: request.url,
  body: (maxBytes) =>
    request.source instanceof IncomingMessage
      ? readLimited(request.source, maxBytes)
      : readStreamLimited(request.stream, maxBytes)
})

/**
 * A request straight from node:http. `beforeRead` runs when a handler first reads the body: the ingest's server
 * sends `100 Continue` there to a client that asked for it (`Expect: 100-continue`), so whatever a handler refuses
 * on the headers alone (an API key, a content type, a declared length) is answered before the client sends a byte.
 */
export const fromNode = (request: IncomingMessage, beforeRead?: () => void): IntakeRequest => ({
  headers: request.headers,
  method: request.method ?? "GET",
  url: request.url ?? "/",
  body:
    beforeRead === undefined
      ? (maxBytes) => readLimited(request, maxBytes)
      : (maxBytes) =>
          Effect.suspend(() => {
            beforeRead()
            return readLimited(request, maxBytes)
          })
})

type Refusal = HttpServerResponse.HttpServerResponse

/**
 * A refusal answered before the body is read closes the connection after it: on a kept-alive connection Node would
 * read (and discard) the whole declared body first, up to REQUEST_TIMEOUT_MS — gigabytes an unauthenticated client
 * may send for nothing.
 */
export const unreadBody = { connection: "close" } as const

/**
 * The 415 for a request whose headers do not say its body is JSON as it is read: application/json or
 * application/*+json, in UTF-8 (no charset, or utf-8), not compressed (no Content-Encoding, or identity; no
 * Transfer-Encoding but chunked). A compressed or UTF-16 body would otherwise be refused as "not UTF-8" or "not JSON",
 * which names the wrong problem.
 * `unread`: the body has not been read (the connection closes after the answer).
 */
const contentTypeRefusal = (headers: RequestHeaders, unread: boolean): Refused | undefined => {
  const refuse = (detail: string) =>
    refused("unsupported-media-type", problem(415, detail, unread ? { headers: unreadBody } : {}))
  const [media = "", ...parameters] = (header(headers, "content-type") ?? "").toLowerCase().split(";")
  const mediaType = media.trim()
  if (mediaType !== "application/json" && !/^application\/[a-z0-9.+-]*\+json$/.test(mediaType)) {
    return refuse(
      `Content-Type must be application/json (got ${mediaType === "" ? "none" : JSON.stringify(mediaType)})`
    )
  }
  for (const parameter of parameters) {
    const [name = "", value = ""] = parameter.split("=").map((part) => part.trim().replace(/^"(.*)"$/, "$1"))
    if (name === "charset" && value !== "utf-8" && value !== "utf8") {
      return refuse(`The body must be UTF-8 (got charset=${JSON.stringify(value.slice(0, 40))})`)
    }
  }
  const encoding = (header(headers, "content-encoding") ?? "").trim().toLowerCase()
  if (encoding !== "" && encoding !== "identity") {
    return refuse(
      `Content-Encoding ${JSON.stringify(encoding.slice(0, 40))} is not accepted: send the body uncompressed`
    )
  }
  // a body compressed in transfer (Transfer-Encoding: gzip, chunked): Node undoes the chunking only
  const transfer = headers["transfer-encoding"]
  if (transfer !== undefined && transfer !== "chunked" && !plainTransfer(header(headers, "transfer-encoding") ?? "")) {
    return refuse(
      `Transfer-Encoding ${JSON.stringify(String(header(headers, "transfer-encoding")).slice(0, 40))} is not ` +
        "accepted: send the body uncompressed (chunked alone)"
    )
  }
  return undefined
}

/** A Transfer-Encoding that only frames the body (chunked, identity), whatever its case and spacing. */
const plainTransfer = (transfer: string): boolean =>
  transfer.split(",").every((coding) => {
    const name = coding.trim().toLowerCase()
    return name === "chunked" || name === "identity" || name === ""
  })

/**
 * 415 unless the request says its body is JSON (application/json or application/*+json, any parameters); for a body
 * already read (HubSpot's, whose signature had to be checked first).
 */
export const checkJsonContentType = (headers: RequestHeaders): Effect.Effect<void, Refused> => {
  const refusal = contentTypeRefusal(headers, false)
  return refusal === undefined ? Effect.void : Effect.fail(refusal)
}

/**
 * The body's raw bytes: 413 past `maxBytes` (checked on Content-Length before anything is read, and again while
 * streaming), 400 when the stream fails.
 */
export const readBodyBytes = (
  { headers, body }: IntakeRequest,
  maxBytes: number
): Effect.Effect<Uint8Array, Refused> => {
  // close the connection after a 413 rather than wait for the rest of an oversized upload; built only when sent
  const tooLarge = () =>
    refused("too-large", problem(413, `Request body must be at most ${maxBytes} bytes`, { headers: unreadBody }))
  const declared = Number(header(headers, "content-length") ?? "0")
  if (Number.isFinite(declared) && declared > maxBytes) return Effect.fail(tooLarge())
  return body(maxBytes).pipe(
    Effect.mapError((reason) =>
      reason === "too-large" ? tooLarge() : refused("unreadable", problem(400, "The request body could not be read"))
    )
  )
}

/**
 * The bytes as text when they are UTF-8 (a BOM kept, for parseJsonBody to name); undefined when they are not, rather
 * than U+FFFD. The same as a fatal TextDecoder, whose decode costs several times more per body.
 */
const utf8Text = (bytes: Uint8Array): string | undefined =>
  isUtf8(bytes) ? Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("utf8") : undefined

/**
 * Parses the raw body as JSON, 400 (problem+json) for: bytes that are not UTF-8, an empty body, a byte order mark,
 * nesting deeper than MAX_JSON_DEPTH, malformed JSON, a key written twice in one object, text Postgres cannot store
 * (NUL, an unpaired surrogate) and numbers out of range (1e309 parses to Infinity) — the last three naming where.
 */
export const parseJsonBody = (bytes: Uint8Array): Effect.Effect<JsonBody, Refused> =>
  Effect.mapError(parseJson(bytes), (response) => refused("malformed-json", response))

const parseJson = (bytes: Uint8Array): Effect.Effect<JsonBody, Refusal> => {
  const text = utf8Text(bytes)
  if (text === undefined) return Effect.fail(problem(400, "The request body is not valid UTF-8"))
  if (text.trim() === "") return Effect.fail(problem(400, "Request body is empty; expected a JSON object"))
  if (text.charCodeAt(0) === 0xfeff) {
    return Effect.fail(problem(400, "The request body starts with a byte order mark; send the JSON without one"))
  }
  const counts: JsonTextCounts = { members: 0 }
  const scan = scanJsonText(text, MAX_JSON_DEPTH, counts)
  if (scan === "too-deep") {
    return Effect.fail(
      problem(
        400,
        `The request body nests objects and arrays deeper than ${MAX_JSON_DEPTH} levels; at most ${MAX_JSON_DEPTH} levels are accepted`
      )
    )
  }
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (error) {
    return Effect.fail(problem(400, `Request body is not valid JSON: ${(error as Error).message}`))
  }
  // a key written twice in one object: JSON.parse keeps the last silently, so which one the client meant is unknown
  const duplicate = memberCount(json) === counts.members ? undefined : findDuplicateKey(text)
  if (duplicate !== undefined) {
    return Effect.fail(
      problem(
        400,
        `The body names ${JSON.stringify(duplicate.key.slice(0, 64))} twice in one object; name each key once`,
        {
          errors: [
            {
              field: duplicate.path,
              message: `has the key ${JSON.stringify(duplicate.key.slice(0, 64))} more than once`
            }
          ]
        }
      )
    )
  }
  const bad = scan === "check-values" ? findUnrepresentable(json) : undefined
  if (bad?.kind === "text") {
    return Effect.fail(
      problem(400, "The body holds text that cannot be stored: a NUL character or an unpaired surrogate", {
        errors: [{ field: bad.path, message: "must not contain \\u0000 or an unpaired UTF-16 surrogate" }]
      })
    )
  }
  if (bad?.kind === "number") {
    return Effect.fail(
      problem(400, "The body holds a number out of range (it would be Infinity)", {
        errors: [{ field: bad.path, message: "must be a finite number, at most 1.7976931348623157e308 in magnitude" }]
      })
    )
  }
  return Effect.succeed({ text, json })
}

/** A JSON body read the way a client deserves: 415 (nothing read), 413, then parseJsonBody's 400s; and why not. */
export const readJson = (request: IntakeRequest, maxBytes: number): Effect.Effect<JsonBody, Refused> => {
  const refusal = contentTypeRefusal(request.headers, true)
  return refusal === undefined ? Effect.flatMap(readBodyBytes(request, maxBytes), parseJsonBody) : Effect.fail(refusal)
}

/** `readJson`, failing with the response to send alone. */
export const readJsonBody = (request: IntakeRequest, maxBytes: number): Effect.Effect<JsonBody, Refusal> =>
  Effect.mapError(readJson(request, maxBytes), (refusal) => refusal.response)

/**
 * The body's bytes, at most `maxBytes`. Platform's `withMaxBodySize` destroys the socket on overflow, so the client
 * would never see the 413; this stops collecting and lets the rest flow past instead.
 *
 * No canceler and no listener removed: the listeners go with the request. A read that is interrupted (the client
 * gone, or the server stopping) leaves them collecting at most `maxBytes` of a body nobody waits for. A canceler
 * would cost several Effect operations on every request and the removals EventEmitter work (docs/performance-log.md).
 */
const readLimited = (source: IncomingMessage, maxBytes: number) =>
  Effect.async<Buffer, ReadFailure>((resume) => {
    const chunks: Array<Buffer> = []
    let bytes = 0
    let done = false
    source.on("data", (chunk: Buffer) => {
      if (done) return
      bytes += chunk.length
      if (bytes <= maxBytes) return void chunks.push(chunk)
      done = true
      chunks.length = 0
      resume(Effect.fail("too-large"))
    })
    source.once("end", () => {
      if (done) return
      done = true
      resume(Effect.succeed(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks)))
    })
    source.once("error", () => {
      if (done) return
      done = true
      resume(Effect.fail("unreadable"))
    })
  })

/** The same cap over the platform's body stream: stops pulling (cancelling the rest) at the first byte past it. */
const readStreamLimited = <E>(stream: Stream.Stream<Uint8Array, E>, maxBytes: number) =>
  Effect.suspend(() => {
    const chunks: Array<Uint8Array> = []
    let bytes = 0
    let over = false
    return stream.pipe(
      Stream.takeWhile((chunk) => {
        bytes += chunk.byteLength
        if (bytes > maxBytes) {
          over = true
          return false
        }
        chunks.push(chunk)
        return true
      }),
      Stream.runDrain,
      Effect.mapError((): ReadFailure => "unreadable"),
      Effect.flatMap(() =>
        over ? Effect.fail<ReadFailure>("too-large") : Effect.sync(() => Buffer.concat(chunks, bytes) as Uint8Array)
      )
    )
  })
