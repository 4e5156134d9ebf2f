import { describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import type { RecordedRequest } from "../../fakes/crmFakeServer.js"
import { call, ref, setup } from "./support.js"

/** A proxy's or gateway's page, answered with a success status. */
const page = (status: number, contentType: string, body: string) => ({
  status,
  body,
  headers: { "content-type": contentType }
})
const html = page(200, "text/html; charset=utf-8", "<html><body><h1>Service Unavailable</h1></body></html>")

/** How the action ended: its typed failure's fate as plain data, "died" for a defect, "succeeded". */
const outcome = <A, E extends { readonly _tag: string }>(effect: Effect.Effect<A, E>) =>
  Effect.map(Effect.exit(effect), (exit) => {
    if (Exit.isSuccess(exit)) return "succeeded"
    const failure = Option.getOrUndefined(Cause.failureOption(exit.cause))
    if (failure === undefined) return `died: ${Cause.pretty(exit.cause).split("\n")[0]}`
    const fields = failure as { readonly status?: number; readonly code?: string; readonly message?: string }
    return { _tag: failure._tag, status: fields.status, code: fields.code }
  })
const retried = () => ({ _tag: "CrmTransientError", status: 200, code: "UNEXPECTED_RESPONSE" })

const path = (p: string | RegExp) => (req: RecordedRequest) =>
  typeof p === "string" ? req.path === p : p.test(req.path)

describe("a success whose body is not HubSpot's (a proxy's page) is a typed transient error", () => {
  it.scopedLive("on a batch upsert, a search, a read, a definitions read, an update and an association", () =>
    Effect.gen(function* () {
      const { fake, crm } = yield* setup({}, { searchLagMs: 0 })
      const upsertLead = call({ tool: "upsert_lead", params: { ...ref, campaignId: "spring-2025" } })
      const sync = call({ tool: "sync_firmographics", params: { ...ref, domain: "acme.com", employees: 250 } })
      const task = call({ tool: "create_task", params: { ...ref, subject: "Call Jane", priority: "High" } })

      fake.failNext(html, 1, path("/crm/v3/objects/contacts/batch/upsert"))
      expect(yield* outcome(crm.execute(upsertLead))).toEqual(retried())
      fake.failNext(page(200, "text/plain", "OK"), 1, path("/crm/v3/properties/companies"))
      expect(yield* outcome(crm.execute(sync))).toEqual(retried())
      fake.failNext(html, 1, path("/crm/v3/objects/companies/search"))
      expect(yield* outcome(crm.execute(sync))).toEqual(retried())
      fake.failNext(html, 1, path(/^\/crm\/v4\//))
      expect(yield* outcome(crm.execute(task))).toEqual(retried())

      // the company exists and search sees it: the sync updates it, and the update's answer is a page
      const synced = yield* crm.execute(sync)
      fake.failNext(page(200, "text/html", "<p>Accepted</p>"), 1, (req) => req.method === "PATCH")
      expect(yield* outcome(crm.execute(sync))).toEqual(retried())
      const matched = call({ tool: "match_account", params: { ...ref, domain: "globex.com" } })
      fake.failNext(html, 1, path(/^\/crm\/v3\/objects\/companies\/globex\.com$/))
      expect(yield* outcome(crm.execute(matched))).toEqual(retried())
      const converted = call({
        tool: "convert_lead",
        params: { ...ref, convertedStatus: "CONNECTED", createOpportunity: false }
      })
      fake.failNext(html, 1, (req) => req.method === "GET" && req.path.startsWith("/crm/v3/objects/contacts/"))
      expect(yield* outcome(crm.execute(converted))).toEqual(retried())

      // nothing was lost: each action goes through on its retry
      for (const action of [upsertLead, sync, task, matched, converted]) {
        expect(yield* outcome(crm.execute(action))).toBe("succeeded")
      }
      expect(fake.records.companies?.map((c) => c.id)).toEqual([synced.crmId])
    })
  )
})
