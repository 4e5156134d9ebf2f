import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { call, orgWithExecutor, ref } from "./org.js"

// An org with State and Country/Territory Picklists (a setting many orgs turn on) takes only its own country names in
// its country fields. A form's "USA" or an enrichment's ISO code must not cost the lead its write: the write goes
// again without the country, which the result names, and a country the org has is written.

const countries = ["United States", "Germany", "France"]
const lead = (country: string) =>
  call({ tool: "upsert_lead", params: { ...ref, campaignId: "spring-2025", lastName: "Doe", country } })

describe("Salesforce with State and Country/Territory Picklists", () => {
  it.scopedLive("a country the org does not have is left out, named in omitted; the rest of the write is made", () =>
    Effect.gen(function* () {
      const { fake, crm } = yield* orgWithExecutor({ countries })
      const refused = yield* crm.execute(lead("USA"))
      expect(refused.detail).toMatchObject({
        object: "Lead",
        omitted: [{ field: "Country", reason: expect.stringContaining('"USA" is not one of the org\'s countries') }]
      })
      const [stored] = fake.records.Lead ?? []
      expect(stored).toMatchObject({ LastName: "Doe" })
      expect(stored?.Country).toBeUndefined()
      // the firmographics of an enrichment that speaks ISO codes: industry and size written, the country left out
      const synced = yield* crm.execute(
        call({
          tool: "sync_firmographics",
          params: { ...ref, industry: "Technology", employees: 250, country: "DE" }
        })
      )
      expect(synced.detail).toMatchObject({ omitted: [{ field: "Country" }] })
      expect(fake.records.Lead?.[0]).toMatchObject({ Industry: "Technology", NumberOfEmployees: 250 })
      // a name the org has is written
      const named = yield* crm.execute(lead("Germany"))
      expect(named.detail).not.toHaveProperty("omitted")
      expect(fake.records.Lead?.[0]?.Country).toBe("Germany")
      expect(fake.records.Lead).toHaveLength(1)
    })
  )
})
