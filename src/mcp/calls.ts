import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { formatParseIssues, guardAction } from "../domain/guard.js"
import { leadKey as leadKeyOf } from "../domain/leadKey.js"
import type { ActionRecord, LeadRecord } from "../domain/record.js"
import { redact, redactText } from "../domain/redact.js"
import { type CrmAction, isToolName, type ToolName } from "../domain/tools.js"
import { type RunActionOptions, runAction } from "../pipeline/execute.js"
import type { AppConfig } from "../../services/AppConfig.js"
import { AuditLog } from "../../services/AuditLog.js"
import type { CircuitBreaker } from "../../services/CircuitBreaker.js"
import type { CrmExecutor } from "../../services/CrmExecutor.js"
import type { Idempotency } from "../../services/Idempotency.js"
import { JobQueue } from "../../services/JobQueue.js"
import { LeadStore } from "../../services/LeadStore.js"
import type { Metrics } from "../../services/Metrics.js"
import type { RateLimiter } from "../../services/RateLimiter.js"
import { isReadToolName, ReadParams, type ReadToolName } from "./catalog.js"

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

const answer = (value: Record<string, unknown>): ToolResult => ({
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

/** A lead as an agent may see it: personal data masked (email keeps its domain), free text redacted. */
export const leadView = (lead: LeadRecord) => redact(JSON.parse(JSON.stringify(lead))) as Record<string, unknown>

const actionView = (row: ActionRecord) => redact(JSON.parse(JSON.stringify(row))) as Record<string, unknown>

/** A successful CRM action, identical for the call that made it and every repeat (it is its SUCCEEDED row). */
const actionAnswer = (record: ActionRecord) =>
  answer({
    tool: record.tool,
    status: record.status,
    actionKey: record.actionKey,
    leadId: record.leadId,
    provider: record.provider,
    ...(record.crmId === undefined ? {} : { crmId: record.crmId }),
    ...(record.result === undefined ? {} : { result: redact(record.result) }),
    at: record.createdAt.toISOString()
  })

/** The failures of the safety chain, each as the refusal an agent sees (exhaustive: a new error must be mapped). */
type ChainError = Effect.Effect.Error<ReturnType<typeof runAction>>
const chainRefusal = (error: ChainError): ToolResult => {
  switch (error._tag) {
    case "GuardBlocked":
      return refusal("GuardBlocked", `Refused by the safety guard (${error.rule}): ${error.reason}`, {
        rule: error.rule
      })
    case "RateLimited":
      return refusal("RateLimited", `Rate limit reached (${error.tier} tier).`, {
        tier: error.tier,
        retryAfterMs: error.retryAfterMs
      })
    case "CircuitOpen":
      return refusal("CircuitOpen", `The CRM circuit breaker (${error.name}) is open after repeated CRM failures.`, {
        retryAfterMs: error.retryAfterMs
      })
    case "CrmRateLimited":
      return refusal("CrmRateLimited", "The CRM is rate limiting RevenueFlow.", { retryAfterMs: error.retryAfterMs })
    case "CrmPermanentError":
      return refusal("CrmRejected", `The CRM rejected the request: ${redactText(error.message)}`)
    case "CrmTransientError":
      return refusal("CrmUnavailable", "The CRM did not answer properly (5xx, timeout or network); try again later.")
    case "JobDelay":
      return refusal("InProgress", "The same action is being executed by another worker right now.", {
        retryAfterMs: error.delayMs
      })
    case "StoreUnavailable":
    case "IdempotencyUnavailable":
    case "RateLimiterUnavailable":
      return refusal("Unavailable", `RevenueFlow's ${error._tag.replace("Unavailable", "")} is unavailable; try again.`)
  }
}

const isLeadKey = (value: unknown): value is string => typeof value === "string" && /^[0-9a-f]{64}$/.test(value)
const sameEmail = (a: string, b: string) => a.trim().toLowerCase() === b.trim().toLowerCase()

/**
 * One CRM tool call: the lead named by `leadKey` (and its email) must be a lead RevenueFlow holds, so the call gets
 * that lead's rate-limit tiers, its action key (lead key + tool + canonical parameters, as the consumer computes it)
 * and its audit trail; then the consumer's safety chain runs it, recorded with source "mcp".
 */
const crmCall = (tool: ToolName, args: Record<string, unknown>) =>
  Effect.gen(function* () {
    const store = yield* LeadStore
    const lead = isLeadKey(args.leadKey) ? yield* store.findByKey(args.leadKey) : Option.none()
    if (Option.isNone(lead)) {
      // no lead to audit against: the guard still speaks first, so bad arguments are named as such
      const guarded = guardAction(tool, args)
      if (Either.isLeft(guarded)) return chainRefusal(guarded.left)
      return refusal(
        "LeadNotFound",
        "No lead with this leadKey: RevenueFlow acts only on leads it accepted (POST /leads or a webhook). " +
          "Use find_lead to get a lead's key."
      )
    }
    if (typeof args.email === "string" && !sameEmail(args.email, lead.value.input.email)) {
      return refusal("LeadMismatch", "email is not the email of the lead named by leadKey.")
    }
    const options: RunActionOptions = { source: "mcp" }
    const outcome = yield* runAction(lead.value, { tool, params: args } as CrmAction, options)
    yield* Effect.logInfo("mcp tool call").pipe(
      Effect.annotateLogs({ tool, leadId: lead.value.id, executed: outcome.executed })
    )
    return actionAnswer(outcome.record)
  }).pipe(
    Effect.catchAll((error) =>
      Effect.as(
        Effect.logWarning("mcp tool call refused").pipe(Effect.annotateLogs({ tool, refusal: error._tag })),
        chainRefusal(error)
      )
    )
  )

const decodeRead = <N extends ReadToolName>(name: N, args: unknown) =>
  Schema.decodeUnknownEither(ReadParams[name] as unknown as Schema.Schema<(typeof ReadParams)[N]["Type"]>, {
    errors: "all",
    onExcessProperty: "error"
  })(args)

const unavailable = (what: string) => () =>
  Effect.succeed(refusal("Unavailable", `RevenueFlow's ${what} is unavailable; try again.`))

/** A lead by id, or the refusal that says there is none. */
const leadById = (leadId: string) => Effect.flatMap(LeadStore, (store) => store.get(leadId)).pipe(Effect.option)

const readCall = (name: ReadToolName, args: unknown): Effect.Effect<ToolResult, never, McpServices> => {
  const bad = (error: Parameters<typeof formatParseIssues>[0]) =>
    Effect.succeed(refusal("InvalidArguments", `Invalid arguments: ${formatParseIssues(error)}`))
  switch (name) {
    case "find_lead":
      return Either.match(decodeRead("find_lead", args), {
        onLeft: bad,
        onRight: ({ email, campaignId }) =>
          Effect.flatMap(LeadStore, (store) => store.findByKey(leadKeyOf(email, campaignId))).pipe(
            Effect.map(
              Option.match({
                onNone: () => refusal("LeadNotFound", "No lead was accepted with this email and campaign id."),
                onSome: (lead) => answer(leadView(lead))
              })
            ),
            Effect.catchAll(unavailable("store"))
          )
      })
    case "get_lead":
      return Either.match(decodeRead("get_lead", args), {
        onLeft: bad,
        onRight: ({ leadId }) =>
          Effect.flatMap(LeadStore, (store) => store.get(leadId)).pipe(
            Effect.map((lead) => answer(leadView(lead))),
            Effect.catchTags({
              LeadNotFound: () => Effect.succeed(refusal("LeadNotFound", `No lead has id ${JSON.stringify(leadId)}.`)),
              StoreUnavailable: unavailable("store")
            })
          )
      })
    case "get_audit_trail":
      return Either.match(decodeRead("get_audit_trail", args), {
        onLeft: bad,
        onRight: ({ leadId }) =>
          Effect.gen(function* () {
            const lead = yield* leadById(leadId)
            if (Option.isNone(lead)) return refusal("LeadNotFound", `No lead has id ${JSON.stringify(leadId)}.`)
            const rows = yield* Effect.flatMap(AuditLog, (audit) => audit.listForLead(leadId))
            return answer({ leadId, actions: rows.map(actionView) })
          }).pipe(Effect.catchAll(unavailable("store")))
      })
    case "list_dead_letters":
      return Either.match(decodeRead("list_dead_letters", args), {
        onLeft: bad,
        onRight: ({ limit }) =>
          Effect.flatMap(LeadStore, (store) =>
            store.listStuck({ statuses: ["FAILED"], olderThanMs: 0, limit: limit ?? 50 })
          ).pipe(
            Effect.map((failed) =>
              answer({
                deadLetters: failed.map((lead) => ({
                  leadId: lead.id,
                  failedAt: lead.updatedAt.toISOString(),
                  reason: redactText(lead.error ?? "")
                }))
              })
            ),
            Effect.catchAll(unavailable("store"))
          )
      })
    case "queue_stats":
      return Either.match(decodeRead("queue_stats", args), {
        onLeft: bad,
        onRight: () =>
          Effect.all({
            queue: Effect.flatMap(JobQueue, (queue) => queue.stats),
            leads: Effect.flatMap(LeadStore, (store) => store.countByStatus)
          }).pipe(
            Effect.map((stats) => answer(stats)),
            Effect.catchAll(unavailable("queue or store"))
          )
      })
  }
}

/**
 * tools/call: a CRM tool through the safety chain, or a read-only tool. Refusals are tool results with isError (the
 * model sees them and can adapt); only a tool this server does not offer fails, with UnknownTool. A defect becomes
 * an isError result without internals, and is logged.
 */
export const callTool = (name: string, args: unknown): Effect.Effect<ToolResult, UnknownTool, McpServices> => {
  const input = args ?? {}
  const run: Effect.Effect<ToolResult, UnknownTool, McpServices> = isToolName(name)
    ? typeof input === "object" && !Array.isArray(input)
      ? crmCall(name, input as Record<string, unknown>)
      : Effect.succeed(refusal("InvalidArguments", "arguments must be a JSON object"))
    : isReadToolName(name)
      ? readCall(name, input)
      : Effect.fail(
          new UnknownTool({
            message: `Unknown tool: ${JSON.stringify(name.slice(0, 64))}${Either.match(guardAction(name, input), {
              onLeft: (blocked) => (blocked.rule === "blocked-tool" ? ` (${blocked.reason})` : ""),
              onRight: () => ""
            })}`
          })
        )
  return run.pipe(
    Effect.catchAllDefect((defect) =>
      Effect.as(
        Effect.logError("mcp tool call failed").pipe(Effect.annotateLogs({ tool: name, defect: String(defect) })),
        refusal("InternalError", "The call failed inside RevenueFlow; it was logged. Nothing more is known here.")
      )
    ),
    Effect.withSpan("mcp.tools/call", { captureStackTrace: false, attributes: { "mcp.tool": name.slice(0, 64) } })
  )
}
