import { describe, expect, it } from "@effect/vitest"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as HubSpot from "../../layers/hubspot/CrmExecutor.js"
import { defaultProperties } from "../../layers/hubspot/config.js"
import * as Salesforce from "../../layers/salesforce/CrmExecutor.js"
import { defaultFields } from "../../layers/salesforce/config.js"
import { AuditLog } from "../../services/AuditLog.js"
import type { CrmExecutor } from "../../services/CrmExecutor.js"
import { startFakeHubSpot } from "../fakes/hubspot.js"
import { startFakeSalesforce } from "../fakes/salesforce.js"
import { memoryEnv, sampleLead } from "../support/env.js"
import { awaitStatus, startConsumer, submit } from "../support/pipeline.js"

/** A Medium Fit lead: the heuristic analyser decides Nurture, so the plan ends with update_lead_status. */
const nurtureLead = sampleLead({
  email: "alan@globex.com",
  company: "Globex",
  title: "Analyst",
  activity: { pageViews: 3 }
})

/** One Nurture lead through the memory pipeline with `crm` as the CRM; its final record and audit rows. */
const runNurture = (crm: Layer.Layer<CrmExecutor, unknown>) =>
  Effect.gen(function* () {
    const { lead } = yield* submit(nurtureLead)
    yield* startConsumer
    const done = yield* awaitStatus(lead.id, ["SYNCED", "FAILED"], 15_000)
    const rows = yield* Effect.flatMap(AuditLog, (audit) => audit.listForLead(lead.id))
    return { done, rows }
  }).pipe(Effect.provide(Layer.merge(memoryEnv(), crm)))

const fakeHubSpot = Effect.acquireRelease(
  Effect.promise(() => startFakeHubSpot()),
  (f) => Effect.promise(() => f.close())
)
const fakeSalesforce = Effect.acquireRelease(
  Effect.promise(() => startFakeSalesforce({ clientId: "rf", clientSecret: "s3cret", validTokens: ["00Dtoken"] })),
  (f) => Effect.promise(() => f.close())
)
const withEnv = (env: Record<string, string>) =>
  Layer.setConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env))))

