import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as HubSpot from "../../../layers/hubspot/CrmExecutor.js"
import { type HubSpotOptions, defaultProperties } from "../../../layers/hubspot/config.js"
import { leadKey } from "../../../src/domain/leadKey.js"
import { type CrmAction, actionKey, type ParamsOf } from "../../../src/domain/tools.js"
import { AuditLog } from "../../../services/AuditLog.js"
import type { CrmCall } from "../../../services/CrmExecutor.js"
import { type FakeHubSpotOptions, startFakeHubSpot } from "../../fakes/hubspot.js"
import { memoryEnv, sampleLead } from "../../support/env.js"
import { awaitStatus, startConsumer, submit } from "../../support/pipeline.js"
import { hubSpotAgainstFake } from "../../support/hubspot.js"

const email = "jane.doe@acme.com"
const key = leadKey(email, "spring-2025")
const call = (action: CrmAction): CrmCall => ({ ...action, actionKey: actionKey(key, action.tool, action.params) })
const sync = (params: Omit<ParamsOf<"sync_firmographics">, "leadKey" | "email">) =>
  call({ tool: "sync_firmographics", params: { leadKey: key, email, ...params } })

const setup = (fakeOptions: FakeHubSpotOptions = {}, options: Partial<HubSpotOptions> = {}) =>
  Effect.gen(function* () {
    const fake = yield* Effect.acquireRelease(
      Effect.promise(() => startFakeHubSpot(fakeOptions)),
      (f) => Effect.promise(() => f.close())
    )
    const crm = yield* HubSpot.make({
      baseUrl: fake.url,
      accessToken: Redacted.make("pat-na1-fake-token"),
      timeoutMs: 2000,
      properties: defaultProperties,
      ...options
    })
    const definitionReads = () => fake.requests.filter((r) => r.path.startsWith("/crm/v3/properties/")).length
    const company = (domain: string) => fake.records.companies?.find((c) => c.properties.domain === domain)?.properties
    return { fake, crm, definitionReads, company }
  })

