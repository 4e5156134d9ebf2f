import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import { unsniffedUncachedHeaders } from "./answerHeaders.js"

/**
 * The most field errors one problem lists; the rest are counted (`errorsOmitted`). A body of thousands of unknown
 * keys would otherwise be answered with a document many times its size, at a cost to the event loop.
 */
export const MAX_FIELD_ERRORS = 20

/** RFC 9457 problem details: every client error the ingest returns has this shape. */
export const Problem = Schema.Struct({
  type: Schema.String,
  title: Schema.String,
  status: Schema.Number,
  detail: Schema.String,
  errors: Schema.optional(Schema.Array(Schema.Struct({ field: Schema.String, message: Schema.String }))),
  errorsOmitted: Schema.optional(
    Schema.Number.annotations({
      description: `How many more errors there were than the first ${MAX_FIELD_ERRORS} listed in errors`
    })
  )
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

/**
 * A problem+json response, uncached and unsniffed (`unsniffedUncachedHeaders`; `options.headers` may say otherwise).
 * Of `errors`, the first MAX_FIELD_ERRORS are listed, and how many more there were is said (`errorsOmitted`, and in
 * `detail`).
 */
export const problem = (
  status: ProblemStatus,
  detail: string,
  options: { readonly errors?: ReadonlyArray<FieldError>; readonly headers?: Record<string, string> } = {}
) => {
  const omitted = Math.max(0, (options.errors?.length ?? 0) - MAX_FIELD_ERRORS)
  return HttpServerResponse.unsafeJson(
    {
      type: `https://revenueflow.dev/problems/${status}`,
      title: titles[status],
      status,
      detail: omitted === 0 ? detail : `${detail} (the first ${MAX_FIELD_ERRORS} are listed; ${omitted} more)`,
      ...(options.errors ? { errors: omitted === 0 ? options.errors : options.errors.slice(0, MAX_FIELD_ERRORS) } : {}),
      ...(omitted === 0 ? {} : { errorsOmitted: omitted })
    },
    {
      status,
      contentType: "application/problem+json",
      headers:
        options.headers === undefined ? unsniffedUncachedHeaders : { ...unsniffedUncachedHeaders, ...options.headers }
    }
  )
}

const unexpectedPrefix = "is unexpected, expected: "

/**
 * Every schema issue as { field, message }, the field as a dotted path ("activity.pageViews", "(root)"). A key the
 * object does not take is "is unexpected", and what it does take is said once per object, in its first such error,
 * not repeated in each (a body of 6,000 unknown keys named the 17 accepted ones 6,000 times).
 */
export const fieldErrors = (error: ParseResult.ParseError): ReadonlyArray<FieldError> => {
  const told = new Set<string>()
  return ParseResult.ArrayFormatter.formatErrorSync(error).map((issue) => {
    const field = issue.path.length === 0 ? "(root)" : issue.path.map(String).join(".")
    if (issue._tag !== "Unexpected" || !issue.message.startsWith(unexpectedPrefix))
      return { field, message: issue.message }
    const parent = issue.path.slice(0, -1).map(String).join(".")
    const where = parent === "" ? "the body" : parent
    if (told.has(parent)) {
      return { field, message: `is unexpected (the keys ${where} takes are listed in its first unexpected-key error)` }
    }
    told.add(parent)
    return { field, message: `is unexpected; ${where} takes: ${issue.message.slice(unexpectedPrefix.length)}` }
  })
}
