import type { IncomingMessage } from "node:http"
import type * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import type * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as NodeHttpServerRequest from "@effect/platform-node/NodeHttpServerRequest"
import * as Effect from "effect/Effect"
import { header, type RequestHeaders } from "./auth.js"
import { problem } from "./problem.js"

/** The raw body text and its parsed JSON: webhooks that sign the body need both. */
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

/**
 * Read a JSON body the way a client deserves: 415 for another content type, 413 past `maxBytes` (checked on
 * Content-Length and again while streaming), 400 for malformed JSON. Fails with the response to send.
 */
export const readJsonBody = (
  { headers, source }: IntakeRequest,
  maxBytes: number,
  /** Checks the raw text before it is parsed (a webhook signature), so unauthenticated input is never parsed. */
  verify: (text: string) => Effect.Effect<void, HttpServerResponse.HttpServerResponse> = () => Effect.void
): Effect.Effect<JsonBody, HttpServerResponse.HttpServerResponse> =>
  Effect.gen(function* () {
    const contentType = (header(headers, "content-type") ?? "").toLowerCase()
    const mediaType = contentType.split(";")[0]?.trim() ?? ""
    if (mediaType !== "application/json" && !/^application\/[a-z0-9.+-]*\+json$/.test(mediaType)) {
      return yield* Effect.fail(
        problem(
          415,
          `Content-Type must be application/json (got ${mediaType === "" ? "none" : JSON.stringify(mediaType)})`
        )
      )
    }
    // close the connection after a 413 rather than wait for the rest of an oversized upload
    const tooLarge = problem(413, `Request body must be at most ${maxBytes} bytes`, {
      headers: { connection: "close" }
    })
    const declared = Number(header(headers, "content-length") ?? "0")
    if (Number.isFinite(declared) && declared > maxBytes) return yield* Effect.fail(tooLarge)
    const text = yield* readLimited(source, maxBytes).pipe(
      Effect.mapError((reason) =>
        reason === "too-large" ? tooLarge : problem(400, "The request body could not be read")
      )
    )
    yield* verify(text)
    if (text.trim() === "") return yield* Effect.fail(problem(400, "Request body is empty; expected a JSON object"))
    const json = yield* Effect.try({
      try: () => JSON.parse(text) as unknown,
      catch: (error) => problem(400, `Request body is not valid JSON: ${(error as Error).message}`)
    })
    const unstorable = unstorableText(json, "")
    if (unstorable !== undefined) {
      return yield* Effect.fail(
        problem(400, "The body holds text that cannot be stored: a NUL character or an unpaired surrogate", {
          errors: [{ field: unstorable, message: "must not contain \\u0000 or an unpaired UTF-16 surrogate" }]
        })
      )
    }
    return { text, json }
  })

/**
 * The body as UTF-8 text, at most `maxBytes`. Platform's `withMaxBodySize` destroys the socket on overflow, so the
 * client would never see the 413; this stops collecting and discards the rest instead.
 */
const readLimited = (source: IncomingMessage, maxBytes: number) =>
  Effect.async<string, "too-large" | "unreadable">((resume) => {
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
      resume(Effect.sync(() => Buffer.concat(chunks).toString("utf8")))
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

// NUL, a high surrogate not followed by a low one, or a low surrogate not preceded by a high one
// biome-ignore lint/suspicious/noControlCharactersInRegex: NUL is exactly what this looks for
const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/

/**
 * The path ("(root)", "activity.note", "tags.2") of the first string — key or value — that Postgres cannot store in
 * jsonb, or undefined. JSON may escape such characters (\u0000, \ud800); jsonb refuses them, so they are a 400
 * here rather than a failed insert.
 */
const unstorableText = (value: unknown, path: string): string | undefined => {
  if (typeof value === "string") return UNSTORABLE.test(value) ? path || "(root)" : undefined
  if (typeof value !== "object" || value === null) return undefined
  for (const [key, child] of Object.entries(value)) {
    const at = path === "" ? key : `${path}.${key}`
    if (UNSTORABLE.test(key)) return at
    const found = unstorableText(child, at)
    if (found !== undefined) return found
  }
  return undefined
}