describe("sync_firmographics writes what the portal's property definitions allow", () => {
  it.scopedLive("maps an industry label or value to its option, writes numbers, reads the definitions once", () =>
    Effect.gen(function* () {
      const { crm, definitionReads, company } = yield* setup()
      const labelled = yield* crm.execute(
        sync({ industry: "Computer Software", employees: 250, annualRevenue: 5e7, country: "US", domain: "acme.com" })
      )
      expect(company("acme.com")).toMatchObject({
        industry: "COMPUTER_SOFTWARE",
        numberofemployees: "250",
        annualrevenue: "50000000",
        country: "US"
      })
      expect(labelled.detail).not.toHaveProperty("omitted")
      yield* crm.execute(sync({ industry: "FINANCIAL_SERVICES", domain: "globex.com" }))
      expect(company("globex.com")?.industry).toBe("FINANCIAL_SERVICES")
      // free text matching no option is left out, never guessed; the rest is written and the action succeeds
      const fintech = yield* crm.execute(sync({ industry: "Fintech", employees: 40, domain: "initech.com" }))
      expect(company("initech.com")).toMatchObject({ numberofemployees: "40" })
      expect(company("initech.com")).not.toHaveProperty("industry")
      expect(fintech.detail).toMatchObject({
        object: "company",
        omitted: [{ property: "industry", reason: '"Fintech" is not an option of companies.industry' }]
      })
      expect(definitionReads()).toBe(1)
    })
  )

  it.scopedLive("without a domain: contacts take industry as text and have no numberofemployees, said in detail", () =>
    Effect.gen(function* () {
      const { fake, crm, definitionReads } = yield* setup()
      const result = yield* crm.execute(sync({ industry: "Fintech", employees: 250, annualRevenue: 5e7 }))
      expect(fake.records.contacts![0]!.properties).toEqual({ email, industry: "Fintech", annualrevenue: "50000000" })
      expect(result.detail).toEqual({
        object: "contact",
        created: true,
        omitted: [{ property: "numberofemployees", reason: "contacts.numberofemployees does not exist" }]
      })
      yield* crm.execute(sync({ industry: "Fintech", employees: 260 }))
      expect(fake.requests.filter((r) => r.path === "/crm/v3/properties/contacts")).toHaveLength(1)
      expect(definitionReads()).toBe(1)
    })
  )

  it.scopedLive(
    "a text property named by HUBSPOT_INDUSTRY_PROPERTY takes the text; a refused write drops the cache",
    () =>
      Effect.gen(function* () {
        const industryText = {
          name: "revenueflow_industry",
          label: "Industry (text)",
          type: "string",
          fieldType: "text"
        } as const
        const { fake, crm, definitionReads, company } = yield* setup(
          { properties: { companies: [industryText] } },
          { properties: { ...defaultProperties, industry: "revenueflow_industry" } }
        )
        yield* crm.execute(sync({ industry: "Fintech", domain: "acme.com" }))
        expect(company("acme.com")?.revenueflow_industry).toBe("Fintech")
        // an admin deletes the property: the kept definitions still name it, so HubSpot refuses the write; refused
        // under definitions kept from an earlier call, that is transient (the lead is retried, not failed)...
        fake.properties.companies!.delete("revenueflow_industry")
        const refused = yield* Effect.flip(crm.execute(sync({ industry: "Insurtech", domain: "acme.com" })))
        expect(refused).toMatchObject({ _tag: "CrmTransientError", code: "PROPERTY_DEFINITIONS_CHANGED" })
        expect(refused.message).toContain("PROPERTY_DOESNT_EXIST")
        expect(definitionReads()).toBe(1)
        // ...and the refusal dropped them: the retry reads them again and leaves the property out
        const next = yield* crm.execute(sync({ industry: "Insurtech", domain: "acme.com" }))
        expect(definitionReads()).toBe(2)
        expect(next.detail).toMatchObject({
          omitted: [{ property: "revenueflow_industry", reason: "companies.revenueflow_industry does not exist" }]
        })
        expect(company("acme.com")?.revenueflow_industry).toBe("Fintech")
      })
  )

  it.scopedLive(
    "a failed definitions read fails the action like a failed write, and nothing unchecked is written",
    () =>
      Effect.gen(function* () {
        const { fake, crm } = yield* setup()
        fake.failNext(
          { status: 503, body: { status: "error", message: "Service unavailable", category: "SERVICE_UNAVAILABLE" } },
          1,
          (req) => req.path.startsWith("/crm/v3/properties/")
        )
        const error = yield* Effect.flip(crm.execute(sync({ industry: "Software", domain: "acme.com" })))
        expect(error).toMatchObject({ _tag: "CrmTransientError", status: 503 })
        expect(fake.requests.map((r) => r.path)).toEqual(["/crm/v3/properties/companies"])
        // the failure was not kept: the retry reads them and syncs
        yield* crm.execute(sync({ industry: "Software", domain: "acme.com" }))
        expect(fake.records.companies).toHaveLength(1)
      })
  )

  it.scopedLive("a write refused under definitions read for that very call stands: permanent, the cache dropped", () =>
    Effect.gen(function* () {
      const { crm, definitionReads } = yield* setup()
      const bad = call({
        tool: "sync_firmographics",
        params: { leadKey: key, email: "not-an-email", industry: "Computer Software" }
      })
      const refused = yield* Effect.flip(crm.execute(bad))
      expect(refused).toMatchObject({ _tag: "CrmPermanentError", code: "VALIDATION_ERROR" })
      expect(definitionReads()).toBe(1)
      yield* crm.execute(sync({ industry: "Computer Software" }))
      expect(definitionReads()).toBe(2)
    })
  )

  it.scopedLive("with nothing to fit, no definitions are read and a refusal stands", () =>
    Effect.gen(function* () {
      const { crm, definitionReads } = yield* setup()
      const bad = call({ tool: "sync_firmographics", params: { leadKey: key, email: "not-an-email" } })
      expect(yield* Effect.flip(crm.execute(bad))).toMatchObject({
        _tag: "CrmPermanentError",
        code: "VALIDATION_ERROR"
      })
      expect(definitionReads()).toBe(0)
    })
  )

  it.scopedLive("the definitions read is one of the action's calls: a company sync needing 7 waits for room", () =>
    Effect.gen(function* () {
      const { fake, crm } = yield* setup({ burstLimit: 8, burstIntervalMs: 60_000 })
      const company = sync({ industry: "Internet", domain: "hooli.com" })
      expect(crm.callCost!(company)).toBe(7)
      expect(crm.callCost!(sync({ industry: "Internet" }))).toBe(2)
      const lead = call({ tool: "upsert_lead", params: { leadKey: key, email, campaignId: "spring-2025" } })
      yield* crm.execute(lead)
      yield* crm.execute(lead)
      // 6 calls left in HubSpot's window: read, search, upsert, reading the name, naming, contact and association
      // would be 7
      expect(yield* Effect.flip(crm.execute(company))).toMatchObject({ _tag: "CrmRateLimited" })
      expect(fake.requests).toHaveLength(2)
      expect(fake.throttled()).toBe(0)
    })
  )
})

describe("a lead whose enrichment HubSpot's options do not know", () => {
  it.scopedLive("ends SYNCED, the audit row naming what was left out", () =>
    Effect.gen(function* () {
      const { fake, crm } = yield* hubSpotAgainstFake()
      const rows = yield* Effect.gen(function* () {
        // the mock enricher calls globex.com "Software" (no option) and hooli.com "Internet" (option INTERNET)
        const leads = yield* Effect.forEach(["buyer@globex.com", "buyer@hooli.com"], (address) =>
          submit(sampleLead({ email: address }))
        )
        yield* startConsumer
        const done = yield* Effect.forEach(leads, ({ lead }) => awaitStatus(lead.id, ["SYNCED", "FAILED"], 15_000))
        expect(done.map((lead) => lead.status)).toEqual(["SYNCED", "SYNCED"])
        const audit = yield* AuditLog
        return (yield* Effect.forEach(done, (lead) => audit.listForLead(lead.id))).flat()
      }).pipe(Effect.provide(Layer.merge(memoryEnv(), crm)))

      const firmographics = rows.filter((row) => row.tool === "sync_firmographics")
      expect(firmographics.map((row) => row.status)).toEqual(["SUCCEEDED", "SUCCEEDED"])
      expect(firmographics[0]!.result).toMatchObject({
        omitted: [{ property: "industry", reason: '"Software" is not an option of companies.industry' }]
      })
      expect(firmographics[1]!.result).not.toHaveProperty("omitted")
      const companies = new Map((fake.records.companies ?? []).map((c) => [c.properties.domain, c.properties]))
      expect(companies.get("globex.com")).toMatchObject({ numberofemployees: "1800", annualrevenue: "420000000" })
      expect(companies.get("globex.com")).not.toHaveProperty("industry")
      expect(companies.get("hooli.com")).toMatchObject({ industry: "INTERNET" })
    })
  )
})
