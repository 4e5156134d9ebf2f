import { Client } from "@hubspot/api-client"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as Ref from "effect/Ref"
import type { FakeHubSpot } from "../../fakes/hubspot.js"
import { call, email, key, ref, setup } from "./support.js"

const upsertLead = call({ tool: "upsert_lead", params: { ...ref, campaignId: "spring-2025", firstName: "Jane" } })
const convert = (convertedStatus: string, createOpportunity = false) =>
  call({ tool: "convert_lead", params: { ...ref, convertedStatus, createOpportunity } })

const upserts = (fake: FakeHubSpot) => fake.requests.filter((r) => r.path === "/crm/v3/objects/contacts/batch/upsert")

describe("HubSpot's search limit", () => {
  it.scopedLive("past its secondly limit a search waits one second; search answers carry no rate-limit headers", () =>
    Effect.gen(function* () {
      const { fake, crm } = yield* setup({}, { searchPerSecond: 2 })
      const match = call({ tool: "match_account", params: { ...ref, domain: "acme.com" } })
      yield* crm.execute(match)
      yield* crm.execute(match)
      const error = yield* Effect.flip(crm.execute(match))
      expect(error).toMatchObject({
        _tag: "CrmRateLimited",
        retryAfterMs: 1000,
        message: "You have reached your secondly limit."
      })
      expect(fake.searchThrottled()).toBe(1)
      // the fake answers search as HubSpot does: no X-HubSpot-RateLimit-* to read
      const answer = yield* Effect.promise(() =>
        fetch(`${fake.url}/crm/v3/objects/companies/search`, {
          method: "POST",
          headers: { authorization: "Bearer pat-na1-old", "content-type": "application/json" },
          body: JSON.stringify({ filterGroups: [] })
        })
      )
      expect([...answer.headers.keys()].filter((h) => h.startsWith("x-hubspot-ratelimit"))).toEqual([])
      // a second later the search goes through
      yield* Effect.sleep("1 second")
      expect(yield* crm.execute(match)).toMatchObject({ detail: { matched: false } })
    })
  )
})

describe("HubSpot's 409 naming the contact", () => {
  it.scopedLive(
    "an email that is another contact's secondary email updates that contact: no lead lost, none made",
    () =>
      Effect.gen(function* () {
        const { fake, crm } = yield* setup()
        fake.records.contacts = [
          {
            id: "501",
            properties: { email: "jane@acme-old.com", hs_additional_emails: email },
            createdAt: new Date().toISOString(),
            updatedAt: new Date().toISOString()
          }
        ]
        const result = yield* crm.execute(upsertLead)
        expect(result).toEqual({ crmId: "501", detail: { object: "contact", created: false } })
        expect(fake.records.contacts).toHaveLength(1)
        // the contact got the lead's values; its primary email stays
        expect(fake.records.contacts![0]!.properties).toMatchObject({
          email: "jane@acme-old.com",
          firstname: "Jane",
          revenueflow_lead_key: key
        })
        expect(fake.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
          "POST /crm/v3/objects/contacts/batch/upsert",
          "PATCH /crm/v3/objects/contacts/501"
        ])
      })
  )

  it.scopedLive("HubSpot's own 409 body for the whole batch: the named contact is updated", () =>
    Effect.gen(function* () {
      const { fake, crm } = yield* setup()
      yield* crm.execute(upsertLead)
      const id = fake.records.contacts![0]!.id
      fake.failNext({
        status: 409,
        body: {
          status: "error",
          message: `Contact already exists. Existing ID: ${id}`,
          correlationId: "00000000-0000-0000-0000-000000000000",
          category: "CONFLICT"
        }
      })
      const result = yield* crm.execute(
        call({
          tool: "set_lead_score",
          params: { ...ref, score: 70, intent: "HIGH", decision: "Route to SDR" } as never
        })
      )
      expect(result.crmId).toBe(id)
      expect(fake.records.contacts).toHaveLength(1)
      expect(fake.records.contacts![0]!.properties).toMatchObject({ revenueflow_score: "70" })
    })
  )
})

