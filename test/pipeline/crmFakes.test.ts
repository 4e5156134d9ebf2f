import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { AuditLog } from "../../services/AuditLog.js"
import type { CrmExecutor } from "../../services/CrmExecutor.js"
import { id18 } from "../fakes/salesforce.js"
import { memoryEnv, sampleLead } from "../support/env.js"
import { salesforceAgainstFake } from "../support/salesforce.js"
import { awaitStatus, startConsumer, submit } from "../support/pipeline.js"
import { hubSpotAgainstFake } from "../support/hubspot.js"

/** The memory pipeline with the real CRM executor swapped in for the mock. */
const withCrm = (crm: Layer.Layer<CrmExecutor>) => Layer.merge(memoryEnv(), crm)

/** Submit leads (two at one company, one free-mail), run the consumer, wait until all are SYNCED. */
const runLeads = Effect.gen(function* () {
  const bodies = [
    sampleLead({ email: "grace@globex.com", company: "Globex" }),
    sampleLead({ email: "alan@globex.com", company: "Globex", title: "Analyst", activity: { pageViews: 3 } }),
    sampleLead({ email: "someone@gmail.com", activity: undefined, title: undefined })
  ].map(({ activity, title, ...rest }) => ({ ...rest, ...(activity ? { activity } : {}), ...(title ? { title } : {}) }))
  const leads = yield* Effect.forEach(bodies, (body) => submit(body))
  yield* startConsumer
  const done = yield* Effect.forEach(leads, ({ lead }) => awaitStatus(lead.id, ["SYNCED"], 15_000))
  const audit = yield* AuditLog
  const rows = yield* Effect.forEach(done, (lead) => audit.listForLead(lead.id))
  return { done, rows: rows.flat() }
})

describe("the whole pipeline against each fake CRM", () => {
  it.scopedLive("Salesforce (jsforce): every lead SYNCED, audit rows carry Salesforce ids, one Lead per lead", () =>
    Effect.gen(function* () {
      const { fake, crm } = yield* salesforceAgainstFake()
      const { rows } = yield* runLeads.pipe(Effect.provide(withCrm(crm)))
      expect(rows.length).toBeGreaterThanOrEqual(9)
      expect(rows.every((row) => row.status === "SUCCEEDED" && row.provider === "salesforce")).toBe(true)
      // as the API answers them: 18 characters
      const leadIds = new Set((fake.records.Lead ?? []).map((r) => id18(r.Id)))
      expect(leadIds.size).toBe(3)
      // one upsert per lead, each audit row carrying the Salesforce Lead id the fake assigned to that lead
      const upserts = rows.filter((r) => r.tool === "upsert_lead")
      expect(upserts).toHaveLength(3)
      expect(new Set(upserts.map((row) => row.crmId))).toEqual(leadIds)
      expect((fake.records.Task ?? []).length).toBe(
        rows.filter((r) => r.tool === "create_task" || r.tool === "log_activity").length
      )
    })
  )

  it.scopedLive(
    "HubSpot (@hubspot/api-client): every lead SYNCED, audit rows carry HubSpot ids, one contact per lead",
    () =>
      Effect.gen(function* () {
        const { fake, crm } = yield* hubSpotAgainstFake()
        const { rows } = yield* runLeads.pipe(Effect.provide(withCrm(crm)))
        // as many audit rows as the Salesforce run's, one upsert per lead: an empty audit would pass the checks below
        expect(rows.length).toBeGreaterThanOrEqual(9)
        expect(rows.every((row) => row.status === "SUCCEEDED" && row.provider === "hubspot")).toBe(true)
        const contacts = fake.records.contacts ?? []
        expect(contacts).toHaveLength(3)
        const contactIds = new Set(contacts.map((c) => c.id))
        const upserts = rows.filter((r) => r.tool === "upsert_lead")
        expect(upserts).toHaveLength(3)
        expect(new Set(upserts.map((row) => row.crmId))).toEqual(contactIds)
        expect(rows.filter((r) => r.crmId === undefined)).toEqual([])
      })
  )
})
