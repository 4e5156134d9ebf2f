import * as HttpApi from "@effect/platform/HttpApi"
import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import * as OpenApi from "@effect/platform/OpenApi"
import * as Schema from "effect/Schema"
import { Analysis, Grounding } from "../domain/analysis.js"
import { LeadInput, LeadSource, LeadStatus } from "../domain/lead.js"
import { Problem } from "./problem.js"

/** One CRM action as GET /leads/:id shows it. */
export const ActionView = Schema.Struct({
  tool: Schema.String,
  provider: Schema.String,
  status: Schema.String,
  crmId: Schema.optional(Schema.String),
  error: Schema.optional(Schema.String),
  durationMs: Schema.Number,
  createdAt: Schema.String
})

/** A lead as the API returns it: state, analysis, grounding and CRM actions. */
export const LeadView = Schema.Struct({
  id: Schema.String,
  leadKey: Schema.String,
  source: LeadSource,
  status: LeadStatus,
  lead: LeadInput,
  analysis: Schema.optional(Analysis),
  grounding: Schema.optional(Grounding),
  error: Schema.optional(Schema.String),
  actions: Schema.Array(ActionView),
  createdAt: Schema.String,
  updatedAt: Schema.String
}).annotations({ identifier: "LeadView" })
export type LeadView = typeof LeadView.Type

const Health = Schema.Struct({
  status: Schema.String,
  checks: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.String }))
})

/** Documents the problem+json answers an endpoint can give (the handlers build those responses themselves). */
const problems = <E extends HttpApiEndpoint.HttpApiEndpoint.Any>(endpoint: E, ...statuses: ReadonlyArray<number>) =>
  statuses.reduce(
    // biome-ignore lint/suspicious/noExplicitAny: addError re-types the endpoint; only the OpenAPI document reads these
    (acc, status) => (acc as any).addError(Problem.annotations({ identifier: `Problem${status}` }), { status }),
    endpoint
  ) as E

/** What every lead intake (POST /leads and the webhooks) can answer besides success. */
const intakeProblems = [400, 401, 413, 415, 503] as const

/** Lead intake and lookup. */
export class LeadsGroup extends HttpApiGroup.make("leads")
  .add(
    problems(
      HttpApiEndpoint.post("createLead", "/leads")
        .setPayload(LeadInput)
        .addSuccess(LeadView, { status: 202 })
        .annotate(
          OpenApi.Description,
          "Accept a lead: 202 when new (queued), 200 with the existing lead for a duplicate."
        ),
      ...intakeProblems
    )
  )
  .add(
    problems(
      HttpApiEndpoint.get("getLead", "/leads/:id")
        .setPath(Schema.Struct({ id: Schema.String }))
        .addSuccess(LeadView),
      401,
      404,
      503
    )
  ) {}

/** Marketing-platform webhooks. */
export class WebhooksGroup extends HttpApiGroup.make("webhooks")
  .add(
    problems(
      HttpApiEndpoint.post("marketo", "/webhooks/marketo")
        .addSuccess(LeadView, { status: 202 })
        .annotate(
          OpenApi.Description,
          "Marketo webhook (JSON template); authenticated by the X-RevenueFlow-Token header."
        ),
      ...intakeProblems
    )
  )
  .add(
    problems(
      HttpApiEndpoint.post("hubspot", "/webhooks/hubspot")
        .addSuccess(LeadView, { status: 202 })
        .annotate(OpenApi.Description, "HubSpot workflow webhook; verified by X-HubSpot-Signature-v3."),
      ...intakeProblems
    )
  ) {}

/** Liveness, readiness and Prometheus metrics. */
export class OpsGroup extends HttpApiGroup.make("ops")
  .add(HttpApiEndpoint.get("healthz", "/healthz").addSuccess(Health))
  .add(HttpApiEndpoint.get("readyz", "/readyz").addSuccess(Health).addError(Health, { status: 503 }))
  .add(HttpApiEndpoint.get("metrics", "/metrics").addSuccess(Schema.String)) {}

/** The ingest HTTP API. */
export class IngestApi extends HttpApi.make("revenueflow")
  .add(LeadsGroup)
  .add(WebhooksGroup)
  .add(OpsGroup)
  .annotate(OpenApi.Title, "RevenueFlow ingest")
  .annotate(OpenApi.Version, "0.1.0") {}
