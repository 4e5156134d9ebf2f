/**
 * The lead routes' answers: a lead's view, the intake's decode-and-accept answer (shared by POST /leads and the
 * webhooks) and the store-unavailable problem.
 */
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import type * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import type * as ParseResult from "effect/ParseResult"
import type { LeadSource } from "../domain/lead.js"
import { decodeLeadInput } from "../domain/lead.js"
import type { ActionRecord, LeadRecord } from "../domain/record.js"
import * as TraceContext from "../domain/traceContext.js"
import { type Accepted, type AcceptOptions, acceptLead } from "../pipeline/accept.js"
import type { LeadView } from "./api.js"
import { fieldErrors, problem } from "./problem.js"
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

export const viewResponse = (view: LeadView, status: number, headers: Record<string, string> = {}) => {
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

export const unavailable = problem(
  503,
  "The lead store did not confirm the lead; retry the same request later (if it was stored meanwhile, the retry is answered 200 with it: never stored twice).",
  {
    headers: { "retry-after": String(RETRY_AFTER_SECONDS) }
  }
)

/**
 * The answer to an accepted lead: 202 with its view when new or revised (a FAILED lead's corrected submission), 200
 * with the existing one for a duplicate.
 */
const acceptedResponse = ({ lead, created, revised }: Accepted) =>
  viewResponse(leadView(lead, []), created || revised === true ? 202 : 200, { location: `/leads/${lead.id}` })

/**
 * Decode an untrusted lead and accept it: 400 naming every bad field, 202 new, 200 duplicate, 503 + Retry-After
 * when the store is down or silent past `options.storeTimeoutMs`. Fails with nothing: every outcome is a response.
 * Plain combinators rather than `Effect.gen`, as `acceptLead`: once per ingest request.
 */
export const acceptUntrusted = (
  input: unknown,
  source: LeadSource,
  options: AcceptOptions = {}
): Effect.Effect<HttpServerResponse.HttpServerResponse, never, LeadStore | JobQueue | Metrics> => {
  const decoded = decodeLeadInput(input)
  if (decoded._tag === "Left") {
    return Effect.as(
      Effect.flatMap(Metrics, (metrics) => metrics.leadIngested(source, "invalid")),
      problem(400, "The lead is invalid; see errors for each field", {
        errors: fieldErrors(decoded.left as ParseResult.ParseError)
      })
    )
  }
  // the job carries the request's trace context, so the consumer continues the trace
  return Effect.contextWithEffect((context: Context.Context<LeadStore | JobQueue | Metrics>) =>
    Effect.match(acceptLead(decoded.right, source, TraceContext.ofContext(context), options), {
      onFailure: () => unavailable,
      onSuccess: acceptedResponse
    })
  )
}
