import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { type CrmFailure, headerValue } from "../../src/domain/crmErrors.js"

/** A HubSpot call that did not succeed, with what was seen of it; classified at the executor's edge. */
export class HubSpotCallFailed extends Data.TaggedError("HubSpotCallFailed")<{ readonly failure: CrmFailure }> {}

type Headers = Readonly<Record<string, string>>

/** HubSpot refused the request's content (400 VALIDATION_ERROR: an unknown property, a value outside the options...). */
export const isValidationError = (failure: CrmFailure): boolean =>
  failure.status === 400 &&
  typeof failure.body === "object" &&
  failure.body !== null &&
  (failure.body as { readonly category?: unknown }).category === "VALIDATION_ERROR"

/** HubSpot's message of a refusal (its body's `message`), else the client's. */
export const validationMessage = (failure: CrmFailure): string => {
  const body = failure.body as { readonly message?: unknown } | undefined
  return typeof body === "object" && body !== null && typeof body.message === "string"
    ? body.message
    : (failure.message ?? "VALIDATION_ERROR")
}

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

/** What X-HubSpot-RateLimit-* said: the day's quota (private apps only) and the rolling burst interval. */
export interface RateLimitHeaders {
  readonly daily?: { readonly used: number; readonly limit: number } | undefined
  readonly interval?: { readonly max: number; readonly remaining: number; readonly intervalMs: number } | undefined
}

export const parseRateLimitHeaders = (headers: Headers | undefined): RateLimitHeaders => {
  const number = (name: string) => {
    const value = Number(headerValue(headers, name) ?? Number.NaN)
    return Number.isFinite(value) && value >= 0 ? value : undefined
  }
  const dailyLimit = number("x-hubspot-ratelimit-daily")
  const dailyRemaining = number("x-hubspot-ratelimit-daily-remaining")
  const max = number("x-hubspot-ratelimit-max")
  const remaining = number("x-hubspot-ratelimit-remaining")
  const intervalMs = number("x-hubspot-ratelimit-interval-milliseconds")
  return {
    daily:
      dailyLimit !== undefined && dailyRemaining !== undefined && dailyLimit > 0
        ? { used: Math.max(0, dailyLimit - dailyRemaining), limit: dailyLimit }
        : undefined,
    interval:
      max !== undefined && remaining !== undefined && intervalMs !== undefined && max > 0 && intervalMs > 0
        ? { max, remaining, intervalMs }
        : undefined
  }
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
