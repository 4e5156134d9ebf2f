import { describe, expect, it } from "@effect/vitest"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import { type SalesforceOptions, defaultFields, salesforceConfig } from "../../../layers/salesforce/config.js"
import { make } from "../../../layers/salesforce/CrmExecutor.js"
import { leadKey } from "../../../src/domain/leadKey.js"
import { actionKey } from "../../../src/domain/tools.js"
import {
  type FakeSalesforce,
  type FakeSalesforceOptions,
  defaultLeadQueueId,
  id18,
  integrationUserId
} from "../../fakes/salesforce.js"
import { base, call, orgWithExecutor, ref } from "./org.js"

// What a real org refuses that the fake once stored: converting a queue's Lead without naming a user to own what the
// conversion creates, ids that are malformed, of the wrong object or of no record, numbers and texts beyond their
// fields' limits, days outside 1700-4000.

const token = "00DFAKE!static"
const upsertLead = call({ tool: "upsert_lead", params: { ...ref, campaignId: "spring-2025", firstName: "Jane" } })
const convert = (createOpportunity = true, accountId?: string) =>
  call({
    tool: "convert_lead",
    params: { ...ref, convertedStatus: "Closed - Converted", createOpportunity, ...(accountId ? { accountId } : {}) }
  })
/** A user of the org besides the integration user. */
const rep = "005000000000042"

const setup = (
  options: Omit<FakeSalesforceOptions, "clientId" | "clientSecret"> = {},
  overrides: Partial<SalesforceOptions> = {}
) => orgWithExecutor({ validTokens: [token], ...options }, overrides)

