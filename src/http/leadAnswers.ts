/**
 * The lead routes' answers: a lead's view, the intake's decode-and-accept answer (shared by POST /leads and the
 * webhooks) and the store-unavailable problem.
 */
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Clock from "effect/Clock"
import type * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import type * as ParseResult from "effect/ParseResult"
import {
  type DroppedField,
  type LeadInput,
  type LeadSource,
  decodeLeadInput,
  decodeWebhookLeadInput
} from "../domain/lead.js"
import type { ActionRecord, LeadRecord } from "../domain/record.js"
import * as TraceContext from "../domain/traceContext.js"
import { type Accepted, type AcceptOptions, acceptLead } from "../pipeline/accept.js"
import { unsniffedUncachedHeaders } from "./answerHeaders.js"
import type { LeadView } from "./api.js"
import { fieldErrors, problem } from "./problem.js"
import { type Refused, refused } from "./refusals.js"
import type { JobQueue } from "../../services/JobQueue.js"
import type { LeadStore } from "../../services/LeadStore.js"
import { Metrics } from "../../services/Metrics.js"

/** How long a client should wait before retrying while the store is unavailable. */
export const RETRY_AFTER_SECONDS = 5

/** The API's view of a lead and its CRM actions. */
export const leadView = (lead: LeadRecord, actions: ReadonlyArray<ActionRecord>): LeadView => ({
  id: lead.id,
  leadKey: lead.leadKey,
  source: lead.source,
  status: lead.status,
  lead: lead.input,
  ...(lead.analysis ? { analysis: lead.analysis } : {}),
  ...(lead.grounding ? { grounding: lead.grounding } : {}),
  ...(lead.error ? { error: lead.error } : {}),
  actions: actions.map((action) => ({
    tool: action.tool,
    provider: action.provider,
    status: action.status,
    ...(action.crmId ? { crmId: action.crmId } : {}),
    ...(action.error ? { error: action.error } : {}),
    durationMs: action.durationMs,
    ...(action.source ? { source: action.source } : {}),
    createdAt: action.createdAt.toISOString()
  })),
  createdAt: lead.createdAt.toISOString(),
  updatedAt: lead.updatedAt.toISOString()
})

/** A lead's view as an answer, uncached and unsniffed from the start (the accepted lead's: no copy to add them). */
export const viewResponse = (
  view: LeadView,
  status: number,
  headers: Readonly<Record<string, string>> = unsniffedUncachedHeaders
) => {
  // The view is built from decoded data in its wire form already (ISO dates, plain JSON): no encode pass needed.
  // Kept as text, not encoded to bytes: Node then sends head and body in one write (see nodeServer.ts writeResponse).
  const json = JSON.stringify(view)
  return HttpServerResponse.raw(json, {
    status,
    headers,
    contentType: "application/json",
    contentLength: Buffer.byteLength(json)
  })
}

/** A read of the lead store (a lead, its audit, a list) when the store is down or silent. */
export const storeUnavailable = problem(503, "The lead store is unavailable; retry later.", {
  headers: { "retry-after": String(RETRY_AFTER_SECONDS) }
})

export const unavailable = problem(
  503,
  "The lead store did not confirm the lead; retry the same request later (if it was stored meanwhile, the retry is answered 200 with it: never stored twice).",
  {
    headers: { "retry-after": String(RETRY_AFTER_SECONDS) }
  }
)

/**
 * The answer to an accepted lead: 202 with its view when new or revised (a FAILED lead's corrected submission), 200
 * with the existing one for a duplicate; a webhook lead accepted without optional fields names them (`dropped`).
 */
const acceptedResponse =
  (dropped: ReadonlyArray<DroppedField>) =>
  ({ lead, created, revised }: Accepted) =>
    viewResponse(
      dropped.length === 0 ? leadView(lead, []) : { ...leadView(lead, []), dropped },
      created || revised === true ? 202 : 200,
      { ...unsniffedUncachedHeaders, location: `/leads/${lead.id}` }
    )

/** How long after a "lead store unavailable" WARN line the next waits (each 503 is counted, outcome "unavailable"). */
const STORE_WARN_EVERY_MS = 10_000