describe("convert_lead moves the lifecycle stage only forward", () => {
  it.scopedLive("a customer stays a customer, and the result says so", () =>
    Effect.gen(function* () {
      const { fake, crm } = yield* setup()
      yield* crm.execute(upsertLead)
      fake.records.contacts![0]!.properties.lifecyclestage = "customer"
      const result = yield* crm.execute(convert("OPEN_DEAL", true))
      expect(result.detail).toMatchObject({
        object: "contact",
        converted: false,
        lifecycleStage: "customer",
        leadStatus: "OPEN_DEAL"
      })
      expect(fake.records.contacts![0]!.properties).toMatchObject({
        lifecyclestage: "customer",
        hs_lead_status: "OPEN_DEAL"
      })
      // no backward stage was sent
      expect(upserts(fake).at(-1)?.json).toEqual({
        inputs: [{ idProperty: "email", id: email, properties: { email, hs_lead_status: "OPEN_DEAL" } }]
      })
    })
  )

  it.scopedLive("a lead moves forward; a new contact gets the stage", () =>
    Effect.gen(function* () {
      const { fake, crm } = yield* setup()
      const created = yield* crm.execute(convert("OPEN_DEAL"))
      expect(created.detail).toMatchObject({ converted: true, lifecycleStage: "salesqualifiedlead", created: true })
      const moved = yield* crm.execute(convert("OPEN_DEAL", true))
      expect(moved.detail).toMatchObject({ converted: true, lifecycleStage: "opportunity", created: false })
      expect(fake.records.contacts![0]!.properties.lifecyclestage).toBe("opportunity")
    })
  )

  it.scopedLive("the fake, like HubSpot, ignores a plain backward write of lifecyclestage", () =>
    Effect.gen(function* () {
      const { fake } = yield* setup()
      const client = new Client({ accessToken: "pat-na1-old", basePath: fake.url })
      const created = yield* Effect.promise(() =>
        client.crm.contacts.basicApi.create({ properties: { email, lifecyclestage: "customer" }, associations: [] })
      )
      const back = yield* Effect.promise(() =>
        client.crm.contacts.basicApi.update(created.id, { properties: { lifecyclestage: "lead" } })
      )
      expect(back.properties.lifecyclestage).toBe("customer")
      // cleared first, it can be set to an earlier stage
      yield* Effect.promise(() =>
        client.crm.contacts.basicApi.update(created.id, { properties: { lifecyclestage: "" } })
      )
      const reset = yield* Effect.promise(() =>
        client.crm.contacts.basicApi.update(created.id, { properties: { lifecyclestage: "lead" } })
      )
      expect(reset.properties.lifecyclestage).toBe("lead")
    })
  )

  it.scopedLive("a converted status HubSpot has no option for is fitted or left out and named, never refused", () =>
    Effect.gen(function* () {
      const { fake, crm } = yield* setup()
      // the catalog's old example: HubSpot refuses it with 400 INVALID_OPTION
      const salesforceStyle = yield* crm.execute(convert("Closed - Converted"))
      expect(salesforceStyle.detail).toMatchObject({
        converted: true,
        omitted: [{ property: "hs_lead_status", reason: expect.stringContaining("is not an option") }]
      })
      expect(fake.records.contacts![0]!.properties.hs_lead_status).toBeUndefined()
      // a label is fitted to its option's value
      const label = yield* crm.execute(convert("Open Deal", true))
      expect(label.detail).toMatchObject({ leadStatus: "OPEN_DEAL" })
      expect(fake.records.contacts![0]!.properties.hs_lead_status).toBe("OPEN_DEAL")
    })
  )
})

describe("another @hubspot/api-client Client in the process", () => {
  const failure = { status: 500, body: { status: "error", message: "internal error", category: "INTERNAL_ERROR" } }

  it.scopedLive("cannot add retries to the adapter's calls: one action, one request", () =>
    Effect.gen(function* () {
      const { fake, crm } = yield* setup()
      // an embedding app's client, made after the adapter: HubSpot's Client sets process-wide decorators
      new Client({ accessToken: "pat-na1-app", basePath: fake.url, numberOfApiCallRetries: 3 })
      fake.failNext(failure, 1)
      const error = yield* Effect.flip(crm.execute(upsertLead))
      expect(error).toMatchObject({ _tag: "CrmTransientError", status: 500 })
      // no hidden retry the rate-limit budget never counted, none running after the action's deadline
      expect(fake.requests).toHaveLength(1)
      expect(fake.records.contacts ?? []).toHaveLength(0)
    })
  )

  it.scopedLive("keeps its own retries when the adapter connects again on a rotated token", () =>
    Effect.gen(function* () {
      const current = yield* Ref.make("pat-na1-old")
      const { fake, crm } = yield* setup({ accessToken: Effect.map(Ref.get(current), Redacted.make) })
      const other = new Client({ accessToken: "pat-na1-app", basePath: fake.url, numberOfApiCallRetries: 3 })
      fake.setTokens(["pat-na1-new", "pat-na1-app"])
      yield* Ref.set(current, "pat-na1-new")
      const { crmId } = yield* crm.execute(upsertLead)
      expect(fake.requests.map((r) => r.headers.authorization)).toEqual(["Bearer pat-na1-old", "Bearer pat-na1-new"])
      fake.requests.length = 0

      // the app's client still retries as it was told: the adapter's connecting did not replace its decorators
      fake.failNext(failure, 1)
      const read = yield* Effect.promise(() => other.crm.contacts.basicApi.getById(crmId!, ["email"]))
      expect(read.properties.email).toBe(email)
      expect(fake.requests).toHaveLength(2)
    })
  )
})
