import * as Schema from "effect/Schema"
import { Analysis, Grounding } from "../domain/analysis.js"
import { LeadInput, LeadSource, LeadStatus } from "../domain/lead.js"

/** Any JSON value (plain Schema.Unknown would give every use the same JSON Schema $id, which OpenAPI refuses). */
const AnyJson = Schema.Unknown.annotations({
  jsonSchema: { anyOf: ["object", "array", "string", "number", "boolean", "null"].map((type) => ({ type })) }
})

/** One CRM action as GET /leads/:id shows it. */
export const ActionView = Schema.Struct({
  tool: Schema.String,
  provider: Schema.String,
  status: Schema.String,
  crmId: Schema.optional(Schema.String),
  error: Schema.optional(Schema.String),
  durationMs: Schema.Number,
  source: Schema.optional(Schema.String).annotations({
    description: "Who asked for the action: \"mcp\" for an AI agent's MCP tool call; absent for the pipeline's own plan"
  }),
  createdAt: Schema.String
}).annotations({ identifier: "ActionView" })

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
  updatedAt: Schema.String,
  dropped: Schema.optional(
    Schema.Array(Schema.Struct({ field: Schema.String, problem: Schema.String })).annotations({
      description:
        "Webhook deliveries only: optional fields the lead was accepted without, because they failed their checks " +
        "(the sender would not retry a 400). Never on POST /leads, which answers 400 instead."
    })
  )
}).annotations({ identifier: "LeadView" })
export type LeadView = typeof LeadView.Type

/** One row of the lead list: enough to pick a lead out, with the email masked. */
export const LeadSummary = Schema.Struct({
  id: Schema.String,
  source: LeadSource,
  status: LeadStatus,
  email: Schema.String.annotations({ description: "Masked: ***@domain" }),
  campaignId: Schema.String,
  company: Schema.optional(Schema.String),
  decision: Schema.optional(Schema.String),
  grounding: Schema.optional(Schema.String.annotations({ description: "VALID, DOWNGRADED or REJECTED" })),
  error: Schema.optional(Schema.String),
  createdAt: Schema.String,
  updatedAt: Schema.String
}).annotations({ identifier: "LeadSummary" })
export type LeadSummary = typeof LeadSummary.Type

export const LeadList = Schema.Struct({
  leads: Schema.Array(LeadSummary),
  next: Schema.optional(
    Schema.String.annotations({ description: "More leads follow: pass this as `after` for the next page" })
  )
}).annotations({ identifier: "LeadList" })

/** A CRM action's audit row as stored: parameters were redacted before they were written. */
export const AuditRow = Schema.Struct({
  id: Schema.String,
  actionKey: Schema.String,
  tool: Schema.String,
  provider: Schema.String,
  status: Schema.String,
  params: AnyJson,
  crmId: Schema.optional(Schema.String),
  result: Schema.optional(AnyJson),
  error: Schema.optional(Schema.String),
  durationMs: Schema.Number,
  source: Schema.optional(Schema.String).annotations({
    description: "Who asked for the action: \"mcp\" for an AI agent's MCP tool call; absent for the pipeline's own plan"
  }),
  createdAt: Schema.String
}).annotations({ identifier: "AuditRow" })

/** A lead for operators: input with PII masked, analysis, grounding and the audit rows of its CRM actions. */
export const LeadAudit = Schema.Struct({
  id: Schema.String,
  source: LeadSource,
  status: LeadStatus,
  input: Schema.Record({ key: Schema.String, value: AnyJson }).annotations({
    description: "The lead as received, PII (email, names, phone) masked"
  }),
  analysis: Schema.optional(Analysis),
  grounding: Schema.optional(Grounding),
  error: Schema.optional(Schema.String),
  actions: Schema.Array(AuditRow),
  createdAt: Schema.String,
  updatedAt: Schema.String
}).annotations({ identifier: "LeadAudit" })
export type LeadAudit = typeof LeadAudit.Type

export const DeadLetter = Schema.Struct({
  id: Schema.String,
  email: Schema.String.annotations({ description: "Masked: ***@domain" }),
  campaignId: Schema.String,
  error: Schema.String,
  failedAt: Schema.String
}).annotations({ identifier: "DeadLetter" })

export const DeadLetterList = Schema.Struct({ deadLetters: Schema.Array(DeadLetter) }).annotations({
  identifier: "DeadLetterList"
})

export const ReplayAccepted = Schema.Struct({
  leadId: Schema.String,
  status: Schema.Literal("QUEUED")
}).annotations({ identifier: "ReplayAccepted" })

