import * as Data from "effect/Data"
import type { ActionRecord, LeadRecord } from "../domain/record.js"
import { redact, redactPersonalTextFor, redactWith } from "../domain/redact.js"
import type { AppConfig } from "../../services/AppConfig.js"
import type { AuditLog } from "../../services/AuditLog.js"
import type { CircuitBreaker } from "../../services/CircuitBreaker.js"
import type { CrmExecutor } from "../../services/CrmExecutor.js"
import type { Idempotency } from "../../services/Idempotency.js"
import type { JobQueue } from "../../services/JobQueue.js"
import type { LeadStore } from "../../services/LeadStore.js"
import type { Metrics } from "../../services/Metrics.js"
import type { RateLimiter } from "../../services/RateLimiter.js"

/** Every service a tool call may touch: the consumer's safety chain plus the store and queue for reads. */
export type McpServices =
  | AppConfig
  | LeadStore
  | JobQueue
  | AuditLog
  | Idempotency
  | RateLimiter
  | CircuitBreaker
  | CrmExecutor
  | Metrics

/** A tools/call for a tool this server does not offer: a JSON-RPC error (-32602), as the MCP specification says. */
export class UnknownTool extends Data.TaggedError("UnknownTool")<{ readonly message: string }> {}

/** A CallToolResult: text for the model, the same facts as structured content for programs. */
export interface ToolResult {
  readonly [key: string]: unknown
  readonly content: Array<{ readonly type: "text"; readonly text: string }>
  readonly structuredContent: Record<string, unknown>
  readonly isError?: boolean
}

/** A successful result: the value as JSON text and as structured content. */
export const answer = (value: Record<string, unknown>): ToolResult => ({
  content: [{ type: "text", text: JSON.stringify(value, null, 2) }],
  structuredContent: value
})

/** A refusal the agent can act on: what happened, why, and when to try again (never a stack or internals). */
export const refusal = (
  error: string,
  message: string,
  extra: { readonly retryAfterMs?: number; readonly [key: string]: unknown } = {}
): ToolResult => {
  const { retryAfterMs, ...rest } = extra
  const retryAfterSeconds = retryAfterMs === undefined ? undefined : Math.max(1, Math.ceil(retryAfterMs / 1000))
  const text = retryAfterSeconds === undefined ? message : `${message} Retry after ${retryAfterSeconds} s.`
  return {
    content: [{ type: "text", text }],
    structuredContent: { error, message, ...rest, ...(retryAfterSeconds === undefined ? {} : { retryAfterSeconds }) },
    isError: true
  }
}

/** The dependencies an Unavailable refusal names, in an operator's words. */
export const DATABASE = "database (Postgres)"
/** The job queue, whichever QUEUE_BACKEND serves it (BullMQ on Redis, SQS, or in memory): not named by backend. */
export const QUEUE = "queue"
export const REDIS = "Redis (idempotency keys and rate limits)"

/** When an agent may try again after a dependency did not answer: seconds, not a blind retry. */
export const UNAVAILABLE_RETRY_MS = 5_000

/** A dependency RevenueFlow needs did not answer: the agent is told which, and when to try again. */
export const unavailableRefusal = (what: string): ToolResult =>
  refusal("Unavailable", `RevenueFlow's ${what} is unavailable right now; try again later.`, {
    retryAfterMs: UNAVAILABLE_RETRY_MS
  })

/**
 * A lead as an agent may see it: personal data masked (email keeps its domain), free text redacted, and the lead's
 * own names, email and phone masked wherever they appear in any spelling (the analysis' reasoning, grounding reasons,
 * the error), as the console's lead view masks them.
 */
export const leadView = (lead: LeadRecord) => {
  const { leadKey: _key, ...view } = redactWith(
    JSON.parse(JSON.stringify(lead)),
    redactPersonalTextFor(lead.input)
  ) as Record<string, unknown>
  return view
}

/**
 * The lead key is left out of what an agent reads by id (a lead, its audit rows): it is sha256 of the email and the
 * campaign id, both of which the view shows but the email's local part, so a dictionary of names would give the masked
 * email back, and with it the right to write the lead. find_lead, asked with the email, answers it.
 */
const withoutLeadKey = (view: Record<string, unknown>) => {
  const params = view.params
  if (typeof params !== "object" || params === null || !("leadKey" in params)) return view
  const { leadKey: _key, ...rest } = params as Record<string, unknown>
  return { ...view, params: rest }
}

/** An audit row as an agent may see it: parameters and results redacted, with its lead's own data when given. */
export const actionView = (row: ActionRecord, lead?: LeadRecord) =>
  withoutLeadKey(
    (lead === undefined
      ? redact(JSON.parse(JSON.stringify(row)))
      : redactWith(JSON.parse(JSON.stringify(row)), redactPersonalTextFor(lead.input))) as Record<string, unknown>
  )
