import * as Schema from "effect/Schema"
import { Analysis, Grounding } from "./analysis.js"
import { LeadInput, LeadSource, LeadStatus } from "./lead.js"

/** A lead as the store holds it. */
export const LeadRecord = Schema.Struct({
  id: Schema.String,
  leadKey: Schema.String,
  source: LeadSource,
  status: LeadStatus,
  input: LeadInput,
  analysis: Schema.optional(Analysis),
  grounding: Schema.optional(Grounding),
  error: Schema.optional(Schema.String),
  createdAt: Schema.DateFromSelf,
  updatedAt: Schema.DateFromSelf
}).annotations({ identifier: "LeadRecord" })
export type LeadRecord = typeof LeadRecord.Type

export const ActionStatus = Schema.Literal("SUCCEEDED", "FAILED", "BLOCKED")
export type ActionStatus = typeof ActionStatus.Type

/** One CRM action's audit row. `params` are stored with PII redacted. */
export const ActionRecord = Schema.Struct({
  id: Schema.String,
  leadId: Schema.String,
  actionKey: Schema.String,
  tool: Schema.String,
  provider: Schema.String,
  status: ActionStatus,
  params: Schema.Unknown,
  crmId: Schema.optional(Schema.String),
  result: Schema.optional(Schema.Unknown),
  error: Schema.optional(Schema.String),
  durationMs: Schema.Number,
  /** Who asked for the action: "mcp" for an MCP tool call; absent for the consumer's own plan. */
  source: Schema.optional(Schema.String),
  createdAt: Schema.DateFromSelf
}).annotations({ identifier: "ActionRecord" })
export type ActionRecord = typeof ActionRecord.Type
