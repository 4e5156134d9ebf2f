import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { memoryEnv, sampleLead } from "../../support/env.js"
import { awaitStatus, startConsumer, submit } from "../../support/pipeline.js"
import { hubSpotAgainstFake } from "../../support/hubspot.js"

const domains = ["acme.com", "globex.com", "initech.com"]

describe("HubSpot companies under concurrency and search lag", () => {
  it.scopedLive("12 concurrent leads of 3 domains make exactly one company per domain, every contact tied to it", () =>
    Effect.gen(function* () {
      // HubSpot's search index lags new objects by seconds: a search cannot tell whether a company exists
      const { fake, crm } = yield* hubSpotAgainstFake({ searchLagMs: 3000 })
      const env = Layer.merge(memoryEnv({ env: { WORKER_CONCURRENCY: "6" } }), crm)
      yield* Effect.gen(function* () {
        const leads = yield* Effect.forEach(Array.from({ length: 12 }), (_, i) =>
          submit(sampleLead({ email: `buyer${i}@${domains[i % domains.length]}` }))
        )
        yield* startConsumer
        yield* Effect.forEach(leads, ({ lead }) => awaitStatus(lead.id, ["SYNCED"], 20_000), {
          concurrency: "unbounded"
        })
      }).pipe(Effect.provide(env))

      const companies = fake.records.companies ?? []
      expect(companies.map((c) => c.properties.domain).sort()).toEqual(domains)
      for (const company of companies)
        expect(company.properties.revenueflow_company_key).toBe(company.properties.domain)
      const contacts = fake.records.contacts ?? []
      expect(contacts).toHaveLength(12)
      for (const contact of contacts) {
        const domain = contact.properties.email!.split("@")[1]
        const company = companies.find((c) => c.properties.domain === domain)!
        expect(fake.associations.has(`contacts:${contact.id}->companies:${company.id}`)).toBe(true)
      }
    })
  )

  it.scopedLive(
    "company upserts of one domain meeting 423 Locked wait out the lock: every lead SYNCED, one company",
    () =>
      Effect.gen(function* () {
        // HubSpot locks a company upserted in a very short period for 2 s (423); the search lag sends every lead to the
        // upsert
        const { fake, crm } = yield* hubSpotAgainstFake({ searchLagMs: 10_000, companyLockMs: 2000 })
        const env = Layer.merge(memoryEnv({ env: { WORKER_CONCURRENCY: "4" } }), crm)
        const done = yield* Effect.gen(function* () {
          const leads = yield* Effect.forEach(Array.from({ length: 4 }), (_, i) =>
            submit(sampleLead({ email: `locked${i}@acme.com` }))
          )
          yield* startConsumer
          return yield* Effect.forEach(leads, ({ lead }) => awaitStatus(lead.id, ["SYNCED", "FAILED"], 30_000), {
            concurrency: "unbounded"
          })
        }).pipe(Effect.provide(env))

        expect(fake.locked()).toBeGreaterThan(0)
        expect(done.map((lead) => lead.status)).toEqual(["SYNCED", "SYNCED", "SYNCED", "SYNCED"])
        expect((fake.records.companies ?? []).map((c) => c.properties.domain)).toEqual(["acme.com"])
        expect(fake.records.contacts).toHaveLength(4)
      }),
    45_000
  )
})
