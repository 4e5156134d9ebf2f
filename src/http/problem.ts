import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"

/** RFC 9457 problem details: every client error the ingest returns has this shape. */
export const Problem = Schema.Struct({
  type: Schema.String,
  title: Schema.String,
  status: Schema.Number,
  detail: Schema.String,
  errors: Schema.optional(Schema.Array(Schema.Struct({ field: Schema.String, message: Schema.String })))
}).annotations({ identifier: "Problem", description: "RFC 9457 problem details (application/problem+json)" })
export type Problem = typeof Problem.Type

export interface FieldError {
  readonly field: string
  readonly message: string
}

const titles: Record<number, string> = {
  400: "Bad Request",
  401: "Unauthorized",
  404: "Not Found",
  405: "Method Not Allowed",
  409: "Conflict",
  413: "Payload Too Large",
  415: "Unsupported Media Type",
  500: "Internal Server Error",
  503: "Service Unavailable"
}

/** A problem+json response. */
export const problem = (
  status: number,
  detail: string,
  options: { readonly errors?: ReadonlyArray<FieldError>; readonly headers?: Record<string, string> } = {}
) =>
  HttpServerResponse.unsafeJson(
    {
      type: `https://revenueflow.dev/problems/${status}`,
      title: titles[status] ?? "Error",
      status,
      detail,
      ...(options.errors ? { errors: options.errors } : {})
    },
    { status, contentType: "application/problem+json", headers: options.headers ?? {} }
  )

/** Every schema issue as { field, message }, the field as a dotted path ("activity.pageViews", "(root)"). */
export const fieldErrors = (error: ParseResult.ParseError): ReadonlyArray<FieldError> =>
  ParseResult.ArrayFormatter.formatErrorSync(error).map((issue) => ({
    field: issue.path.length === 0 ? "(root)" : issue.path.map(String).join("."),
    message: issue.message
  }))

/**
 * The answer to a request that ended in a failure no handler turned into a response: 404 for an unknown route, 400
 * for a request the framework could not decode or read, and a bare 500 (logged, never echoing internals) for
 * anything unexpected.
 */
export const causeResponse = (cause: Cause.Cause<unknown>): Effect.Effect<HttpServerResponse.HttpServerResponse> =>
  Effect.gen(function* () {
    // the failure may be combined with others (Sequential), so look inside the cause rather than at its top
    const failure = Option.getOrUndefined(Cause.failureOption(cause)) as { readonly _tag?: string } | undefined
    if (failure?._tag === "RouteNotFound") return problem(404, "No such route")
    if (failure?._tag === "HttpApiDecodeError") return problem(400, "The request could not be decoded")
    if (failure?._tag === "RequestError") return problem(400, "The request could not be read")
    // The client went away (or the server is stopping): nobody reads this answer, and it is not an error.
    if (Cause.isInterruptedOnly(cause)) return problem(503, "The request was interrupted")
    yield* Effect.logError("unhandled request failure", cause)
    return problem(500, "Internal error; the request was not processed")
  })
