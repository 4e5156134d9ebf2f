import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { formatParseIssues } from "../domain/guard.js"
import { leadKey as leadKeyOf } from "../domain/leadKey.js"
import { redactText } from "../domain/redact.js"
import { AuditLog } from "../../services/AuditLog.js"
import { JobQueue } from "../../services/JobQueue.js"
import { LeadStore } from "../../services/LeadStore.js"
import { ReadParams, type ReadToolName } from "./catalog.js"
import { actionView, answer, leadView, type McpServices, refusal, type ToolResult } from "./results.js"

const decodeRead = <N extends ReadToolName>(name: N, args: unknown) =>
  Schema.decodeUnknownEither(ReadParams[name] as unknown as Schema.Schema<(typeof ReadParams)[N]["Type"]>, {
    errors: "all",
    onExcessProperty: "error"
  })(args)

const unavailable = (what: string) => () =>
  Effect.succeed(refusal("Unavailable", `RevenueFlow's ${what} is unavailable; try again.`))

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
