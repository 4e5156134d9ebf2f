import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { fitFields, fitText } from "../../../layers/salesforce/tools.js"
import { leadKey } from "../../../src/domain/leadKey.js"
import type { CrmAction } from "../../../src/domain/tools.js"
import type { FakeSalesforce, FakeSalesforceOptions } from "../../fakes/salesforce.js"
import { callFor, email, orgWithExecutor } from "./org.js"

// What a default org does that a lenient fake would not: duplicate rules, assignment rules, field lengths, converted
// Leads. Each test here failed against the adapter before it sent the headers and fitted the fields.

const upsertLead = (campaignId: string, extra: Record<string, string> = {}, address = email) => {
  const key = leadKey(address, campaignId)
  return callFor(key, { tool: "upsert_lead", params: { leadKey: key, email: address, campaignId, ...extra } })
}

const setup = (options: Omit<FakeSalesforceOptions, "clientId" | "clientSecret"> = {}) => orgWithExecutor(options)

const leadWrites = (fake: FakeSalesforce) =>
  fake.apiRequests().filter((r) => r.method === "PATCH" && r.path.includes("/sobjects/Lead/"))

describe("Salesforce duplicate rules (standard Lead rule: Alert, API allowSave defaults to false)", () => {
  it.scopedLive("the same person in a second campaign, or an existing Contact, still gets a Lead per lead key", () =>
    Effect.gen(function* () {
      const { fake, crm } = yield* setup()
      const first = yield* crm.execute(upsertLead("spring-2025"))
      const second = yield* crm.execute(upsertLead("autumn-webinar"))
      expect(second.crmId).not.toBe(first.crmId)
      expect(fake.records.Lead).toHaveLength(2)
      // an existing customer (a Contact with this address) filling in a form
      fake.records.Contact = [{ Id: "003000000000099", LastName: "Doe", Email: "sam@globex.com" }]
      yield* crm.execute(upsertLead("spring-2025", {}, "sam@globex.com"))
      expect(fake.records.Lead).toHaveLength(3)
      for (const req of leadWrites(fake)) {
        expect(req.headers["sforce-duplicate-rule-header"]).toBe("allowSave=true")
      }
    })
  )

  it.scopedLive("a Block rule refuses permanently; the error names the matched records' ids, not their data", () =>
    Effect.gen(function* () {
      const { fake, crm } = yield* setup({ duplicateRule: "block" })
      const first = yield* crm.execute(upsertLead("spring-2025"))
      const error = yield* Effect.flip(crm.execute(upsertLead("autumn-webinar")))
      expect(error).toMatchObject({ _tag: "CrmPermanentError", status: 400, code: "DUPLICATES_DETECTED" })
      expect(error.message).toContain(`Lead ${first.crmId}`)
      expect(error.message).not.toContain("jane.doe")
      expect(fake.records.Lead).toHaveLength(1)
    })
  )
})

describe("Salesforce assignment rules (Sforce-Auto-Assign defaults to TRUE on every Lead write)", () => {
  it.scopedLive("only the creating upsert runs them: an owner an SDR claimed survives every later write", () =>
    Effect.gen(function* () {
      const { fake, crm } = yield* setup({ leadAssignmentOwners: ["00G000000000001", "00G000000000002"] })
      const upsert = upsertLead("spring-2025")
      const key = upsert.params.leadKey
      const ref = { leadKey: key, email }
      yield* crm.execute(upsert)
      const lead = fake.records.Lead![0]!
      expect(lead.OwnerId).toBe("00G000000000001")
      lead.OwnerId = "005000000000SDR" // an SDR takes the lead

      const later: ReadonlyArray<CrmAction> = [
        { tool: "sync_firmographics", params: { ...ref, industry: "Software", employees: 250, domain: "acme.com" } },
        { tool: "set_lead_score", params: { ...ref, score: 82, intent: "HIGH", decision: "Route to SDR" } as never },
        { tool: "update_lead_status", params: { ...ref, status: "Working" } },
        { tool: "log_activity", params: { ...ref, subject: "Visited pricing", description: "3 page views" } },
        { tool: "create_task", params: { ...ref, subject: "Follow up with HIGH lead", priority: "High" } as never }
      ]
      for (const action of later) yield* crm.execute(callFor(key, action))

      expect(lead.OwnerId).toBe("005000000000SDR")
      expect(fake.leadAssignments()).toHaveLength(1)
      const writes = fake.apiRequests().filter((r) => r.method === "PATCH")
      expect(writes.map((r) => r.headers["sforce-auto-assign"])).toEqual([
        "TRUE",
        "FALSE",
        "FALSE",
        "FALSE",
        "FALSE",
        "FALSE"
      ])
    })
  )
})

