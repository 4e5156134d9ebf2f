import type { IncomingMessage } from "node:http"
import type * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import type * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as NodeHttpServerRequest from "@effect/platform-node/NodeHttpServerRequest"
import * as Effect from "effect/Effect"
import { header, type RequestHeaders } from "./auth.js"
import { findUnrepresentable, MAX_JSON_DEPTH, scanJsonText } from "./jsonText.js"
import { problem } from "./problem.js"

export { MAX_JSON_DEPTH } from "./jsonText.js"

/** The body as text (decoded from UTF-8) and its parsed JSON. */
export interface JsonBody {
  readonly text: string
  readonly json: unknown
}

/**
 * What the intake handlers (POST /leads and the webhooks) read of a request: the same whether it came through the
 * HttpApi (`fromPlatform`) or straight from node:http in the ingest program (`fromNode`, see ./intake.ts).
 */
export interface IntakeRequest {
  readonly source: IncomingMessage
  readonly headers: RequestHeaders
  readonly method: string
  /** Path and query string, as received. */
  readonly url: string
}

export const fromPlatform = (request: HttpServerRequest.HttpServerRequest): IntakeRequest => ({
  source: NodeHttpServerRequest.toIncomingMessage(request),
  headers: request.headers,
  method: request.method,
  url: request.url
})

export const fromNode = (request: IncomingMessage): IntakeRequest => ({
  source: request,
  headers: request.headers,
  method: request.method ?? "GET",
  url: request.url ?? "/"
})

type Refusal = HttpServerResponse.HttpServerResponse

/** 415 unless the request says its body is JSON (application/json or application/*+json, any parameters). */
export const checkJsonContentType = (headers: RequestHeaders): Effect.Effect<void, Refusal> => {
  const contentType = (header(headers, "content-type") ?? "").toLowerCase()
  const mediaType = contentType.split(";")[0]?.trim() ?? ""
  if (mediaType === "application/json" || /^application\/[a-z0-9.+-]*\+json$/.test(mediaType)) return Effect.void
  return Effect.fail(
    problem(415, `Content-Type must be application/json (got ${mediaType === "" ? "none" : JSON.stringify(mediaType)})`)
  )
}

/**
 * The body's raw bytes: 413 past `maxBytes` (checked on Content-Length before anything is read, and again while
 * streaming), 400 when the stream fails.
 */
export const readBodyBytes = ({ headers, source }: IntakeRequest, maxBytes: number): Effect.Effect<Buffer, Refusal> => {
  // close the connection after a 413 rather than wait for the rest of an oversized upload
  const tooLarge = problem(413, `Request body must be at most ${maxBytes} bytes`, {
    headers: { connection: "close" }
  })
  const declared = Number(header(headers, "content-length") ?? "0")
  if (Number.isFinite(declared) && declared > maxBytes) return Effect.fail(tooLarge)
  return readLimited(source, maxBytes).pipe(
    Effect.mapError((reason) =>
      reason === "too-large" ? tooLarge : problem(400, "The request body could not be read")
    )
  )
}

// fatal: a byte sequence that is not UTF-8 is an error, not a U+FFFD; ignoreBOM keeps a BOM for parseJsonBody to name
const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true })

/**
 * Parses the raw body as JSON, 400 (problem+json) for: bytes that are not UTF-8, an empty body, a byte order mark,
 * nesting deeper than MAX_JSON_DEPTH, malformed JSON, text Postgres cannot store (NUL, an unpaired surrogate) and
 * numbers out of range (1e309 parses to Infinity) — the last two naming the field.
 */
export const parseJsonBody = (bytes: Uint8Array): Effect.Effect<JsonBody, Refusal> => {
  let text: string
  try {
    text = utf8.decode(bytes)
  } catch {
    return Effect.fail(problem(400, "The request body is not valid UTF-8"))
  }
  if (text.trim() === "") return Effect.fail(problem(400, "Request body is empty; expected a JSON object"))
  if (text.charCodeAt(0) === 0xfeff) {
    return Effect.fail(problem(400, "The request body starts with a byte order mark; send the JSON without one"))
  }
  const scan = scanJsonText(text, MAX_JSON_DEPTH)
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

/** A JSON body read the way a client deserves: 415, 413, then parseJsonBody's 400s. Fails with the response to send. */
export const readJsonBody = (request: IntakeRequest, maxBytes: number): Effect.Effect<JsonBody, Refusal> =>
  checkJsonContentType(request.headers).pipe(
    Effect.zipRight(readBodyBytes(request, maxBytes)),
    Effect.flatMap(parseJsonBody)
  )

/**
 * The body's bytes, at most `maxBytes`. Platform's `withMaxBodySize` destroys the socket on overflow, so the client
 * would never see the 413; this stops collecting and discards the rest instead.
 */
const readLimited = (source: IncomingMessage, maxBytes: number) =>
  Effect.async<Buffer, "too-large" | "unreadable">((resume) => {
    const chunks: Array<Buffer> = []
    let bytes = 0
    const cleanup = () => {
      source.off("data", onData)
      source.off("end", onEnd)
      source.off("error", onError)
    }
    const onData = (chunk: Buffer) => {
      bytes += chunk.length
      if (bytes <= maxBytes) return void chunks.push(chunk)
      cleanup()
      source.resume()
      resume(Effect.fail("too-large"))
    }
    const onEnd = () => {
      cleanup()
      resume(Effect.sync(() => (chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks))))
    }
    const onError = () => {
      cleanup()
      resume(Effect.fail("unreadable"))
    }
    source.on("data", onData)
    source.once("end", onEnd)
    source.once("error", onError)
    return Effect.sync(cleanup)
  })
