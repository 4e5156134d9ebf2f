import * as HttpIncomingMessage from "@effect/platform/HttpIncomingMessage"
import type * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import type * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { problem } from "./problem.js"

/** The raw body text and its parsed JSON: webhooks that sign the body need both. */
export interface JsonBody {
  readonly text: string
  readonly json: unknown
}

/**
 * Read a JSON body the way a client deserves: 415 for another content type, 413 past `maxBytes` (checked on
 * Content-Length and again while streaming), 400 for malformed JSON. Fails with the response to send.
 */
export const readJsonBody = (
  request: HttpServerRequest.HttpServerRequest,
  maxBytes: number
): Effect.Effect<JsonBody, HttpServerResponse.HttpServerResponse> =>
  Effect.gen(function* () {
    const contentType = (request.headers["content-type"] ?? "").toLowerCase()
    const mediaType = contentType.split(";")[0]?.trim() ?? ""
    if (mediaType !== "application/json" && !/^application\/[a-z0-9.+-]*\+json$/.test(mediaType)) {
      return yield* Effect.fail(
        problem(
          415,
          `Content-Type must be application/json (got ${mediaType === "" ? "none" : JSON.stringify(mediaType)})`
        )
      )
    }
    const tooLarge = problem(413, `Request body must be at most ${maxBytes} bytes`)
    const declared = Number(request.headers["content-length"] ?? "0")
    if (Number.isFinite(declared) && declared > maxBytes) return yield* Effect.fail(tooLarge)
    const text = yield* request.text.pipe(
      HttpIncomingMessage.withMaxBodySize(Option.some(maxBytes)),
      Effect.mapError((error) =>
        String(error.cause).includes("maxBytes exceeded")
          ? tooLarge
          : problem(400, "The request body could not be read")
      )
    )
    if (text.trim() === "") return yield* Effect.fail(problem(400, "Request body is empty; expected a JSON object"))
    const json = yield* Effect.try({
      try: () => JSON.parse(text) as unknown,
      catch: (error) => problem(400, `Request body is not valid JSON: ${(error as Error).message}`)
    })
    return { text, json }
  })
