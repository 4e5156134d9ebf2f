import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
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

/** Every status the ingest answers with problem details. */
export type ProblemStatus = 400 | 401 | 403 | 404 | 405 | 409 | 413 | 415 | 417 | 500 | 503

const titles: Record<ProblemStatus, string> = {
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  409: "Conflict",
  413: "Payload Too Large",
  415: "Unsupported Media Type",
  417: "Expectation Failed",
  500: "Internal Server Error",
  503: "Service Unavailable"
}

/** A problem+json response. */
export const problem = (
  status: ProblemStatus,
  detail: string,
  options: { readonly errors?: ReadonlyArray<FieldError>; readonly headers?: Record<string, string> } = {}
) =>
  HttpServerResponse.unsafeJson(
    {
      type: `https://revenueflow.dev/problems/${status}`,
      title: titles[status],
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
