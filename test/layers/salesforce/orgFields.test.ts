import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { type SalesforceFields, defaultFields } from "../../../layers/salesforce/config.js"
import type { CrmAction } from "../../../src/domain/tools.js"
import { type FakeSalesforceOptions, id18, orgCustomFields } from "../../fakes/salesforce.js"
import { base, call, creds, fakeOrg as startOrg, key, orgWithExecutor, ref } from "./org.js"

// A Salesforce org has the fields it has: a write, read or query naming any other is refused (INVALID_FIELD, or
// NOT_FOUND for an upsert by a field that is not an external id), so a typo in the adapter's field names, or a field a
// default org lacks, fails here as it would for a user, instead of being stored by a lenient fake.

const token = "00DFAKE!static"

const fakeOrg = (options: Omit<FakeSalesforceOptions, "clientId" | "clientSecret"> = {}) =>
  startOrg({ ...creds, validTokens: [token], ...options })

const setup = (
  fields: SalesforceFields = defaultFields,
  options: Omit<FakeSalesforceOptions, "clientId" | "clientSecret"> = {}
) => orgWithExecutor({ validTokens: [token], ...options }, { fields })

const raw = (url: string, method: string, path: string, body?: object) =>
  Effect.promise(async () => {
    const response = await fetch(`${url}${base}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      ...(body === undefined ? {} : { body: JSON.stringify(body) })
    })
    const text = await response.text()
    return { status: response.status, body: text === "" ? undefined : (JSON.parse(text) as unknown) }
  })

const soql = (url: string, query: string) => raw(url, "GET", `/query?q=${encodeURIComponent(query)}`)

describe("the fake org refuses fields it does not have, as Salesforce does", () => {
  it.scopedLive("an unknown field in a create, an update or an upsert: 400 INVALID_FIELD, nothing written", () =>
    Effect.gen(function* () {
      const fake = yield* fakeOrg()
      const lead = { LastName: "Doe", Company: "Acme" }
      const refused = [{ errorCode: "INVALID_FIELD", message: "No such column 'Countryy' on sobject of type Lead" }]
      const create = yield* raw(fake.url, "POST", "/sobjects/Lead", { ...lead, Countryy: "DE" })
      expect(create).toEqual({ status: 400, body: refused })
      const upsert = yield* raw(fake.url, "PATCH", "/sobjects/Lead/RevenueFlow_Key__c/k1", { ...lead, Countryy: "DE" })
      expect(upsert).toEqual({ status: 400, body: refused })
      expect(fake.records.Lead ?? []).toEqual([])

      const made = yield* raw(fake.url, "PATCH", "/sobjects/Lead/RevenueFlow_Key__c/k1", { ...lead, Country: "DE" })
      expect(made.status).toBe(201)
      const id = (made.body as { id: string }).id
      expect(yield* raw(fake.url, "PATCH", `/sobjects/Lead/${id}`, { Countryy: "FR" })).toEqual({
        status: 400,
        body: refused
      })
      expect(yield* raw(fake.url, "PATCH", "/sobjects/Lead/RevenueFlow_Key__c/k1", { Countryy: "FR" })).toEqual({
        status: 400,
        body: refused
      })
      // a field of another object is no field of this one
      expect(yield* raw(fake.url, "PATCH", `/sobjects/Lead/${id}`, { MailingCountry: "FR" })).toMatchObject({
        status: 400,
        body: [{ errorCode: "INVALID_FIELD", message: "No such column 'MailingCountry' on sobject of type Lead" }]
      })
      expect(fake.records.Lead).toHaveLength(1)
      expect(fake.records.Lead![0]!.Country).toBe("DE")
    })
  )

  it.scopedLive("field names are case-insensitive: stored under the field's own name, and checked as it", () =>
    Effect.gen(function* () {
      const fake = yield* fakeOrg()
      const res = yield* raw(fake.url, "PATCH", "/sobjects/Lead/revenueflow_key__c/k1", {
        lastname: "Doe",
        COMPANY: "Acme",
        email: "not-an-email"
      })
      expect(res).toMatchObject({ status: 400, body: [{ errorCode: "INVALID_EMAIL_ADDRESS" }] })
      yield* raw(fake.url, "PATCH", "/sobjects/Lead/revenueflow_key__c/k1", { lastname: "Doe", COMPANY: "Acme" })
      expect(fake.records.Lead![0]).toMatchObject({ LastName: "Doe", Company: "Acme", RevenueFlow_Key__c: "k1" })
    })
  )

  it.scopedLive("a field the API sets itself: 400 INVALID_FIELD_FOR_INSERT_UPDATE naming it", () =>
    Effect.gen(function* () {
      const fake = yield* fakeOrg()
      const res = yield* raw(fake.url, "POST", "/sobjects/Lead", {
        LastName: "Doe",
        Company: "Acme",
        IsConverted: true
      })
      expect(res).toMatchObject({
        status: 400,
        body: [{ errorCode: "INVALID_FIELD_FOR_INSERT_UPDATE", fields: ["IsConverted"] }]
      })
      expect((res.body as Array<{ message: string }>)[0]!.message).toMatch(
        /^Unable to create\/update fields: IsConverted\./
      )
      expect(fake.records.Lead ?? []).toEqual([])
    })
  )

  it.scopedLive("an upsert or read by a field that is not an external id: 404 NOT_FOUND naming it", () =>
    Effect.gen(function* () {
      const fake = yield* fakeOrg()
      const lead = { LastName: "Doe", Company: "Acme" }
      for (const field of ["RevenueFlow_Kee__c", "Company"]) {
        const notFound = {
          status: 404,
          body: [
            {
              errorCode: "NOT_FOUND",
              message: `Provided external ID field does not exist or is not accessible: ${field}`
            }
          ]
        }
        expect(yield* raw(fake.url, "PATCH", `/sobjects/Lead/${field}/k1`, lead), field).toEqual(notFound)
        expect(yield* raw(fake.url, "GET", `/sobjects/Lead/${field}/k1`), field).toEqual(notFound)
      }
      // the lead key is an external id on Lead and Contact only, as the README's set-up makes it
      expect(yield* raw(fake.url, "PATCH", "/sobjects/Task/RevenueFlow_Key__c/k1", { Subject: "s" })).toMatchObject({
        status: 404,
        body: [{ errorCode: "NOT_FOUND" }]
      })
      expect(fake.records.Lead ?? []).toEqual([])
      expect(fake.records.Task ?? []).toEqual([])
      // an object the org does not have
      expect(yield* raw(fake.url, "POST", "/sobjects/Leads", lead)).toMatchObject({ status: 404 })
    })
  )

  it.scopedLive("a read asking for a field the object lacks: 400 INVALID_FIELD", () =>
    Effect.gen(function* () {
      const fake = yield* fakeOrg()
      yield* raw(fake.url, "PATCH", "/sobjects/Lead/RevenueFlow_Key__c/k1", { LastName: "Doe", Company: "Acme" })
      const res = yield* raw(fake.url, "GET", "/sobjects/Lead/RevenueFlow_Key__c/k1?fields=Id,IsConvertd")
      expect(res).toMatchObject({ status: 400, body: [{ errorCode: "INVALID_FIELD" }] })
      expect((res.body as Array<{ message: string }>)[0]!.message).toContain(
        "No such column 'IsConvertd' on entity 'Lead'"
      )
      const ok = yield* raw(fake.url, "GET", "/sobjects/Lead/RevenueFlow_Key__c/k1?fields=Id,isconverted")
      expect(ok.status).toBe(200)
      expect(ok.body).toHaveProperty("IsConverted")
    })
  )

  it.scopedLive(
    "SOQL naming a column or an object the org lacks: 400 INVALID_FIELD / INVALID_TYPE, pointing at it",
    () =>
      Effect.gen(function* () {
        const fake = yield* fakeOrg()
        fake.records.Account = [{ Id: "001000000000078", Name: "Acme", Website: "https://www.acme.com/" }]
        const column = yield* soql(fake.url, "SELECT Id, Name, Webside FROM Account WHERE Website LIKE '%acme%'")
        expect(column).toEqual({
          status: 400,
          body: [
            {
              errorCode: "INVALID_FIELD",
              message:
                "\nSELECT Id, Name, Webside FROM Account WHERE Website LIKE '%acme%'\n                 ^\nERROR at Row:1:Column:18\nNo such column 'Webside' on entity 'Account'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name. Please reference your WSDL or the describe call for the appropriate names."
            }
          ]
        })
        for (const query of [
          "SELECT Id FROM Account WHERE Websit LIKE '%acme%'",
          "SELECT Id FROM Account ORDER BY CreatedDat ASC",
          "SELECT Id, Email FROM Account"
        ]) {
          const res = yield* soql(fake.url, query)
          expect(res, query).toMatchObject({ status: 400, body: [{ errorCode: "INVALID_FIELD" }] })
          expect((res.body as Array<{ message: string }>)[0]!.message, query).toContain("on entity 'Account'")
        }
        expect(yield* soql(fake.url, "SELECT Id FROM Acount")).toMatchObject({
          status: 400,
          body: [{ errorCode: "INVALID_TYPE" }]
        })
        // case-insensitive, answered under each field's own name
        const ok = yield* soql(
          fake.url,
          "SELECT id, website FROM account WHERE WEBSITE LIKE '%acme%' ORDER BY createddate"
        )
        expect(ok).toMatchObject({
          status: 200,
          body: {
            totalSize: 1,
            records: [
              { attributes: { type: "Account" }, Id: id18("001000000000078"), Website: "https://www.acme.com/" }
            ]
          }
        })
      })
  )
})

describe("every write the adapter makes is accepted by an org set up as the README says", () => {
  const everyTool = (accountId: string): ReadonlyArray<CrmAction> => [
    {
      tool: "upsert_lead",
      params: {
        ...ref,
        campaignId: "spring-2025",
        leadSource: "Web",
        firstName: "Jane",
        lastName: "Doe",
        company: "Acme",
        title: "CTO",
        phone: "+1 555 0100",
        website: "https://acme.com",
        country: "Germany"
      }
    },
    { tool: "set_lead_score", params: { ...ref, score: 82, intent: "HIGH", decision: "Route to SDR" } as never },
    {
      tool: "sync_firmographics",
      params: {
        ...ref,
        industry: "Software",
        employees: 250,
        annualRevenue: 5e7,
        country: "Germany",
        domain: "acme.com"
      }
    },
    { tool: "update_lead_status", params: { ...ref, status: "Working" } },
    { tool: "match_account", params: { ...ref, domain: "acme.com" } },
    {
      tool: "create_contact",
      params: {
        ...ref,
        firstName: "Jane",
        lastName: "Doe",
        title: "CTO",
        phone: "+1 555 0100",
        country: "Germany",
        accountId
      }
    },
    {
      tool: "create_opportunity",
      params: { ...ref, name: "Acme - New", stage: "Prospecting", closeDate: "2025-09-30", amount: 12000, accountId }
    },
    {
      tool: "create_task",
      params: { ...ref, subject: "Call Jane", description: "Asked for a demo", priority: "High", dueDate: "2025-06-01" }
    },
    { tool: "log_activity", params: { ...ref, subject: "Scored 82", description: "Fit: high" } },
    {
      tool: "convert_lead",
      params: { ...ref, accountId, convertedStatus: "Closed - Converted", createOpportunity: true }
    }
  ]

  const runAll = (fields: SalesforceFields) =>
    Effect.gen(function* () {
      const { fake, crm } = yield* setup(fields, { customFields: orgCustomFields(fields) })
      const accountId = "001000000000078"
      fake.records.Account = [{ Id: accountId, Name: "Acme", Website: "https://www.acme.com/" }]
      for (const action of everyTool(accountId)) {
        const result = yield* Effect.either(crm.execute(call(action)))
        expect(result._tag, `${action.tool}: ${JSON.stringify(result)}`).toBe("Right")
      }
      const opportunityId = fake.records.Opportunity?.[0]?.Id as string
      yield* crm.execute(
        call({ tool: "update_opportunity_stage", params: { ...ref, opportunityId, stage: "Qualification" } })
      )
      return fake
    })

  it.scopedLive("every tool with every optional parameter, the default field names", () =>
    Effect.gen(function* () {
      const fake = yield* runAll(defaultFields)
      expect(fake.records.Lead![0]).toMatchObject({
        Country: "Germany",
        LeadSource: "Web",
        Website: "acme.com",
        RevenueFlow_Score__c: 82,
        Industry: "Software",
        NumberOfEmployees: 250,
        AnnualRevenue: 5e7,
        IsConverted: true
      })
      expect(fake.records.Contact!.find((c) => c.RevenueFlow_Key__c === key)).toMatchObject({
        MailingCountry: "Germany"
      })
      expect(fake.records.Task).toHaveLength(2)
      expect(fake.records.Opportunity!.find((o) => o.RevenueFlow_Action_Key__c)?.StageName).toBe("Qualification")
    })
  )

  it.scopedLive("every tool with the fields renamed to an org's own custom fields", () =>
    Effect.gen(function* () {
      const fields: SalesforceFields = {
        leadKey: "Lead_Key__c",
        actionKey: "Action_Key__c",
        score: "Score__c",
        intent: "Intent__c",
        decision: "Decision__c",
        industry: "Segment__c",
        employees: "Headcount__c",
        annualRevenue: "Revenue__c"
      }
      const fake = yield* runAll(fields)
      expect(fake.records.Lead![0]).toMatchObject({ Lead_Key__c: key, Score__c: 82, Segment__c: "Software" })
    })
  )

  it.scopedLive("an org without a custom field the configuration names: permanent INVALID_FIELD / NOT_FOUND", () =>
    Effect.gen(function* () {
      const customFields = orgCustomFields()
      const withoutScore = {
        ...customFields,
        Lead: customFields.Lead!.filter((f) => f.name !== "RevenueFlow_Score__c")
      }
      const { crm } = yield* setup(defaultFields, { customFields: withoutScore })
      yield* crm.execute(call(everyTool("001000000000078")[0]!))
      const score = yield* Effect.flip(
        crm.execute(
          call({ tool: "set_lead_score", params: { ...ref, score: 82, intent: "HIGH", decision: "SDR" } as never })
        )
      )
      expect(score).toMatchObject({ _tag: "CrmPermanentError", status: 400, code: "INVALID_FIELD" })
      expect(score.message).toContain("No such column 'RevenueFlow_Score__c' on sobject of type Lead")

      const { crm: noKey } = yield* setup(defaultFields, { customFields: { ...customFields, Lead: [] } })
      const upsert = yield* Effect.flip(noKey.execute(call(everyTool("001000000000078")[0]!)))
      expect(upsert).toMatchObject({ _tag: "CrmPermanentError", status: 404, code: "NOT_FOUND" })
      expect(upsert.message).toContain(
        "Provided external ID field does not exist or is not accessible: RevenueFlow_Key__c"
      )
    })
  )
})
