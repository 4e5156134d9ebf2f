import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { call, ref, setup } from "./support.js"

const token = "pat-na1-old"
/** Long enough for the test to wait out, as HubSpot's seconds would be for a company made before the lead came. */
const LAG_MS = 200

describe("a company search finds, deleted since (search lags deletes as it lags creations)", () => {
  it.scopedLive("the sync's update answers 404: the company is upserted by its key instead, the lead not failed", () =>
    Effect.gen(function* () {
      const { fake, crm } = yield* setup({}, { searchLagMs: LAG_MS })
      const api = (method: string, path: string, body?: unknown) =>
        Effect.promise(() =>
          fetch(`${fake.url}${path}`, {
            method,
            headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
            ...(body === undefined ? {} : { body: JSON.stringify(body) })
          }).then((r) => (r.status === 204 ? undefined : (r.json() as Promise<{ id: string }>)))
        )
      // made in HubSpot long enough ago for search to have it, then deleted by a user just before the lead came
      const made = yield* api("POST", "/crm/v3/objects/companies", {
        properties: { domain: "acme.com", name: "Acme Corporation" }
      })
      yield* Effect.sleep(LAG_MS + 50)
      yield* api("DELETE", `/crm/v3/objects/companies/${made!.id}`)

      const synced = yield* crm.execute(
        call({ tool: "sync_firmographics", params: { ...ref, employees: 250, domain: "acme.com" } })
      )
      expect(fake.requests.filter((r) => r.method === "PATCH").map((r) => r.path)).toEqual([
        `/crm/v3/objects/companies/${made!.id}`,
        `/crm/v3/objects/companies/${synced.crmId}`
      ])
      expect(synced.crmId).not.toBe(made!.id)
      expect(synced.detail).toMatchObject({ object: "company", created: true })
      expect(fake.records.companies?.map((c) => c.properties)).toEqual([
        { domain: "acme.com", revenueflow_company_key: "acme.com", numberofemployees: "250", name: "acme.com" }
      ])
      const contactId = fake.records.contacts![0]!.id
      expect(fake.associations).toEqual(new Set([`contacts:${contactId}->companies:${synced.crmId}`]))
    })
  )

  it.scopedLive("with nothing to write, the found company is read first, so none that is gone gets the contact", () =>
    Effect.gen(function* () {
      const { fake, crm } = yield* setup({}, { searchLagMs: LAG_MS })
      const at = new Date(Date.now() - 10 * LAG_MS).toISOString()
      fake.records.companies = [
        { id: "700", properties: { domain: "acme.com", name: "Acme Corporation" }, createdAt: at, updatedAt: at }
      ]
      const sync = call({ tool: "sync_firmographics", params: { ...ref, domain: "acme.com" } })
      // found and there: read (its name kept), the contact tied to it
      expect((yield* crm.execute(sync)).crmId).toBe("700")
      yield* Effect.promise(() =>
        fetch(`${fake.url}/crm/v3/objects/companies/700`, {
          method: "DELETE",
          headers: { authorization: `Bearer ${token}` }
        })
      )
      const before = fake.requests.length
      const again = yield* crm.execute(sync)
      expect(fake.requests.slice(before).map((r) => `${r.method} ${r.path}`)).toEqual([
        "POST /crm/v3/objects/companies/search",
        "GET /crm/v3/objects/companies/700",
        "POST /crm/v3/objects/companies/batch/upsert",
        `PATCH /crm/v3/objects/companies/${again.crmId}`,
        "POST /crm/v3/objects/contacts/batch/upsert",
        `PUT /crm/v4/objects/contacts/${fake.records.contacts![0]!.id}/associations/default/companies/${again.crmId}`
      ])
      expect(fake.records.companies?.map((c) => c.id)).toEqual([again.crmId])
    })
  )
})