/** A raw REST call with the static session, for what the fake answers by itself. */
const raw = (fake: FakeSalesforce, method: string, path: string, body?: object) =>
  Effect.promise(async () => {
    const response = await fetch(`${fake.url}${base}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      ...(body === undefined ? {} : { body: JSON.stringify(body) })
    })
    const text = await response.text()
    return { status: response.status, body: text === "" ? undefined : (JSON.parse(text) as unknown) }
  })

const soapBodies = (fake: FakeSalesforce) =>
  fake
    .apiRequests()
    .filter((r) => r.path.startsWith("/services/Soap/"))
    .map((r) => r.body)
const ownersOfConverted = (fake: FakeSalesforce) =>
  ["Account", "Contact", "Opportunity"].map((type) => fake.records[type]?.[0]?.OwnerId)

describe("converting a Lead a queue owns (the fake's default assignment rule gives new Leads to a queue)", () => {
  it.scopedLive("the fake refuses it without an ownerId, as Salesforce does: nothing converted", () =>
    Effect.gen(function* () {
      const { fake, crm } = yield* setup()
      yield* crm.execute(upsertLead)
      const lead = fake.records.Lead![0]!
      expect(lead.OwnerId).toBe(defaultLeadQueueId)
      const response = yield* Effect.promise(async () => {
        const res = await fetch(`${fake.url}/services/Soap/u/62.0`, {
          method: "POST",
          headers: { "content-type": "text/xml", soapaction: '""' },
          body: `<?xml version="1.0"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Header><SessionHeader><sessionId>${token}</sessionId></SessionHeader></soapenv:Header><soapenv:Body><convertLead><leadConverts><convertedStatus>Closed - Converted</convertedStatus><doNotCreateOpportunity>false</doNotCreateOpportunity><leadId>${lead.Id}</leadId></leadConverts></convertLead></soapenv:Body></soapenv:Envelope>`
        })
        return res.text()
      })
      expect(response).toContain("<statusCode>UNKNOWN_EXCEPTION</statusCode>")
      expect(response).toContain(
        "Converted objects can only be owned by users.  If the lead is not owned by a user, you must specify a user for the Owner field."
      )
      expect(response).toContain("<success>false</success>")
      expect(lead.IsConverted).toBeUndefined()
      expect(fake.records.Contact ?? []).toHaveLength(0)
    })
  )

  it.scopedLive("the adapter converts it with the integration user (from the sign-in) as the new records' owner", () =>
    Effect.gen(function* () {
      const { fake, crm } = yield* setup()
      yield* crm.execute(upsertLead)
      const result = yield* crm.execute(convert())
      expect(result.detail).toMatchObject({ object: "LeadConvert", converted: true })
      expect(soapBodies(fake)[0]).toContain(`<ownerId>${id18(integrationUserId)}</ownerId>`)
      expect(ownersOfConverted(fake)).toEqual([integrationUserId, integrationUserId, integrationUserId])
      // the user id came with the token: no identity call
      expect(fake.apiRequests().filter((r) => r.path.includes("/id/") || r.path === `${base}/`)).toHaveLength(0)
    })
  )

  it.scopedLive("SALESFORCE_CONVERT_OWNER_ID names the user who owns them instead", () =>
    Effect.gen(function* () {
      const { fake, crm } = yield* setup({ users: [integrationUserId, rep] }, { convertOwnerId: rep })
      yield* crm.execute(upsertLead)
      yield* crm.execute(convert())
      expect(soapBodies(fake)[0]).toContain(`<ownerId>${rep}</ownerId>`)
      expect(ownersOfConverted(fake)).toEqual([rep, rep, rep])
    })
  )

  it.scopedLive("a Lead a user owns keeps that user as owner: no ownerId is sent", () =>
    Effect.gen(function* () {
      const { fake, crm } = yield* setup({ leadAssignmentOwners: [rep], users: [integrationUserId, rep] })
      yield* crm.execute(upsertLead)
      expect(fake.records.Lead![0]!.OwnerId).toBe(rep)
      yield* crm.execute(convert())
      expect(soapBodies(fake)[0]).not.toContain("<ownerId>")
      expect(ownersOfConverted(fake)).toEqual([rep, rep, rep])
    })
  )

  it.scopedLive("with a given access token, the identity service names the user once, the token never in a URL", () =>
    Effect.gen(function* () {
      const { fake } = yield* setup()
      const crmWithUrl = yield* make({
        loginUrl: fake.url,
        apiVersion: "62.0",
        auth: { _tag: "AccessToken", accessToken: Redacted.make(token), instanceUrl: fake.url },
        timeoutMs: 2000,
        fields: defaultFields
      })
      yield* crmWithUrl.execute(upsertLead)
      yield* crmWithUrl.execute(convert(false))
      const other = leadKey("john@acme.com", "spring-2025")
      const otherRef = { leadKey: other, email: "john@acme.com" }
      yield* crmWithUrl.execute({
        tool: "upsert_lead",
        params: { ...otherRef, campaignId: "spring-2025" },
        actionKey: actionKey(other, "upsert_lead", otherRef)
      })
      yield* crmWithUrl.execute({
        tool: "convert_lead",
        params: { ...otherRef, convertedStatus: "Closed - Converted", createOpportunity: false },
        actionKey: actionKey(other, "convert_lead", otherRef)
      })
      const identity = fake.apiRequests().filter((r) => r.path.startsWith("/id/"))
      expect(identity).toHaveLength(1)
      expect(identity[0]!.headers.authorization).toBe(`Bearer ${token}`)
      expect(fake.apiRequests().every((r) => !r.query.toString().includes("oauth_token"))).toBe(true)
      expect(soapBodies(fake)).toHaveLength(2)
      expect(fake.records.Contact!.map((c) => c.OwnerId)).toEqual([integrationUserId, integrationUserId])
    })
  )

  it.effect("SALESFORCE_CONVERT_OWNER_ID is read and must be a user id", () =>
    Effect.gen(function* () {
      const read = (value: string) =>
        Effect.either(
          Effect.withConfigProvider(
            salesforceConfig,
            ConfigProvider.fromMap(
              new Map([
                ["SALESFORCE_CLIENT_ID", "rf"],
                ["SALESFORCE_CLIENT_SECRET", "s3cret"],
                ["SALESFORCE_LOGIN_URL", "https://acme.my.salesforce.com"],
                ["SALESFORCE_CONVERT_OWNER_ID", value]
              ])
            )
          )
        )
      const ok = yield* read(rep)
      expect(ok._tag === "Right" && ok.right.convertOwnerId).toBe(rep)
      for (const bad of [defaultLeadQueueId, "005-not-an-id", "00Q000000000001"]) {
        expect((yield* read(bad))._tag, bad).toBe("Left")
      }
    })
  )
})

describe("ids the adapter writes must be ids of existing records of the right object", () => {
  it.scopedLive(
    "the fake refuses a malformed id (MALFORMED_ID), another object's (FIELD_INTEGRITY_EXCEPTION), a missing one",
    () =>
      Effect.gen(function* () {
        const { fake } = yield* setup()
        fake.records.Account = [{ Id: "001000000000078", Name: "Acme" }]
        fake.records.Contact = [{ Id: "003000000000005", LastName: "Roe" }]
        const contact = (AccountId: unknown) => raw(fake, "POST", "/sobjects/Contact", { LastName: "Doe", AccountId })
        for (const bad of ["zzz", "not_an-id", "001000000000078XYZ", "00100000000007"]) {
          expect(yield* contact(bad), bad).toMatchObject({
            status: 400,
            body: [{ errorCode: "MALFORMED_ID", fields: ["AccountId"] }]
          })
        }
        expect(yield* contact("003000000000005")).toMatchObject({
          status: 400,
          body: [
            {
              errorCode: "FIELD_INTEGRITY_EXCEPTION",
              message: "Account ID: id value of incorrect type: 003000000000005"
            }
          ]
        })
        expect(yield* contact("001000000000999")).toMatchObject({
          status: 400,
          body: [{ errorCode: "INVALID_CROSS_REFERENCE_KEY", fields: ["AccountId"] }]
        })
        expect(fake.records.Contact).toHaveLength(1)
        expect((yield* contact("001000000000078")).status).toBe(201)
        expect((yield* contact(id18("001000000000078"))).status).toBe(201)
        const task = yield* raw(fake, "POST", "/sobjects/Task", { Subject: "s", WhoId: "001000000000078" })
        expect(task).toMatchObject({
          status: 400,
          body: [{ errorCode: "FIELD_INTEGRITY_EXCEPTION", fields: ["WhoId"] }]
        })
      })
  )

  it.scopedLive(
    "through the adapter each is a permanent error and nothing is written; convertLead creates no Account",
    () =>
      Effect.gen(function* () {
        const { fake, crm } = yield* setup()
        yield* crm.execute(upsertLead)
        const contact = yield* Effect.flip(
          crm.execute(call({ tool: "create_contact", params: { ...ref, accountId: "zzz" } }))
        )
        expect(contact).toMatchObject({ _tag: "CrmPermanentError", code: "MALFORMED_ID" })
        const opportunity = yield* Effect.flip(
          crm.execute(
            call({
              tool: "create_opportunity",
              params: { ...ref, name: "Acme", stage: "Prospecting", closeDate: "2025-09-30", accountId: "not_an-id" }
            })
          )
        )
        expect(opportunity).toMatchObject({ _tag: "CrmPermanentError", code: "MALFORMED_ID" })
        for (const [accountId, code] of [
          ["bogus", "MALFORMED_ID"],
          ["001000000000999", "INVALID_CROSS_REFERENCE_KEY"]
        ] as const) {
          expect(yield* Effect.flip(crm.execute(convert(false, accountId))), accountId).toMatchObject({
            _tag: "CrmPermanentError",
            code
          })
        }
        expect(fake.records.Account ?? []).toEqual([])
        expect(fake.records.Contact ?? []).toEqual([])
        expect(fake.records.Opportunity ?? []).toEqual([])
        expect(fake.records.Lead![0]!.IsConverted).toBeUndefined()
      })
  )
})

describe("numbers, texts and days within their fields' limits", () => {
  it.scopedLive("the fake refuses numbers an int or a currency field cannot hold, with Salesforce's codes", () =>
    Effect.gen(function* () {
      const { fake } = yield* setup()
      const lead = (extra: object) =>
        raw(fake, "POST", "/sobjects/Lead", { LastName: "Doe", Company: "Acme", ...extra })
      const cases: ReadonlyArray<[object, string]> = [
        [{ NumberOfEmployees: 3e9 }, "JSON_PARSER_ERROR"],
        [{ NumberOfEmployees: 9007199254740991 }, "JSON_PARSER_ERROR"],
        [{ NumberOfEmployees: 2.5 }, "JSON_PARSER_ERROR"],
        [{ NumberOfEmployees: "many" }, "INVALID_TYPE_ON_FIELD_IN_RECORD"],
        [{ AnnualRevenue: 1e300 }, "NUMBER_OUTSIDE_VALID_RANGE"],
        [{ AnnualRevenue: 1e18 }, "NUMBER_OUTSIDE_VALID_RANGE"],
        [{ Industry: "I".repeat(41) }, "STRING_TOO_LONG"]
      ]
      for (const [extra, code] of cases) {
        expect(yield* lead(extra), JSON.stringify(extra)).toMatchObject({ status: 400, body: [{ errorCode: code }] })
      }
      expect(fake.records.Lead ?? []).toEqual([])
      expect(
        (yield* lead({ NumberOfEmployees: 2_147_483_647, AnnualRevenue: 1e17, Industry: "I".repeat(40) })).status
      ).toBe(201)
      const opportunity = (extra: object) =>
        raw(fake, "POST", "/sobjects/Opportunity", {
          Name: "Acme",
          StageName: "Prospecting",
          CloseDate: "2025-09-30",
          ...extra
        })
      expect(yield* opportunity({ Amount: 1e300 })).toMatchObject({
        status: 400,
        body: [
          {
            errorCode: "NUMBER_OUTSIDE_VALID_RANGE",
            message: "Amount: value outside of valid range on numeric field: 1e+300"
          }
        ]
      })
      expect(yield* opportunity({ Amount: 1e14 })).toMatchObject({ status: 400 })
      expect(yield* opportunity({ StageName: "S".repeat(41) })).toMatchObject({
        status: 400,
        body: [{ errorCode: "STRING_TOO_LONG", fields: ["StageName"] }]
      })
      expect((yield* opportunity({ Amount: 99_999_999_999_999.5 })).status).toBe(201)
    })
  )

  it.scopedLive("the adapter fits Industry and StageName to 40 and names them shortened, instead of failing", () =>
    Effect.gen(function* () {
      const { fake, crm } = yield* setup()
      yield* crm.execute(upsertLead)
      const industry = "Industrial Machinery & Equipment Manufacturing and Services" // 60: the guard allows 128
      const synced = yield* crm.execute(call({ tool: "sync_firmographics", params: { ...ref, industry } }))
      expect(synced.detail).toMatchObject({ object: "Lead", shortened: ["Industry"] })
      expect(fake.records.Lead![0]!.Industry).toBe(industry.slice(0, 40).trimEnd())
      const stage = "Negotiation / Review with the Procurement Department" // 52: the guard allows 64
      const created = yield* crm.execute(
        call({ tool: "create_opportunity", params: { ...ref, name: "Acme", stage, closeDate: "2025-09-30" } })
      )
      expect(created.detail).toMatchObject({ object: "Opportunity", shortened: ["StageName"] })
      const moved = yield* crm.execute(
        call({
          tool: "update_opportunity_stage",
          params: { ...ref, opportunityId: created.crmId!, stage: `${stage} (final)` }
        })
      )
      expect(moved.detail).toMatchObject({ object: "Opportunity", shortened: ["StageName"] })
      expect(fake.records.Opportunity![0]!.StageName).toBe(stage.slice(0, 40).trimEnd())
    })
  )

  it.scopedLive("the fake refuses a day before 1700-01-01 or after 4000-12-31 (FIELD_INTEGRITY_EXCEPTION)", () =>
    Effect.gen(function* () {
      const { fake } = yield* setup()
      const opportunity = (CloseDate: string) =>
        raw(fake, "POST", "/sobjects/Opportunity", { Name: "Acme", StageName: "Prospecting", CloseDate })
      for (const day of ["0001-01-01", "1699-12-31", "4001-01-01", "9999-12-31"]) {
        expect(yield* opportunity(day), day).toMatchObject({
          status: 400,
          body: [{ errorCode: "FIELD_INTEGRITY_EXCEPTION", fields: ["CloseDate"] }]
        })
      }
      expect(yield* raw(fake, "POST", "/sobjects/Task", { Subject: "s", ActivityDate: "0001-01-01" })).toMatchObject({
        status: 400,
        body: [{ errorCode: "FIELD_INTEGRITY_EXCEPTION", fields: ["ActivityDate"] }]
      })
      expect(fake.records.Opportunity ?? []).toEqual([])
      expect((yield* opportunity("1700-01-01")).status).toBe(201)
      expect((yield* opportunity("4000-12-31")).status).toBe(201)
    })
  )
})
