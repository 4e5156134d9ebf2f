import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import { make } from "../../../layers/hubspot/CrmExecutor.js"
import { type HubSpotOptions, defaultProperties } from "../../../layers/hubspot/config.js"
import { leadKey } from "../../../src/domain/leadKey.js"
import { type CrmAction, actionKey } from "../../../src/domain/tools.js"
import type { CrmCall } from "../../../services/CrmExecutor.js"
import { type FakeHubSpot, type FakeHubSpotOptions, startFakeHubSpot } from "../../fakes/hubspot.js"

const email = "jane.doe@acme.com"
const key = leadKey(email, "spring-2025")
const ref = { leadKey: key, email }
const token = "pat-na1-fake-token"

const call = (action: CrmAction): CrmCall => ({ ...action, actionKey: actionKey(key, action.tool, action.params) })
const upsertLead = call({
  tool: "upsert_lead",
  params: { ...ref, campaignId: "spring-2025", firstName: "Jane", title: "CTO" }
})

const setupHubSpot = (overrides: Partial<HubSpotOptions> = {}, fakeOptions: FakeHubSpotOptions = {}) =>
  Effect.gen(function* () {
    const fake = yield* Effect.acquireRelease(
      Effect.promise(() => startFakeHubSpot(fakeOptions)),
      (f) => Effect.promise(() => f.close())
    )
    const crm = yield* make({
      baseUrl: fake.url,
      accessToken: Redacted.make(token),
      timeoutMs: 2000,
      properties: defaultProperties,
      ...overrides
    })
    return { fake, crm }
  })

/** A company made in HubSpot by hand (without our key), as its UI or another tool makes one. */
const madeInHubSpot = (fake: FakeHubSpot, properties: Record<string, string>) =>
  Effect.promise(() =>
    fetch(`${fake.url}/crm/v3/objects/companies`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ properties })
    }).then((r) => r.json() as Promise<{ id: string }>)
  )

const nth = (fake: FakeHubSpot, fromEnd: number) => fake.requests[fake.requests.length - fromEnd]!
const upsertBody = (idProperty: string, id: string, properties: Record<string, string>) => ({
  inputs: [{ idProperty, id, properties }]
})

