import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { formatParseIssues } from "../domain/guard.js"
import { leadKey as leadKeyOf } from "../domain/leadKey.js"
import type { LeadRecord } from "../domain/record.js"
import { redactText } from "../domain/redact.js"
import { AuditLog } from "../../services/AuditLog.js"
import { JobQueue } from "../../services/JobQueue.js"
import { LeadStore, polledStatusCounts } from "../../services/LeadStore.js"
import { ReadParams, type ReadToolName } from "./catalog.js"
import {
  actionView,
  answer,
  DATABASE,
  leadView,
  type McpServices,
  QUEUE,
  refusal,
  type ToolResult,
  unavailableRefusal
} from "./results.js"

const decodeRead = <N extends ReadToolName>(name: N, args: unknown) =>
  Schema.decodeUnknownEither(ReadParams[name] as unknown as Schema.Schema<(typeof ReadParams)[N]["Type"]>, {
    errors: "all",
    onExcessProperty: "error"
  })(args)

const unavailable = (what: string) => () => Effect.succeed(unavailableRefusal(what))

/** A page of the audit trail stops before this many characters of JSON (at least one row): never megabytes. */
const AUDIT_PAGE_CHARS = 50_000
const AUDIT_PAGE_ROWS = 50

/**
 * One page of a lead's audit trail as an agent sees it, oldest first: `limit` rows at most, fewer when their JSON
 * would pass AUDIT_PAGE_CHARS, how many rows follow, and the cursor to read them (the last row's id).
 */
const auditPage = (lead: LeadRecord, limit: number | undefined, cursor: string | undefined) =>
  Effect.gen(function* () {
    const audit = yield* AuditLog
    const leadId = lead.id
    const page = yield* audit.pageForLead(leadId, { limit: limit ?? AUDIT_PAGE_ROWS, after: cursor })
    if (Option.isNone(page)) {
      return refusal("InvalidArguments", "Invalid arguments: cursor is no nextCursor of this lead's audit trail.")
    }
    const actions: Array<Record<string, unknown>> = []
    let chars = 0
    for (const row of page.value.rows) {
      const view = actionView(row, lead)
      chars += JSON.stringify(view).length
      if (actions.length > 0 && chars > AUDIT_PAGE_CHARS) break
      actions.push(view)
    }
    const remaining = page.value.remaining + page.value.rows.length - actions.length
    const last = actions.length === 0 ? undefined : page.value.rows[actions.length - 1]
    return answer({
      leadId,
      order: "oldest first",
      actions,
      remaining,
      ...(remaining > 0 && last !== undefined ? { nextCursor: last.id } : {})
    })
  })

/** A lead by id, or the refusal that says there is none. */
const leadById = (leadId: string) => Effect.flatMap(LeadStore, (store) => store.get(leadId)).pipe(Effect.option)

/** A read-only tool: its arguments decoded strictly, then a read of the store or queue (no CRM call). */
export const readCall = (name: ReadToolName, args: unknown): Effect.Effect<ToolResult, never, McpServices> => {
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
                // asked with the email: its key is no secret to the caller (the CRM tools take it)
                onSome: (lead) => answer({ ...leadView(lead), leadKey: lead.leadKey })
              })
            ),
            Effect.catchAll(unavailable(DATABASE))
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
              StoreUnavailable: unavailable(DATABASE)
            })
          )
      })
    case "get_audit_trail":
      return Either.match(decodeRead("get_audit_trail", args), {
        onLeft: bad,
        onRight: ({ leadId, limit, cursor }) =>
          Effect.gen(function* () {
            const lead = yield* leadById(leadId)
            if (Option.isNone(lead)) return refusal("LeadNotFound", `No lead has id ${JSON.stringify(leadId)}.`)
            return yield* auditPage(lead.value, limit, cursor)
          }).pipe(Effect.catchAll(unavailable(DATABASE)))
      })
    case "list_dead_letters":
      return Either.match(decodeRead("list_dead_letters", args), {
        onLeft: bad,
        onRight: ({ limit }) =>
          Effect.flatMap(LeadStore, (store) =>
            store.listByStatus({ statuses: ["FAILED"], olderThanMs: 0, limit: limit ?? 50 })
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
            Effect.catchAll(unavailable(DATABASE))
          )
      })
    case "queue_stats":
      return Either.match(decodeRead("queue_stats", args), {
        onLeft: bad,
        onRight: () =>
          // counted up to a bound where the store can, as /ops/state does: an agent may poll this, and an exact
          // count reads every lead of its status
          Effect.all({
            queue: Effect.flatMap(JobQueue, (queue) => queue.stats),
            counted: Effect.flatMap(LeadStore, (store) => {
              const { counts, countedUpTo } = polledStatusCounts(store)
              return Effect.map(counts, (leads) => ({
                leads,
                ...(countedUpTo === undefined ? {} : { leadsCountedUpTo: countedUpTo })
              }))
            })
          }).pipe(
            Effect.map(({ queue, counted }) => answer({ queue, ...counted })),
            Effect.catchAll(unavailable(`${QUEUE} or ${DATABASE}`))
          )
      })
  }
}
