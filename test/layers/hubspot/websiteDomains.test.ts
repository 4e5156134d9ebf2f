import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as MockEnricher from "../../../layers/mock/Enricher.js"
import { AuditLog } from "../../../services/AuditLog.js"
import { memoryEnv, sampleLead } from "../../support/env.js"
import { hubSpotAgainstFake } from "../../support/hubspot.js"
import { awaitStatus, startConsumer, submit } from "../../support/pipeline.js"

/** A provider that knows each company under the domain as the lead's website spells it (DNS resolves either). */
const enricher = MockEnricher.layerWith(
  ["initech.com.", "münchen.de", "acme_corp.com", "192.168.0.1"].map((domain) => ({
    domain,
    name: `Company of ${domain}`,
    employees: 250
  }))
)

describe("a lead whose website is no plain DNS name", () => {
  it.scopedLive("ends SYNCED: the domain is normalised, or left out and the firmographics go to the contact", () =>
    Effect.gen(function* () {
      const { fake, crm } = yield* hubSpotAgainstFake()
      const websites = ["https://www.initech.com./about", "https://münchen.de", "http://acme_corp.com", "192.168.0.1"]
      const { done, rows } = yield* Effect.gen(function* () {
        const leads = yield* Effect.forEach(websites, (website, i) =>
          submit(sampleLead({ email: `lead${i}@example-${i}.com`, website }))
        )
        yield* startConsumer
        const done = yield* Effect.forEach(leads, ({ lead }) => awaitStatus(lead.id, ["SYNCED", "FAILED"], 15_000))
        const audit = yield* AuditLog
        return { done, rows: (yield* Effect.forEach(done, (lead) => audit.listForLead(lead.id))).flat() }
      }).pipe(Effect.provide(Layer.mergeAll(memoryEnv(), enricher, crm)))

      expect(done.map((lead) => [lead.status, lead.error])).toEqual(websites.map(() => ["SYNCED", undefined]))
      const syncs = rows.filter((row) => row.tool === "sync_firmographics")
      expect(syncs.map((row) => [row.status, (row.result as { object?: string } | undefined)?.object])).toEqual([
        ["SUCCEEDED", "company"],
        ["SUCCEEDED", "company"],
        ["SUCCEEDED", "contact"],
        ["SUCCEEDED", "contact"]
      ])
      expect(new Set(fake.records.companies?.map((company) => company.properties.domain))).toEqual(
        new Set(["initech.com", "xn--mnchen-3ya.de"])
      )
    })
  )
})