/** When each running program (keyed by its Metrics service) last said so. */
const storeWarnedAt = new WeakMap<object, number>()

/**
 * Says that leads are being answered 503 because the store did not confirm them: the operator's signal beside
 * `leads_ingested_total{outcome="unavailable"}` — clients that do not retry lose those leads. At most one line every
 * STORE_WARN_EVERY_MS (an outage answers every request so), with the store's message (host and port, never a
 * password or a lead's data).
 */
const warnUnavailable = (message: string) =>
  Effect.flatMap(Metrics, (metrics) =>
    Effect.flatMap(Clock.currentTimeMillis, (now) => {
      if (now - (storeWarnedAt.get(metrics) ?? Number.NEGATIVE_INFINITY) < STORE_WARN_EVERY_MS) return Effect.void
      storeWarnedAt.set(metrics, now)
      return Effect.logWarning("lead store unavailable: leads are answered 503 (clients must retry)").pipe(
        Effect.annotateLogs({ cause: message })
      )
    })
  )

/**
 * A lead that does not decode: counted as an invalid lead ingested, and refused with the 400 naming every bad field
 * (the caller answers and counts the refusal as every other, see ./refusals.ts).
 */
const invalidLead = (error: ParseResult.ParseError, source: LeadSource): Effect.Effect<never, Refused, Metrics> =>
  Effect.zipRight(
    Effect.flatMap(Metrics, (metrics) => metrics.leadIngested(source, "invalid")),
    Effect.fail(
      refused(
        "invalid-lead",
        problem(400, "The lead is invalid; see errors for each field", { errors: fieldErrors(error) })
      )
    )
  )

/** Stores and queues a decoded lead; every outcome is a response (503 when the store did not confirm it). */
const acceptDecoded = (
  lead: LeadInput,
  source: LeadSource,
  options: AcceptOptions,
  dropped: ReadonlyArray<DroppedField>
): Effect.Effect<HttpServerResponse.HttpServerResponse, never, LeadStore | JobQueue | Metrics> =>
  // the job carries the request's trace context, so the consumer continues the trace
  Effect.contextWithEffect((context: Context.Context<LeadStore | JobQueue | Metrics>) =>
    Effect.matchEffect(acceptLead(lead, source, TraceContext.ofContext(context), options), {
      onFailure: (error) => Effect.as(warnUnavailable(error.message), unavailable),
      onSuccess: (accepted) => Effect.succeed(acceptedResponse(dropped)(accepted))
    })
  )

/**
 * Decode an untrusted lead and accept it: 202 new, 200 duplicate, 503 + Retry-After when the store is down or silent
 * past `options.storeTimeoutMs`; a lead that does not decode fails as the refusal `invalid-lead`, its 400 naming
 * every bad field.
 * A webhook delivery (its sender does not retry a 4xx) is accepted without the optional fields that fail their
 * checks, which the answer names and a warning logs by name (`decodeWebhookLeadInput`); an API client gets the 400.
 * Plain combinators rather than `Effect.gen`, as `acceptLead`: once per ingest request.
 */
export const acceptUntrusted = (
  input: unknown,
  source: LeadSource,
  options: AcceptOptions = {}
): Effect.Effect<HttpServerResponse.HttpServerResponse, Refused, LeadStore | JobQueue | Metrics> => {
  if (source === "api") {
    const decoded = decodeLeadInput(input)
    return decoded._tag === "Left"
      ? invalidLead(decoded.left, source)
      : acceptDecoded(decoded.right, source, options, [])
  }
  const decoded = decodeWebhookLeadInput(input)
  if (decoded._tag === "Left") return invalidLead(decoded.left, source)
  const { lead, dropped } = decoded.right
  const accepted = acceptDecoded(lead, source, options, dropped)
  return dropped.length === 0
    ? accepted
    : Effect.zipRight(
        // field names only: the values (and the problems, which may quote them) are the lead's own
        Effect.logWarning("webhook lead accepted without optional fields that failed their checks").pipe(
          Effect.annotateLogs({ source, fields: dropped.map((d) => d.field).join(", ") })
        ),
        accepted
      )
}
