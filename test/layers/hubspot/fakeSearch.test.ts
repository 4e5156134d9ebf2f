import { Client } from "@hubspot/api-client"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { DEFAULT_SEARCH_LAG_MS, type FakeHubSpot, startFakeHubSpot } from "../../fakes/hubspot.js"

// The fake stands for HubSpot in every HubSpot test: its search must order, refuse and lag as HubSpot's does.
const token = "pat-na1-fake-token"
let fake: FakeHubSpot
let client: Client
/** Companies of one domain, in creation order (made before the lag, so search sees them). */
let made: Array<string>
beforeAll(async () => {
  // no lag and no search limit: the companies are searched at once, many times (the lag is tested below)
  fake = await startFakeHubSpot({ searchLagMs: 0, searchPerSecond: 1000 })
  client = new Client({ accessToken: token, basePath: fake.url, numberOfApiCallRetries: 0 })
  made = []
  for (const name of ["Beta", "alpha", "Gamma"]) {
    const company = await client.crm.companies.basicApi.create({ properties: { domain: "acme.com", name } })
    made.push(company.id)
  }
})
afterAll(() => fake.close())

const byDomain = {
  filterGroups: [{ filters: [{ propertyName: "domain", operator: "EQ" as never, value: "acme.com" }] }]
}

/** The ids a search by domain answers, sorted by `sorts` as the client sends them. */
const search = async (sorts: ReadonlyArray<unknown> | undefined) => {
  const answer = await client.crm.companies.searchApi.doSearch({
    ...byDomain,
    ...(sorts === undefined ? {} : { sorts: sorts as Array<string> }),
    properties: ["name"],
    limit: 10
  })
  return answer.results.map((c) => c.id)
}

/** A raw search (sorts as given, not as the client would type them): HubSpot's status and error body. */
const refusal = async (sorts: unknown) => {
  const res = await fetch(`${fake.url}/crm/v3/objects/companies/search`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify({ ...byDomain, sorts })
  })
  return { status: res.status, body: (await res.json()) as { status: string; category: string; message: string } }
}

describe("the fake HubSpot's search", () => {
  it("matches any one of its filter groups (each group's filters all), and refuses more than 5 groups", async () => {
    const other = await client.crm.companies.basicApi.create({ properties: { domain: "www.acme.com", name: "Delta" } })
    const group = (value: string) => ({ filters: [{ propertyName: "domain", operator: "EQ" as never, value }] })
    const either = await client.crm.companies.searchApi.doSearch({
      filterGroups: [group("acme.com"), group("www.acme.com")],
      sorts: ["createdate"],
      properties: ["name"],
      limit: 10
    })
    expect(either.results.map((c) => c.id)).toEqual([...made, other.id])
    const both = await client.crm.companies.searchApi.doSearch({
      filterGroups: [{ filters: [...group("acme.com").filters, ...group("www.acme.com").filters] }],
      properties: ["name"],
      limit: 10
    })
    expect(both.results).toEqual([])
    const res = await fetch(`${fake.url}/crm/v3/objects/companies/search`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ filterGroups: Array.from({ length: 6 }, () => group("acme.com")) })
    })
    expect(res.status).toBe(400)
    expect(((await res.json()) as { category: string }).category).toBe("VALIDATION_ERROR")
    await client.crm.companies.basicApi.archive(other.id)
  })

  it('sorts as HubSpot reads `sorts`: "name" ascending, "-name" descending, { propertyName, direction }', async () => {
    const [first, second, third] = made
    expect(await search(["createdate"])).toEqual([first, second, third])
    expect(await search(["-createdate"])).toEqual([third, second, first])
    expect(await search([{ propertyName: "createdate", direction: "DESCENDING" }])).toEqual([third, second, first])
    expect(await search([{ propertyName: "createdate", direction: "ASCENDING" }])).toEqual([first, second, third])
    // direction left out: ascending
    expect(await search([{ propertyName: "createdate" }])).toEqual([first, second, third])
    expect(await search(["hs_object_id"])).toEqual([first, second, third])
    // text case-insensitively: alpha, Beta, Gamma
    expect(await search(["name"])).toEqual([second, first, third])
    expect(await search(["-name"])).toEqual([third, first, second])
  })

  it("answers in no creation order when no sort is asked for (HubSpot guarantees none)", async () => {
    const [first, second, third] = made
    expect(await search(undefined)).not.toEqual([first, second, third])
    expect(await search([])).not.toEqual([first, second, third])
    expect((await search(undefined)).sort()).toEqual([first, second, third])
  })

  it("refuses sorts HubSpot refuses: 400 VALIDATION_ERROR, nothing answered", async () => {
    for (const sorts of [
      [{ propertyName: "createdate", direction: "DESC" }],
      [{ propertyName: "createdate", direction: "descending" }],
      [{ direction: "DESCENDING" }],
      ["createdate", "name"],
      ["no_such_property"],
      ["-"],
      [42],
      "createdate"
    ]) {
      const answer = await refusal(sorts)
      expect({ sorts, status: answer.status, category: answer.body.category }).toEqual({
        sorts,
        status: 400,
        category: "VALIDATION_ERROR"
      })
    }
  })
})

describe("the fake HubSpot's search index lags new objects by default", () => {
  it(`a new company is searchable only ${DEFAULT_SEARCH_LAG_MS} ms later; reads by id see it at once`, async () => {
    expect(DEFAULT_SEARCH_LAG_MS).toBeGreaterThanOrEqual(1000)
    const lagging = await startFakeHubSpot()
    try {
      const hubspot = new Client({ accessToken: token, basePath: lagging.url, numberOfApiCallRetries: 0 })
      const company = await hubspot.crm.companies.basicApi.create({ properties: { domain: "globex.com" } })
      const find = () =>
        hubspot.crm.companies.searchApi.doSearch({
          filterGroups: [{ filters: [{ propertyName: "domain", operator: "EQ" as never, value: "globex.com" }] }],
          limit: 1
        })
      expect((await find()).results).toEqual([])
      expect((await hubspot.crm.companies.basicApi.getById(company.id)).id).toBe(company.id)
      await new Promise((resolve) => setTimeout(resolve, DEFAULT_SEARCH_LAG_MS + 100))
      expect((await find()).results.map((c) => c.id)).toEqual([company.id])
    } finally {
      await lagging.close()
    }
  })
})
