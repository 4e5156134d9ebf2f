import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { type CrmFailure, headerValue } from "../../src/domain/crmErrors.js"

/** A HubSpot call that did not succeed, with what was seen of it; classified at the executor's edge. */
export class HubSpotCallFailed extends Data.TaggedError("HubSpotCallFailed")<{ readonly failure: CrmFailure }> {}

type Headers = Readonly<Record<string, string>>

/** The client's ApiException, recognised by shape (each generated API module has its own class). */
const isApiException = (error: unknown): error is { code: number; body: unknown; headers: Headers; message: string } =>
  typeof error === "object" && error !== null && typeof (error as { code?: unknown }).code === "number"

const describe = (error: unknown): CrmFailure => {
  if (isApiException(error)) {
    return { status: error.code, body: error.body, headers: error.headers, message: error.message }
  }
  const err = error as { code?: unknown; name?: string; message?: string } | undefined
  if (typeof err?.code === "string" || err?.message === "socket timeout" || err?.name === "TypeError") {
    return err?.message === "socket timeout" ? { timedOut: true } : { networkError: true, message: "connection failed" }
  }
  return { message: err?.message ?? String(error) }
}

/** Daily usage when the portal reports it (private apps), else the current 10-second window. */
export const parseRateLimitHeaders = (headers: Headers | undefined): { used: number; limit: number } | undefined => {
  const pair = (limitName: string, remainingName: string) => {
    const limit = Number(headerValue(headers, limitName))
    const remaining = Number(headerValue(headers, remainingName))
    return Number.isFinite(limit) && Number.isFinite(remaining) && limit > 0
      ? { used: Math.max(0, limit - remaining), limit }
      : undefined
  }
  return (
    pair("x-hubspot-ratelimit-daily", "x-hubspot-ratelimit-daily-remaining") ??
    pair("x-hubspot-ratelimit-max", "x-hubspot-ratelimit-remaining")
  )
}

/**
 * Runs one client call (a `...WithHttpInfo` method, so headers are seen on success too) under a hard
 * deadline: the client has no timeout of its own. `onHeaders` sees the headers of successes and failures.
 */
export const callHubSpot = <A>(
  timeoutMs: number,
  send: () => Promise<{ readonly data: A; readonly headers: Headers; readonly httpStatusCode: number }>,
  onHeaders: (headers: Headers) => Effect.Effect<void>
): Effect.Effect<{ readonly data: A; readonly status: number }, HubSpotCallFailed> =>
  Effect.tryPromise({
    try: send,
    catch: (error) => new HubSpotCallFailed({ failure: describe(error) })
  }).pipe(
    Effect.timeoutFail({
      duration: Duration.millis(timeoutMs),
      onTimeout: () => new HubSpotCallFailed({ failure: { timedOut: true } })
    }),
    Effect.tapBoth({
      onSuccess: (info) => onHeaders(info.headers),
      onFailure: (error) => (error.failure.headers ? onHeaders(error.failure.headers as Headers) : Effect.void)
    }),
    Effect.map((info) => ({ data: info.data, status: info.httpStatusCode }))
  )