const QueueCounts = Schema.Struct({
  waiting: Schema.Number,
  active: Schema.Number,
  delayed: Schema.Number,
  completed: Schema.Number,
  failed: Schema.Number,
  oldestWaitingAgeMs: Schema.Number
})

/** What the console's header shows: where things run and how they are doing. */
export const OpsState = Schema.Struct({
  backends: Schema.Struct({
    database: Schema.String,
    queue: Schema.String,
    crm: Schema.String,
    analyzer: Schema.String,
    enrichment: Schema.String
  }),
  queue: Schema.NullOr(QueueCounts),
  leads: Schema.NullOr(Schema.Record({ key: Schema.String, value: Schema.Number })).annotations({
    description:
      "Leads per status, each counted up to leadsCountedUpTo: a count equal to it means at least that many " +
      "(`revenueflow stats` counts them all)."
  }),
  leadsCountedUpTo: Schema.optional(Schema.Number),
  breakers: Schema.NullOr(
    Schema.Array(Schema.Struct({ name: Schema.String, state: Schema.Literal("closed", "half-open", "open") }))
  ).annotations({
    description:
      "Each circuit breaker the consumer runs, by name: the CRM's (salesforce, hubspot, mock), the HTTP enrichment " +
      "provider's (enrichment) and Bedrock's (bedrock) when selected. breakerSource says where they were read; empty " +
      "when this process cannot see them (breakerSource consumer); null when the shared breakers' state could not be " +
      "read now."
  }),
  breakerSource: Schema.optional(Schema.Literal("process", "redis", "consumer")).annotations({
    description:
      "process: this process runs the pipeline and reports its own breakers. redis: the shared breakers " +
      "(CIRCUIT_BREAKER=REDIS), read from Redis. consumer: each consumer keeps its own breakers " +
      "(CIRCUIT_BREAKER=MEMORY), which this process cannot see: read revenueflow_circuit_breaker_state on the " +
      "consumers' /metrics (alert RevenueFlowCircuitBreakerOpen)."
  }),
  rateLimits: Schema.Array(
    Schema.Struct({ tier: Schema.String, limit: Schema.Number, windowMs: Schema.Number, scope: Schema.String })
  )
}).annotations({ identifier: "OpsState" })
export type OpsState = typeof OpsState.Type

const Scalar = Schema.Union(Schema.String, Schema.Number, Schema.Boolean, Schema.Null)

/**
 * The Marketo webhook's body as documented: the template's tokens (see marketoTemplate). The handler maps it to a
 * lead (unknown keys become attributes) and answers 400 naming any field the lead lacks.
 */
export const MarketoWebhookBody = Schema.Struct(
  {
    email: Schema.String,
    campaignId: Schema.optional(Schema.String),
    firstName: Schema.optional(Schema.NullOr(Schema.String)),
    lastName: Schema.optional(Schema.NullOr(Schema.String)),
    company: Schema.optional(Schema.NullOr(Schema.String)),
    title: Schema.optional(Schema.NullOr(Schema.String)),
    phone: Schema.optional(Schema.NullOr(Schema.String)),
    website: Schema.optional(Schema.NullOr(Schema.String)),
    country: Schema.optional(Schema.NullOr(Schema.String)),
    leadSource: Schema.optional(Schema.NullOr(Schema.String)),
    marketoLeadId: Schema.optional(Schema.Union(Schema.String, Schema.Number)),
    programId: Schema.optional(Schema.Union(Schema.String, Schema.Number)),
    programName: Schema.optional(Schema.NullOr(Schema.String)),
    campaignName: Schema.optional(Schema.NullOr(Schema.String))
  },
  // the index value admits undefined only so that the optional fields above fit it in the published .d.ts (TS2411
  // under strict checks without skipLibCheck); JSON has no undefined, so nothing more is accepted
  Schema.Record({ key: Schema.String, value: Schema.UndefinedOr(Scalar) })
).annotations({ identifier: "MarketoWebhookBody", description: "Marketo webhook template (JSON token encoding)" })

const PropertyValue = Schema.Union(Scalar, Schema.Struct({ value: Scalar }))

/**
 * A HubSpot workflow webhook's contact: its properties (flat, or as { value } objects, as HubSpot sends either),
 * with the contact and portal ids. Unknown properties are ignored.
 */
export const HubSpotWebhookBody = Schema.Struct(
  {
    objectId: Schema.optional(Schema.Union(Schema.Number, Schema.String)),
    portalId: Schema.optional(Schema.Union(Schema.Number, Schema.String)),
    properties: Schema.optional(Schema.Record({ key: Schema.String, value: PropertyValue }))
  },
  Schema.Record({ key: Schema.String, value: AnyJson })
).annotations({ identifier: "HubSpotWebhookBody", description: "HubSpot workflow webhook (contact)" })
