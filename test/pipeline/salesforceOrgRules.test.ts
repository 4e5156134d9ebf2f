import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { AuditLog } from "../../services/AuditLog.js"
import { defaultLeadQueueId } from "../fakes/salesforce.js"
import { memoryEnv, sampleLead } from "../support/env.js"
import { salesforceAgainstFake } from "../support/salesforce.js"
import { awaitStatus, startConsumer, submit } from "../support/pipeline.js"

// The whole pipeline against a fake org as a new Salesforce org comes: the standard Lead duplicate rule (Alert) and an
// active Lead assignment rule. Before the adapter sent Sforce-Duplicate-Rule-Header and Sforce-Auto-Assign and fitted
// field lengths, the second lead here and the long-named one were FAILED.

const salesforceEnv = Effect.map(salesforceAgainstFake(), ({ fake, crm }) => ({
  fake,
  layer: Layer.merge(memoryEnv(), crm)
}))

describe("the pipeline against a default Salesforce org", () => {
  it.scopedLive(
    "the same person in a second campaign is SYNCED as a second Lead, assigned once by the org's rule",
    () =>
      Effect.gen(function* () {
        const { fake, layer } = yield* salesforceEnv
        yield* Effect.gen(function* () {
          const email = "returning.visitor@globex.com"
          const a = yield* submit(sampleLead({ email, campaignId: "spring" }))
          yield* startConsumer
          yield* awaitStatus(a.lead.id, ["SYNCED"], 15_000)
          const b = yield* submit(sampleLead({ email, campaignId: "autumn-webinar" }))
          yield* awaitStatus(b.lead.id, ["SYNCED"], 15_000)
          const leads = fake.records.Lead ?? []
          expect(leads).toHaveLength(2)
          expect(leads.every((lead) => lead.OwnerId === defaultLeadQueueId)).toBe(true)
          // one assignment per Lead (its creating upsert), none for the score, firmographics and status writes after it
          expect(fake.leadAssignments().map((run) => run.leadId)).toEqual(leads.map((lead) => lead.Id))
        }).pipe(Effect.provide(layer))
      })
  )

  it.scopedLive("a first name longer than Salesforce's 40 is SYNCED, shortened, and the audit row says so", () =>
    Effect.gen(function* () {
      const { fake, layer } = yield* salesforceEnv
      yield* Effect.gen(function* () {
        const firstName = "Maria-Fernanda Guadalupe de los Santos Rivera"
        const a = yield* submit(sampleLead({ firstName }))
        yield* startConsumer
        yield* awaitStatus(a.lead.id, ["SYNCED"], 15_000)
        expect(fake.records.Lead?.[0]?.FirstName).toBe(firstName.slice(0, 40))
        const rows = yield* Effect.flatMap(AuditLog, (audit) => audit.listForLead(a.lead.id))
        const upsert = rows.find((row) => row.tool === "upsert_lead")
        expect(upsert).toMatchObject({ status: "SUCCEEDED", result: { object: "Lead", shortened: ["FirstName"] } })
      }).pipe(Effect.provide(layer))
    })
  )

  it.scopedLive("a lead with every form field filled is SYNCED into the fields a default org has", () =>
    Effect.gen(function* () {
      // the fake refuses a field the org lacks (INVALID_FIELD), so a misspelt field name in the adapter fails here
      const { fake, layer } = yield* salesforceEnv
      yield* Effect.gen(function* () {
        const a = yield* submit(
          sampleLead({
            company: "Northwind",
            phone: "+49 30 1234567",
            website: "https://northwind.io",
            country: "Germany"
          })
        )
        yield* startConsumer
        yield* awaitStatus(a.lead.id, ["SYNCED"], 15_000)
        expect(fake.records.Lead?.[0]).toMatchObject({
          FirstName: "Ada",
          LastName: "Lovelace",
          Title: "VP Engineering",
          Company: "Northwind",
          Phone: "+49 30 1234567",
          Website: "https://northwind.io",
          Country: "Germany"
        })
      }).pipe(Effect.provide(layer))
    })
  )
})
