import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Effect from "effect/Effect"
import { AppConfig } from "../../services/AppConfig.js"
import { AuditLog } from "../../services/AuditLog.js"
import { replayLead } from "../pipeline/replay.js"
import { leadAudit, leadSummary } from "./operatorViews.js"
import { type LeadCursor, LeadStore } from "../../services/LeadStore.js"
import { IngestApi } from "./api.js"
import { fromPlatform } from "./body.js"
import { makeCreateLead, makeGuard } from "./intakeHandlers.js"
import { problem } from "./problem.js"
import { leadView, storeUnavailable, viewResponse } from "./leadAnswers.js"

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/** Lead ids are UUIDs: anything else is a 404 without asking the store (which would reject the cast). */
const notFound = (id: string) => problem(404, `No lead with id ${JSON.stringify(id)}`)

/** A page's `next` as GET /leads writes it (`<microseconds>.<id>`), and back (the pattern in ./api.ts holds). */
const writeCursor = (cursor: LeadCursor): string => `${cursor.updatedAtMicros}.${cursor.id}`
const readCursor = (text: string): LeadCursor => {
  const dot = text.indexOf(".")
  return { updatedAtMicros: BigInt(text.slice(0, dot)), id: text.slice(dot + 1) }
}

/** POST /leads, GET /leads, GET /leads/:id, GET /leads/:id/audit and POST /leads/:id/replay, behind the API keys. */
export const LeadsLive = HttpApiBuilder.group(IngestApi, "leads", (handlers) =>
  Effect.gen(function* () {
    const config = yield* AppConfig
    const guard = makeGuard(config)
    const createLead = makeCreateLead(config)

    return handlers
      .handleRaw("createLead", ({ request }) => createLead(fromPlatform(request)))
      .handleRaw("listLeads", ({ request, urlParams }) =>
        Effect.gen(function* () {
          yield* guard(request.headers)
          const store = yield* LeadStore
          const page = {
            limit: urlParams.limit ?? 50,
            ...(urlParams.status === undefined ? {} : { statuses: urlParams.status }),
            ...(urlParams.after === undefined ? {} : { after: readCursor(urlParams.after) })
          }
          return yield* store.listRecent(page).pipe(
            Effect.map(({ leads, next }) =>
              HttpServerResponse.unsafeJson({
                leads: leads.map(leadSummary),
                ...(next === undefined ? {} : { next: writeCursor(next) })
              })
            ),
            Effect.catchTag("StoreUnavailable", () => Effect.succeed(storeUnavailable))
          )
        }).pipe(Effect.merge)
      )
      .handleRaw("getLead", ({ request, path }) =>
        Effect.gen(function* () {
          yield* guard(request.headers)
          if (!UUID.test(path.id)) return notFound(path.id)
          const store = yield* LeadStore
          const audit = yield* AuditLog
          return yield* Effect.all([store.get(path.id), audit.listForLead(path.id)]).pipe(
            Effect.map(([lead, actions]) => viewResponse(leadView(lead, actions), 200)),
            Effect.catchTags({
              LeadNotFound: () => Effect.succeed(notFound(path.id)),
              StoreUnavailable: () => Effect.succeed(storeUnavailable)
            })
          )
        }).pipe(Effect.merge)
      )
      .handleRaw("leadAudit", ({ request, path }) =>
        Effect.gen(function* () {
          yield* guard(request.headers)
          if (!UUID.test(path.id)) return notFound(path.id)
          const store = yield* LeadStore
          const audit = yield* AuditLog
          return yield* Effect.all([store.get(path.id), audit.listForLead(path.id)]).pipe(
            Effect.map(([lead, actions]) => HttpServerResponse.unsafeJson(leadAudit(lead, actions))),
            Effect.catchTags({
              LeadNotFound: () => Effect.succeed(notFound(path.id)),
              StoreUnavailable: () => Effect.succeed(storeUnavailable)
            })
          )
        }).pipe(Effect.merge)
      )
      .handleRaw("replayLead", ({ request, path }) =>
        Effect.gen(function* () {
          yield* guard(request.headers)
          if (!UUID.test(path.id)) return notFound(path.id)
          return yield* replayLead(path.id).pipe(
            Effect.map((result) =>
              result.replayed
                ? HttpServerResponse.unsafeJson({ leadId: result.leadId, status: "QUEUED" }, { status: 202 })
                : problem(409, `Only a FAILED lead can be replayed; this one is ${result.status}`)
            ),
            Effect.catchTags({
              LeadNotFound: () => Effect.succeed(notFound(path.id)),
              StaleTransition: (e) =>
                Effect.succeed(problem(409, `Only a FAILED lead can be replayed; this one is ${e.actual}`)),
              StoreUnavailable: () => Effect.succeed(storeUnavailable),
              QueueUnavailable: () =>
                Effect.succeed(
                  problem(503, "The queue is unavailable; the lead stays FAILED. Retry later.", {
                    headers: { "retry-after": "5" }
                  })
                )
            })
          )
        }).pipe(Effect.merge)
      )
  })
)
