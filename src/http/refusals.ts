/**
 * The intake routes' refusals (POST /leads, /webhooks/marketo, /webhooks/hubspot): why each was refused, counted on
 * /metrics and, for a webhook, logged. HubSpot does not retry a 4xx and Marketo retries nothing, so a refused
 * delivery is a lead lost for good: the operator's only signal is this count and this line.
 */
import type * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import type { LeadSource } from "../domain/lead.js"
import type { HubSpotSignatureFailure } from "../domain/webhooks/hubspotSignature.js"
import { Metrics } from "../../services/Metrics.js"

/**
 * Why a request was refused: a small fixed set, safe as a metric label and in a log line (never a value the request
 * carried, never a secret).
 */
export type RefusalReason =
  /** POST /leads without a valid API key. */
  | "unauthorized"
  /**
   * POST /leads with no API keys configured, to a Host that is a DNS name neither localhost nor in
   * INGEST_ALLOWED_HOSTS (403: a page reaching the ingest by DNS rebinding).
   */
  | "foreign-host"
  /**
   * POST /leads with no API keys configured, where the Host is checked, from another site's page (an Origin neither
   * its own Host nor on a host INGEST_ALLOWED_HOSTS lists; Sec-Fetch-Site: cross-site without such an Origin): 403,
   * as the other keyed routes.
   */
  | "cross-site"
  /** A webhook whose secret or token is not configured (HUBSPOT_APP_SECRET, MARKETO_WEBHOOK_TOKEN). */
  | "not-configured"
  /** Marketo: no X-RevenueFlow-Token header. */
  | "missing-token"
  /** Marketo: a token matching neither the current nor the previous one. */
  | "bad-token"
  /** HubSpot's signature check (signature-mismatch, timestamp-too-old, timestamp-in-future, missing-signature...). */
  | HubSpotSignatureFailure
  | "too-large"
  | "unsupported-media-type"
  /** An Expect header other than 100-continue (417). */
  | "expectation-failed"
  /** The body's stream failed while it was read. */
  | "unreadable"
  /** Not UTF-8, empty, not JSON, too deep, a key twice, unstorable text or numbers. */
  | "malformed-json"
  /** A webhook body that is JSON but not an object. */
  | "not-an-object"
  /** The lead's fields failed the schema. */
  | "invalid-lead"
  /** The request was not received within REQUEST_TIMEOUT_MS (408). */
  | "timeout"

/** A refusal: the answer to send, and why (for the count and the log line). */
export interface Refused {
  readonly reason: RefusalReason
  readonly response: HttpServerResponse.HttpServerResponse
}

/** A refusal for `reason`, answered with `response`. */
export const refused = (reason: RefusalReason, response: HttpServerResponse.HttpServerResponse): Refused => ({
  reason,
  response
})

/** How long after a WARN line for one source and reason the next is said at Debug (the count goes on). */
export const REFUSAL_WARN_EVERY_MS = 60_000

/**
 * When each (source, reason) last had its WARN line, per running program (keyed by its Metrics service, so two
 * runtimes in one process, as in tests, keep their own).
 */
const warnedAt = new WeakMap<object, Map<string, number>>()

/**
 * Counts a refusal (revenueflow_intake_refused_total{source, status, reason}) and says so: a WARN line for a refused
 * webhook delivery — its sender will not send it again —, at most one a minute per source and reason (anyone can
 * send a webhook route requests without a signature; a scanner must not flood the logs), the others at Debug; a
 * Debug line for POST /leads, whose client sees the answer and can correct it. The line names source, status and
 * reason only: no header, no body, no secret.
 */
export const recordRefusal = (source: LeadSource, status: number, reason: RefusalReason) =>
  Effect.flatMap(Metrics, (metrics) =>
    Effect.flatMap(Clock.currentTimeMillis, (now) => {
      const warned = warnedAt.get(metrics) ?? new Map<string, number>()
      warnedAt.set(metrics, warned)
      const key = `${source} ${reason}`
      const warn = source !== "api" && now - (warned.get(key) ?? Number.NEGATIVE_INFINITY) >= REFUSAL_WARN_EVERY_MS
      if (warn) warned.set(key, now)
      return Effect.zipRight(
        // on the request's span too, when a tracer exports one (no span otherwise: see domain/spans.ts)
        Effect.zipRight(
          Effect.annotateCurrentSpan("revenueflow.refusal.reason", reason),
          metrics.intakeRefused(source, status, reason)
        ),
        (source === "api"
          ? Effect.logDebug("lead request refused")
          : warn
            ? Effect.logWarning("webhook delivery refused: the sender does not retry it")
            : Effect.logDebug("webhook delivery refused: the sender does not retry it")
        ).pipe(Effect.annotateLogs({ source, status, reason }))
      )
    })
  )

/** Answers a refusal with its response, counted and logged (see `recordRefusal`). */
export const answerRefusal =
  (source: LeadSource) =>
  (refusal: Refused): Effect.Effect<HttpServerResponse.HttpServerResponse, never, Metrics> =>
    Effect.as(recordRefusal(source, refusal.response.status, refusal.reason), refusal.response)
