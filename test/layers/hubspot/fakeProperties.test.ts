import { Client } from "@hubspot/api-client"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type FakeHubSpot, startFakeHubSpot } from "../../fakes/hubspot.js"

// The fake stands for HubSpot in every HubSpot test: it must refuse what HubSpot refuses, with HubSpot's shapes.
let fake: FakeHubSpot
let client: Client
beforeAll(async () => {
  fake = await startFakeHubSpot()
  client = new Client({ accessToken: "pat-na1-fake-token", basePath: fake.url, numberOfApiCallRetries: 0 })
})
afterAll(() => fake.close())

/** The client's ApiException: HTTP status and HubSpot's error body. */
const refusal = async (request: Promise<unknown>) => {
  const error = (await request.then(
    () => undefined,
    (e: unknown) => e
  )) as { code: number; body: { status: string; category: string; message: string } }
  expect(error).toBeDefined()
  const [, list = "[]"] = /^Property values were not valid: (.*)$/s.exec(error.body.message) ?? []
  return { status: error.code, body: error.body, errors: JSON.parse(list) as Array<Record<string, unknown>> }
}

describe("the fake HubSpot checks writes against the portal's property definitions", () => {
  it("refuses a property the object type does not have: 400 VALIDATION_ERROR, PROPERTY_DOESNT_EXIST", async () => {
    const upsert = await refusal(
      client.crm.contacts.batchApi.upsert({
        inputs: [{ idProperty: "email", id: "a@b.com", properties: { email: "a@b.com", numberofemployees: "250" } }]
      })
    )
    expect(upsert.status).toBe(400)
    expect(upsert.body).toMatchObject({ status: "error", category: "VALIDATION_ERROR" })
    expect(upsert.errors).toEqual([
      {
        isValid: false,
        message: 'Property "numberofemployees" does not exist',
        error: "PROPERTY_DOESNT_EXIST",
        name: "numberofemployees",
        localizedErrorMessage: 'Property "numberofemployees" does not exist'
      }
    ])
    const create = await refusal(client.crm.companies.basicApi.create({ properties: { numemployees: "5-25" } }))
    expect(create.errors.map((e) => [e.error, e.name])).toEqual([["PROPERTY_DOESNT_EXIST", "numemployees"]])
    expect(fake.records.contacts ?? []).toEqual([])
    expect(fake.records.companies ?? []).toEqual([])
  })

  it("refuses a value outside an enumeration's options (company industry), listing label and value", async () => {
    const made = await client.crm.companies.basicApi.create({
      properties: { name: "Acme", industry: "COMPUTER_SOFTWARE" }
    })
    const update = await refusal(
      client.crm.companies.basicApi.update(made.id, { properties: { industry: "Software" } })
    )
    expect(update.status).toBe(400)
    expect(update.body.category).toBe("VALIDATION_ERROR")
    expect(update.errors).toHaveLength(1)
    expect(update.errors[0]).toMatchObject({
      isValid: false,
      error: "INVALID_OPTION",
      name: "industry",
      localizedErrorMessage: 'Property "Industry" has invalid value "Software"'
    })
    expect(update.errors[0]!.message).toContain('Software was not one of the allowed options: [label: "Accounting"')
    expect(update.errors[0]!.message).toContain('label: "Computer Software"\nvalue: "COMPUTER_SOFTWARE"')
    // one refusal names every bad property
    const both = await refusal(
      client.crm.companies.basicApi.update(made.id, { properties: { industry: "Computer Software", nope: "x" } })
    )
    expect(both.errors.map((e) => e.error)).toEqual(["INVALID_OPTION", "PROPERTY_DOESNT_EXIST"])
    expect(fake.records.companies![0]!.properties.industry).toBe("COMPUTER_SOFTWARE")
  })

  it("refuses a number property's value that is not plain decimal digits: INVALID_INTEGER", async () => {
    for (const bad of ["about 5M", "1e-7", " 250"]) {
      const create = await refusal(
        client.crm.companies.basicApi.create({ properties: { name: "Numbers", numberofemployees: bad } })
      )
      expect(create.status).toBe(400)
      expect(create.errors).toEqual([
        expect.objectContaining({
          error: "INVALID_INTEGER",
          name: "numberofemployees",
          message: `${bad} was not a valid number.`
        })
      ])
    }
    await client.crm.companies.basicApi.create({ properties: { name: "Numbers", numberofemployees: "250" } })
    expect(fake.records.companies?.filter((c) => c.properties.name === "Numbers")).toHaveLength(1)
  })

  it("a deal's stage lists no options (externalOptions), yet a stage that is none is refused", async () => {
    const deals = await client.crm.properties.coreApi.getAll("deals", false)
    expect(deals.results.find((p) => p.name === "dealstage")).toMatchObject({ externalOptions: true, options: [] })
    const bad = await refusal(
      client.crm.deals.basicApi.create({ properties: { dealname: "D", dealstage: "won-ish", pipeline: "default" } })
    )
    expect(bad.errors.map((e) => [e.error, e.name])).toEqual([["INVALID_OPTION", "dealstage"]])
  })

  it("serves GET /crm/v3/properties/{objectType} with types and options, counted and answered like any call", async () => {
    const before = fake.requests.length
    const companies = await client.crm.properties.coreApi.getAllWithHttpInfo("companies", false)
    expect(fake.requests.length).toBe(before + 1)
    expect(companies.httpStatusCode).toBe(200)
    expect(companies.headers["x-hubspot-ratelimit-remaining"]).toMatch(/^\d+$/)
    expect(Number(companies.headers["x-hubspot-ratelimit-daily-remaining"])).toBe(250_000 - fake.requests.length)
    const byName = new Map(companies.data.results.map((p) => [p.name, p]))
    expect(byName.get("industry")).toMatchObject({ type: "enumeration", fieldType: "select", label: "Industry" })
    expect(byName.get("industry")!.options).toContainEqual(
      expect.objectContaining({ label: "Computer Software", value: "COMPUTER_SOFTWARE" })
    )
    expect(byName.get("numberofemployees")).toMatchObject({ type: "number" })
    expect(byName.get("annualrevenue")).toMatchObject({ type: "number" })
    expect(byName.get("revenueflow_company_key")).toMatchObject({ type: "string", hasUniqueValue: true })
    const contacts = await client.crm.properties.coreApi.getAll("contacts", false)
    const contact = new Map(contacts.results.map((p) => [p.name, p]))
    expect(contact.has("numberofemployees")).toBe(false)
    expect(contact.get("numemployees")!.options.map((o) => o.value)).toEqual([
      "1-5",
      "5-25",
      "25-50",
      "50-100",
      "100-500",
      "500-1000",
      "1000+"
    ])
    expect(contact.get("industry")).toMatchObject({ type: "string" })
    expect(contact.get("annualrevenue")).toMatchObject({ type: "string" })
    expect(contact.get("revenueflow_score")).toMatchObject({ type: "number" })
  })

  it("refuses a datetime that names no day or is no time at all: INVALID_LONG, as HubSpot reads it as a number", async () => {
    const task = (hs_timestamp: string) =>
      client.crm.objects.basicApi.create("tasks", {
        properties: { hs_timestamp, hs_task_subject: "Call" },
        associations: []
      })
    for (const value of ["2026-02-30T00:00:00.000Z", "tomorrow", "2026-13-01"]) {
      const refused = await refusal(task(value))
      expect(refused.status).toBe(400)
      expect(refused.errors).toEqual([
        {
          isValid: false,
          message: `${value} was not a valid long.`,
          error: "INVALID_LONG",
          name: "hs_timestamp",
          localizedErrorMessage: `${value} was not a valid long.`
        }
      ])
    }
    expect(fake.records.tasks ?? []).toEqual([])
    // a day and time, a day alone and epoch milliseconds are times
    for (const value of ["2024-02-29T00:00:00.000Z", "2026-06-01", "1780000000000"]) await task(value)
    expect((fake.records.tasks ?? []).map((t) => t.properties.hs_timestamp)).toHaveLength(3)
  })
})
