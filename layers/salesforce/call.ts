import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type { CrmFailure } from "../../src/domain/crmErrors.js"
import { BoundedTransport } from "./transport.js"

/** A Salesforce call that did not succeed, with what was seen of it; classified at the executor's edge. */
export class SalesforceCallFailed extends Data.TaggedError("SalesforceCallFailed")<{ readonly failure: CrmFailure }> {}

/** The raw response a call ended with, for usage headers. */
export type LastResponse = BoundedTransport["last"]

const parseBody = (text: string, contentType: string | undefined): unknown => {
  if (contentType?.includes("json")) {
    try {
      return JSON.parse(text)
    } catch {
      return text
    }
  }
  return text
}

/** A page rather than an API answer: served as HTML, or an HTML document whatever its header says. */
const isHtml = (text: string, contentType: string | undefined): boolean =>
  /^\s*text\/html\b/i.test(contentType ?? "") || /^\s*(?:<!doctype\s+html|<html[\s>])/i.test(text)

/** An HTML page's title, its whitespace collapsed and cut to 100 characters; undefined without one. */
const titleOf = (html: string): string | undefined => {
  const title = /<title[^>]*>([^<]*)<\/title>/i.exec(html)?.[1]?.replace(/\s+/g, " ").trim()
  return title === undefined || title === "" ? undefined : title.slice(0, 100)
}

/**
 * A call refused before it was sent, for a reason no retry changes (a session the API it needs does not take): its
 * failure is given as it is, never taken for a network error.
 */
export class NotSent extends Error {
  constructor(readonly failure: CrmFailure) {
    super(failure.message)
  }
}

const describe = (error: unknown, transport: BoundedTransport): CrmFailure => {
  if (error instanceof NotSent) return error.failure
  const err = error as { name?: string; message?: string; errorCode?: string; cause?: unknown } | undefined
  const last = transport.last
  const code = typeof err?.errorCode === "string" ? err.errorCode : undefined
  // A proxy's, a load balancer's or Salesforce's maintenance page: jsforce makes the page (or a paragraph of its own)
  // the message, which would be stored and logged as the lead's error. Its status alone decides the retry.
  if (last !== undefined && last.statusCode >= 300 && isHtml(last.body, last.headers["content-type"])) {
    const title = titleOf(last.body)
    return {
      status: last.statusCode,
      headers: last.headers,
      message: `HTTP ${last.statusCode}: an HTML page${title === undefined ? "" : ` (${JSON.stringify(title)})`}, not an answer of the API`
    }
  }
  if (last !== undefined && last.statusCode >= 300) {
    return {
      status: last.statusCode,
      headers: last.headers,
      body: parseBody(last.body, last.headers["content-type"]),
      code,
      message: err?.message
    }
  }
  if (err?.name === "AbortError" || err?.name === "TimeoutError" || err?.message === "Request Timeout") {
    return { timedOut: true }
  }
  // undici reports refused/reset connections as TypeError("fetch failed") with the socket error as cause.
  if (err instanceof TypeError || (err?.cause as { code?: string } | undefined)?.code !== undefined) {
    return { networkError: true, message: "connection failed" }
  }
  return { code, message: err?.message ?? String(error) }
}

/**
 * Runs one jsforce request through a fresh bounded transport: no jsforce retries, jsforce's abort at
 * `timeoutMs` plus a hard Effect deadline (jsforce's timer stops once headers arrive; a stalled body
 * would otherwise hang). `onResponse` sees the raw response of successes and failures alike.
 */
export const callSalesforce = <A>(
  timeoutMs: number,
  send: (transport: BoundedTransport) => Promise<A>,
  onResponse: (last: NonNullable<LastResponse>) => Effect.Effect<void> = () => Effect.void
): Effect.Effect<A, SalesforceCallFailed> =>
  Effect.suspend(() => {
    const transport = new BoundedTransport(timeoutMs)
    const report = Effect.suspend(() => (transport.last === undefined ? Effect.void : onResponse(transport.last)))
    return Effect.tryPromise({
      try: () => send(transport),
      catch: (error) => new SalesforceCallFailed({ failure: describe(error, transport) })
    }).pipe(
      Effect.timeoutFail({
        duration: Duration.millis(timeoutMs + 50),
        onTimeout: () => new SalesforceCallFailed({ failure: { timedOut: true } })
      }),
      Effect.ensuring(report)
    )
  })