describe("Salesforce field lengths (STRING_TOO_LONG)", () => {
  it.scopedLive("the fake refuses a value longer than the object reference allows, as Salesforce does", () =>
    Effect.gen(function* () {
      const { fake } = yield* setup({ validTokens: ["00Dtoken"] })
      const res = yield* Effect.promise(() =>
        fetch(`${fake.url}/services/data/v62.0/sobjects/Lead/RevenueFlow_Key__c/k1`, {
          method: "PATCH",
          headers: { authorization: "Bearer 00Dtoken", "content-type": "application/json" },
          body: JSON.stringify({ LastName: "Doe", Company: "Acme", FirstName: "x".repeat(41) })
        })
      )
      expect(res.status).toBe(400)
      expect(yield* Effect.promise(() => res.json())).toMatchObject([
        { errorCode: "STRING_TOO_LONG", fields: ["FirstName"] }
      ])
    })
  )

  it.scopedLive("the adapter fits what it sends and names the shortened fields in the detail, instead of failing", () =>
    Effect.gen(function* () {
      const { fake, crm } = yield* setup()
      const firstName = "Maria-Fernanda Guadalupe de los Santos Rivera" // 45: the ingest allows 80, Salesforce 40
      const title = `Senior Vice President ${"of Global Revenue Operations ".repeat(4)}`.trim() // 139
      const result = yield* crm.execute(upsertLead("spring-2025", { firstName, title, phone: "+1 555 0100" }))
      expect(result.detail).toMatchObject({ object: "Lead", created: true, shortened: ["FirstName", "Title"] })
      expect(JSON.stringify(result.detail)).not.toContain("Maria")
      const lead = fake.records.Lead![0]!
      expect(lead.FirstName).toBe("Maria-Fernanda Guadalupe de los Santos R") // its first 40
      expect((lead.Title as string).length).toBeLessThanOrEqual(128)
      expect(lead.Phone).toBe("+1 555 0100")
      // nothing to shorten: no mention
      const plain = yield* crm.execute(upsertLead("autumn", { firstName: "Jane" }))
      expect(plain.detail).not.toHaveProperty("shortened")
    })
  )

  it("never splits a character made of two UTF-16 units, and drops trailing spaces", () => {
    expect(fitText(`${"a".repeat(39)}😀b`, 40)).toBe("a".repeat(39))
    expect(fitText("Ana Maria Lopez", 10)).toBe("Ana Maria")
    expect(fitText("short", 40)).toBe("short")
    expect(fitFields("Lead", { Email: `${"x".repeat(90)}@a.com`, Company: "c".repeat(300) })).toEqual({
      body: { Email: `${"x".repeat(90)}@a.com`, Company: "c".repeat(255) },
      shortened: ["Company"]
    })
  })
})

describe("a Lead converted by a user", () => {
  it.scopedLive("refuses later writes permanently (CANNOT_UPDATE_CONVERTED_LEAD), as Salesforce does", () =>
    Effect.gen(function* () {
      const { fake, crm } = yield* setup()
      const upsert = upsertLead("spring-2025")
      yield* crm.execute(upsert)
      Object.assign(fake.records.Lead![0]!, { IsConverted: true, Status: "Closed - Converted" })
      const ref = { leadKey: upsert.params.leadKey, email }
      const error = yield* Effect.flip(
        crm.execute(callFor(ref.leadKey, { tool: "update_lead_status", params: { ...ref, status: "Working" } }))
      )
      expect(error).toMatchObject({ _tag: "CrmPermanentError", code: "CANNOT_UPDATE_CONVERTED_LEAD" })
    })
  )
})