describe("a Nurture lead writes each CRM's own lead status value", () => {
  it.scopedLive("HubSpot refuses a value outside hs_lead_status's options with 400 INVALID_OPTION", () =>
    Effect.gen(function* () {
      const fake = yield* fakeHubSpot
      const res = yield* Effect.promise(() =>
        fetch(`${fake.url}/crm/v3/objects/contacts/batch/upsert`, {
          method: "POST",
          headers: { authorization: "Bearer pat-na1-fake-token", "content-type": "application/json" },
          body: JSON.stringify({
            inputs: [{ idProperty: "email", id: "a@b.com", properties: { hs_lead_status: "Nurturing" } }]
          })
        }).then(async (r) => ({ status: r.status, body: (await r.json()) as Record<string, unknown> }))
      )
      expect(res.status).toBe(400)
      expect(res.body.category).toBe("VALIDATION_ERROR")
      expect(res.body.message).toContain('"error":"INVALID_OPTION"')
      expect(res.body.message).toContain("Nurturing was not one of the allowed options")
      expect(fake.records.contacts ?? []).toEqual([])
    })
  )

  it.scopedLive("Salesforce refuses a value outside the Lead Status picklist", () =>
    Effect.gen(function* () {
      const fake = yield* fakeSalesforce
      const res = yield* Effect.promise(() =>
        fetch(`${fake.url}/services/data/v62.0/sobjects/Lead/RevenueFlow_Key__c/k1`, {
          method: "PATCH",
          headers: { authorization: "Bearer 00Dtoken", "content-type": "application/json" },
          body: JSON.stringify({ LastName: "Doe", Company: "Acme", Status: "Nurturing" })
        }).then(async (r) => ({ status: r.status, body: (await r.json()) as Record<string, unknown> }))
      )
      expect(res.status).toBe(400)
      expect(res.body).toEqual([
        {
          message: "Status: bad value for restricted picklist field: Nurturing",
          errorCode: "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
          fields: ["Status"]
        }
      ])
    })
  )

  it.scopedLive("HubSpot: the lead is SYNCED with hs_lead_status BAD_TIMING", () =>
    Effect.gen(function* () {
      const fake = yield* fakeHubSpot
      const crm = HubSpot.layer({
        baseUrl: fake.url,
        accessToken: Redacted.make("pat-na1-fake-token"),
        timeoutMs: 2000,
        properties: defaultProperties
      })
      const { done, rows } = yield* runNurture(crm)
      expect(done.analysis?.decision).toBe("Nurture")
      expect(done.status).toBe("SYNCED")
      const status = rows.find((r) => r.tool === "update_lead_status")
      expect(status).toMatchObject({ status: "SUCCEEDED", params: { status: "Nurture" } })
      expect(status?.result).toMatchObject({ leadStatus: "BAD_TIMING" })
      expect(fake.records.contacts?.[0]?.properties.hs_lead_status).toBe("BAD_TIMING")
    })
  )

  it.scopedLive("Salesforce: the lead is SYNCED with Status 'Open - Not Contacted'", () =>
    Effect.gen(function* () {
      const fake = yield* fakeSalesforce
      const crm = Salesforce.layer({
        loginUrl: fake.url,
        apiVersion: "62.0",
        auth: { _tag: "ClientCredentials", clientId: "rf", clientSecret: Redacted.make("s3cret") },
        timeoutMs: 2000,
        fields: defaultFields
      })
      const { done, rows } = yield* runNurture(crm)
      expect(done.analysis?.decision).toBe("Nurture")
      expect(done.status).toBe("SYNCED")
      expect(rows.find((r) => r.tool === "update_lead_status")?.result).toMatchObject({
        leadStatus: "Open - Not Contacted"
      })
      expect(fake.records.Lead?.[0]?.Status).toBe("Open - Not Contacted")
    })
  )

  it.scopedLive("HUBSPOT_LEAD_STATUS_MAP chooses the value written for a planned status", () =>
    Effect.gen(function* () {
      const fake = yield* fakeHubSpot
      const env = {
        HUBSPOT_BASE_URL: fake.url,
        HUBSPOT_ACCESS_TOKEN: "pat-na1-fake-token",
        HUBSPOT_LEAD_STATUS_MAP: "Nurture=IN_PROGRESS, Working=CONNECTED"
      }
      const { done } = yield* runNurture(HubSpot.layerConfig.pipe(Layer.provide(withEnv(env))))
      expect(done.status).toBe("SYNCED")
      expect(fake.records.contacts?.[0]?.properties.hs_lead_status).toBe("IN_PROGRESS")
    })
  )

  it.effect("a status map naming an unknown planned status, or an empty value, fails start-up naming the key", () =>
    Effect.gen(function* () {
      const hubspot = yield* Effect.exit(
        Layer.build(
          HubSpot.layerConfig.pipe(
            Layer.provide(
              withEnv({
                HUBSPOT_ACCESS_TOKEN: "pat-na1-x",
                HUBSPOT_LEAD_STATUS_MAP: "Nurturing=IN_PROGRESS,Working="
              })
            )
          )
        ).pipe(Effect.scoped)
      )
      expect(Exit.isFailure(hubspot)).toBe(true)
      const text = String(Exit.isFailure(hubspot) ? hubspot.cause : "")
      expect(text).toContain("HUBSPOT_LEAD_STATUS_MAP")
      expect(text).toContain('"Nurturing" is not a planned status')
      expect(text).toContain("Working needs a value")
      const salesforce = yield* Effect.exit(
        Layer.build(
          Salesforce.layerConfig.pipe(
            Layer.provide(
              withEnv({
                SALESFORCE_ACCESS_TOKEN: "00Dx",
                SALESFORCE_INSTANCE_URL: "http://127.0.0.1:9",
                SALESFORCE_LEAD_STATUS_MAP: "Closed=Closed - Converted"
              })
            )
          )
        ).pipe(Effect.scoped)
      )
      expect(String(Exit.isFailure(salesforce) ? salesforce.cause : "")).toContain("SALESFORCE_LEAD_STATUS_MAP")
    })
  )
})