describe("HubSpot executor (@hubspot/api-client against the fake)", () => {
  it.scopedLive("upserts the contact by email through batch upsert; twice leaves one contact", () =>
    Effect.gen(function* () {
      const { fake, crm } = yield* setupHubSpot()
      const first = yield* crm.execute(upsertLead)
      const req = nth(fake, 1)
      expect(req.method).toBe("POST")
      expect(req.path).toBe("/crm/v3/objects/contacts/batch/upsert")
      expect(req.headers.authorization).toBe(`Bearer ${token}`)
      expect(req.headers["content-type"]).toContain("application/json")
      expect(req.json).toEqual(
        upsertBody("email", email, { email, firstname: "Jane", jobtitle: "CTO", revenueflow_lead_key: key })
      )
      expect(first.detail).toEqual({ object: "contact", created: true })
      const second = yield* crm.execute(upsertLead)
      expect(second).toEqual({ crmId: first.crmId, detail: { object: "contact", created: false } })
      expect(fake.records.contacts).toHaveLength(1)
      expect(fake.requests).toHaveLength(2)
    })
  )

  it.scopedLive("writes score, status and (without a domain) firmographics as contact properties", () =>
    Effect.gen(function* () {
      const { fake, crm } = yield* setupHubSpot()
      yield* crm.execute(
        call({
          tool: "set_lead_score",
          params: { ...ref, score: 82, intent: "HIGH", decision: "Route to SDR" } as never
        })
      )
      expect(nth(fake, 1).json).toEqual(
        upsertBody("email", email, {
          email,
          revenueflow_score: "82",
          revenueflow_intent: "HIGH",
          revenueflow_decision: "Route to SDR"
        })
      )
      yield* crm.execute(call({ tool: "update_lead_status", params: { ...ref, status: "Working" } }))
      expect(nth(fake, 1).json).toEqual(upsertBody("email", email, { email, hs_lead_status: "IN_PROGRESS" }))
      const synced = yield* crm.execute(
        call({ tool: "sync_firmographics", params: { ...ref, industry: "Software", employees: 250 } })
      )
      // contacts' industry is free text; they have no numberofemployees (theirs, numemployees, is a range)
      expect(nth(fake, 2)).toMatchObject({ method: "GET", path: "/crm/v3/properties/contacts" })
      expect(nth(fake, 1).json).toEqual(upsertBody("email", email, { email, industry: "Software" }))
      expect(synced.detail).toEqual({
        object: "contact",
        created: false,
        omitted: [{ property: "numberofemployees", reason: "contacts.numberofemployees does not exist" }]
      })
      expect(fake.records.contacts).toHaveLength(1)
    })
  )

  it.scopedLive(
    "upserts the company by its unique key when search does not find the domain, and associates the contact",
    () =>
      Effect.gen(function* () {
        const { fake, crm } = yield* setupHubSpot()
        const sync = call({
          tool: "sync_firmographics",
          params: { ...ref, industry: "Software", annualRevenue: 5e7, domain: "acme.com" }
        })
        const created = yield* crm.execute(sync)
        const [definitions, search, upsertCompany, name, contact, associate] = fake.requests
        expect(definitions).toMatchObject({ method: "GET", path: "/crm/v3/properties/companies" })
        expect(search).toMatchObject({ method: "POST", path: "/crm/v3/objects/companies/search" })
        // the domain as given or with www. (HubSpot keeps a hand-typed domain as it was typed)
        expect((search!.json as { filterGroups: unknown }).filterGroups).toEqual([
          { filters: [{ propertyName: "domain", operator: "EQ", value: "acme.com" }] },
          { filters: [{ propertyName: "domain", operator: "EQ", value: "www.acme.com" }] }
        ])
        expect(upsertCompany).toMatchObject({ method: "POST", path: "/crm/v3/objects/companies/batch/upsert" })
        expect(upsertCompany!.json).toEqual(
          upsertBody("revenueflow_company_key", "acme.com", { domain: "acme.com", annualrevenue: "50000000" })
        )
        // companies' industry is an enumeration with no "Software" option: left out, and said so
        expect(created.detail).toMatchObject({
          omitted: [{ property: "industry", reason: '"Software" is not an option of companies.industry' }]
        })
        // the name only when the upsert created the company, so a name edited in HubSpot is never overwritten
        expect(name).toMatchObject({
          method: "PATCH",
          path: `/crm/v3/objects/companies/${created.crmId}`,
          json: { properties: { name: "acme.com" } }
        })
        expect(contact!.path).toBe("/crm/v3/objects/contacts/batch/upsert")
        const contactId = fake.records.contacts![0]!.id
        expect(associate).toMatchObject({
          method: "PUT",
          path: `/crm/v4/objects/contacts/${contactId}/associations/default/companies/${created.crmId}`
        })
        // search lags the new company by seconds (the fake's default): the second sync reaches it by its key
        const before = fake.requests.length
        const again = yield* crm.execute(sync)
        expect(again.crmId).toBe(created.crmId)
        expect(fake.requests.slice(before).map((r) => `${r.method} ${r.path}`)).toEqual([
          "POST /crm/v3/objects/companies/search",
          "POST /crm/v3/objects/companies/batch/upsert",
          `GET /crm/v3/objects/companies/${created.crmId}`,
          "POST /crm/v3/objects/contacts/batch/upsert",
          `PUT /crm/v4/objects/contacts/${contactId}/associations/default/companies/${created.crmId}`
        ])
        expect(fake.records.companies).toHaveLength(1)
        expect(fake.associations).toEqual(new Set([`contacts:${contactId}->companies:${created.crmId}`]))

        const matched = yield* crm.execute(call({ tool: "match_account", params: { ...ref, domain: "acme.com" } }))
        expect(matched).toEqual({ crmId: created.crmId, detail: { object: "company", matched: true } })
        const none = yield* crm.execute(call({ tool: "match_account", params: { ...ref, domain: "globex.io" } }))
        expect(none.detail).toEqual({ object: "company", matched: false })
      })
  )

  it.scopedLive("uses a company made in HubSpot (found by domain, no key) instead of creating a second one", () =>
    Effect.gen(function* () {
      // no search lag: the company was made in HubSpot long before the lead came, so search has indexed it
      const { fake, crm } = yield* setupHubSpot({}, { searchLagMs: 0 })
      const made = yield* madeInHubSpot(fake, { domain: "acme.com", name: "Acme Corporation" })
      const synced = yield* crm.execute(
        call({ tool: "sync_firmographics", params: { ...ref, employees: 250, domain: "acme.com" } })
      )
      expect(synced.crmId).toBe(made.id)
      expect(fake.records.companies).toHaveLength(1)
      expect(fake.records.companies![0]!.properties).toEqual({
        domain: "acme.com",
        name: "Acme Corporation",
        numberofemployees: "250"
      })
    })
  )

  it.scopedLive("finds a company made in HubSpot as www.<domain>: the sync updates it, no second company", () =>
    Effect.gen(function* () {
      const { fake, crm } = yield* setupHubSpot({}, { searchLagMs: 0 })
      const made = yield* madeInHubSpot(fake, { domain: "www.acme.com", name: "Acme Corporation" })
      const matched = yield* crm.execute(call({ tool: "match_account", params: { ...ref, domain: "acme.com" } }))
      expect(matched).toEqual({ crmId: made.id, detail: { object: "company", matched: true } })
      const synced = yield* crm.execute(
        call({ tool: "sync_firmographics", params: { ...ref, employees: 250, domain: "acme.com" } })
      )
      expect(synced.crmId).toBe(made.id)
      expect(fake.records.companies!.map((c) => c.properties)).toEqual([
        { domain: "www.acme.com", name: "Acme Corporation", numberofemployees: "250" }
      ])
    })
  )

  it.scopedLive("of two companies made in HubSpot with one domain, syncs and matches use the oldest", () =>
    Effect.gen(function* () {
      // no search lag: both were made in HubSpot long before the lead came, so search has indexed them
      const { fake, crm } = yield* setupHubSpot({}, { searchLagMs: 0 })
      const make = (name: string) => madeInHubSpot(fake, { domain: "acme.com", name })
      const oldest = yield* make("Acme Corporation")
      yield* make("Acme (duplicate)")
      const matched = yield* crm.execute(call({ tool: "match_account", params: { ...ref, domain: "acme.com" } }))
      expect(matched).toEqual({ crmId: oldest.id, detail: { object: "company", matched: true } })
      const synced = yield* crm.execute(
        call({ tool: "sync_firmographics", params: { ...ref, employees: 250, domain: "acme.com" } })
      )
      expect(synced.crmId).toBe(oldest.id)
      expect(fake.records.companies!.map((c) => c.properties.numberofemployees)).toEqual(["250", undefined])
    })
  )

  it.scopedLive("match_account finds the company a sync just upserted by its key while search still lags", () =>
    Effect.gen(function* () {
      const { crm } = yield* setupHubSpot({}, { searchLagMs: 60_000 })
      const synced = yield* crm.execute(call({ tool: "sync_firmographics", params: { ...ref, domain: "acme.com" } }))
      const matched = yield* crm.execute(call({ tool: "match_account", params: { ...ref, domain: "acme.com" } }))
      expect(matched).toEqual({ crmId: synced.crmId, detail: { object: "company", matched: true } })
      const none = yield* crm.execute(call({ tool: "match_account", params: { ...ref, domain: "globex.io" } }))
      expect(none).toEqual({ crmId: undefined, detail: { object: "company", matched: false } })
    })
  )

  it.scopedLive("a retry while search still lags finds the company it created through the upsert key", () =>
    Effect.gen(function* () {
      const { fake, crm } = yield* setupHubSpot({}, { searchLagMs: 60_000 })
      const sync = call({ tool: "sync_firmographics", params: { ...ref, domain: "acme.com" } })
      const first = yield* crm.execute(sync)
      const second = yield* crm.execute(sync)
      expect(second).toEqual({ ...first, detail: { ...first.detail, created: false } })
      expect(fake.records.companies).toHaveLength(1)
    })
  )

  it.scopedLive(
    "a company an earlier attempt created but could not name is named on the retry, whether search finds it yet or not",
    () =>
      Effect.gen(function* () {
        // The first attempt's upsert created the company, then its answer was lost (or its process stopped) before the
        // name was sent: the company holds our key and domain, no name.
        const lagging = yield* setupHubSpot({}, { searchLagMs: 60_000 })
        // no search lag: the company was created long enough ago for search to have indexed it
        const indexed = yield* setupHubSpot({}, { searchLagMs: 0 })
        for (const { fake, crm } of [lagging, indexed]) {
          const made = yield* Effect.promise(() =>
            fetch(`${fake.url}/crm/v3/objects/companies/batch/upsert`, {
              method: "POST",
              headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
              body: JSON.stringify(upsertBody("revenueflow_company_key", "acme.com", { domain: "acme.com" }))
            }).then((r) => r.json() as Promise<{ results: Array<{ id: string }> }>)
          )
          const sync = call({ tool: "sync_firmographics", params: { ...ref, domain: "acme.com" } })
          const retried = yield* crm.execute(sync)
          expect(retried.crmId).toBe(made.results[0]!.id)
          expect(fake.records.companies).toHaveLength(1)
          expect(fake.records.companies![0]!.properties.name).toBe("acme.com")
          // a name given since, in HubSpot, is never overwritten by a later lead of the domain
          fake.records.companies![0]!.properties.name = "Acme Corporation"
          yield* crm.execute(sync)
          expect(fake.records.companies![0]!.properties.name).toBe("Acme Corporation")
        }
        // search lagging, the upsert said the company was not new: its name was read before it was set
        const reads = lagging.fake.requests.filter(
          (r) => r.method === "GET" && r.path.startsWith("/crm/v3/objects/companies/")
        )
        expect(reads.map((r) => r.query.getAll("properties"))).toEqual([["name"], ["name"]])
      })
  )

  it.scopedLive("creates tasks and notes by action key, associated to the contact, once each", () =>
    Effect.gen(function* () {
      const { fake, crm } = yield* setupHubSpot()
      const lead = yield* crm.execute(upsertLead)
      const task = call({
        tool: "create_task",
        params: { ...ref, subject: "Call Jane", priority: "High", dueDate: "2025-06-01" }
      })
      const done = yield* crm.execute(task)
      yield* crm.execute(task)
      expect(nth(fake, 2)).toMatchObject({ method: "POST", path: "/crm/v3/objects/tasks/batch/upsert" })
      expect(nth(fake, 2).json).toEqual(
        upsertBody("revenueflow_action_key", task.actionKey, {
          hs_timestamp: "2025-06-01T00:00:00.000Z",
          hs_task_subject: "Call Jane",
          hs_task_priority: "HIGH",
          hs_task_status: "NOT_STARTED"
        })
      )
      expect(nth(fake, 1)).toMatchObject({
        method: "PUT",
        path: `/crm/v4/objects/tasks/${done.crmId}/associations/default/contacts/${lead.crmId}`
      })
      expect(fake.records.tasks).toHaveLength(1)

      const note = call({ tool: "log_activity", params: { ...ref, subject: "Scored 82", description: "Fit: high" } })
      const logged = yield* crm.execute(note)
      expect(nth(fake, 2).path).toBe("/crm/v3/objects/notes/batch/upsert")
      const props = (nth(fake, 2).json as { inputs: Array<{ properties: Record<string, string> }> }).inputs[0]!
        .properties
      // HubSpot holds a note's body as HTML: the lines are <br>-separated
      expect(props.hs_note_body).toBe("Scored 82<br><br>Fit: high")
      expect(Date.parse(props.hs_timestamp!)).not.toBeNaN()
      expect(fake.associations.has(`notes:${logged.crmId}->contacts:${lead.crmId}`)).toBe(true)
    })
  )

  it.scopedLive("creates a deal by action key, moves its stage, creates a contact and converts", () =>
    Effect.gen(function* () {
      const { fake, crm } = yield* setupHubSpot()
      const lead = yield* crm.execute(upsertLead)
      const company = yield* crm.execute(call({ tool: "sync_firmographics", params: { ...ref, domain: "acme.com" } }))
      const opp = call({
        tool: "create_opportunity",
        params: {
          ...ref,
          name: "Acme - New",
          stage: "appointmentscheduled",
          closeDate: "2025-09-30",
          amount: 12000,
          accountId: company.crmId!
        }
      })
      const deal = yield* crm.execute(opp)
      yield* crm.execute(opp)
      expect(fake.records.deals).toHaveLength(1)
      const dealUpsert = fake.requests.filter((r) => r.path === "/crm/v3/objects/deals/batch/upsert")
      expect(dealUpsert).toHaveLength(2)
      expect(dealUpsert[0]!.json).toEqual(
        upsertBody("revenueflow_action_key", opp.actionKey, {
          dealname: "Acme - New",
          dealstage: "appointmentscheduled",
          closedate: "2025-09-30",
          amount: "12000",
          pipeline: "default"
        })
      )
      expect(fake.associations.has(`deals:${deal.crmId}->contacts:${lead.crmId}`)).toBe(true)
      expect(fake.associations.has(`deals:${deal.crmId}->companies:${company.crmId}`)).toBe(true)

      yield* crm.execute(
        call({ tool: "update_opportunity_stage", params: { ...ref, opportunityId: deal.crmId!, stage: "closedwon" } })
      )
      expect(nth(fake, 1)).toMatchObject({
        method: "PATCH",
        path: `/crm/v3/objects/deals/${deal.crmId}`,
        json: { properties: { dealstage: "closedwon" } }
      })

      yield* crm.execute(
        call({ tool: "create_contact", params: { ...ref, lastName: "Doe", accountId: company.crmId! } })
      )
      expect(nth(fake, 2).json).toEqual(
        upsertBody("email", email, { email, lastname: "Doe", revenueflow_lead_key: key })
      )
      const converted = yield* crm.execute(
        call({ tool: "convert_lead", params: { ...ref, convertedStatus: "CONNECTED", createOpportunity: true } })
      )
      expect(nth(fake, 1).json).toEqual(
        upsertBody("email", email, { email, lifecyclestage: "opportunity", hs_lead_status: "CONNECTED" })
      )
      expect(converted).toEqual({
        crmId: lead.crmId,
        detail: {
          object: "contact",
          created: false,
          converted: true,
          lifecycleStage: "opportunity",
          leadStatus: "CONNECTED"
        }
      })
      expect(fake.records.contacts).toHaveLength(1)
    })
  )

  it.scopedLive("reports the daily quota and the burst interval usage to onApiUsage", () =>
    Effect.gen(function* () {
      const usage: Array<[number, number, string]> = []
      const { crm } = yield* setupHubSpot({
        onApiUsage: (used, limit, window) => Effect.sync(() => usage.push([used, limit, window]))
      })
      yield* crm.execute(upsertLead)
      yield* crm.execute(upsertLead)
      expect(usage).toEqual([
        [1, 250000, "daily"],
        [1, 190, "interval"],
        [2, 250000, "daily"],
        [2, 190, "interval"]
      ])
    })
  )

  it.scopedLive("holds an action back when X-HubSpot-RateLimit-Remaining says its calls would not fit", () =>
    Effect.gen(function* () {
      const fake = yield* Effect.acquireRelease(
        Effect.promise(() => startFakeHubSpot({ burstLimit: 4, burstIntervalMs: 60_000 })),
        (f) => Effect.promise(() => f.close())
      )
      const crm = yield* make({
        baseUrl: fake.url,
        accessToken: Redacted.make(token),
        timeoutMs: 2000,
        properties: defaultProperties
      })
      yield* crm.execute(upsertLead)
      // 3 calls left: a note (contact, note, association) fits, then nothing does
      const note = call({ tool: "log_activity", params: { ...ref, subject: "s", description: "d" } })
      yield* crm.execute(note)
      const refused = yield* Effect.flip(crm.execute(upsertLead))
      expect(refused._tag).toBe("CrmRateLimited")
      expect(refused._tag === "CrmRateLimited" && refused.retryAfterMs).toBeGreaterThan(50_000)
      expect(yield* Effect.flip(crm.admit!(upsertLead))).toMatchObject({ _tag: "CrmRateLimited" })
      expect(fake.requests).toHaveLength(4)
      expect(fake.throttled()).toBe(0)
    })
  )
})
