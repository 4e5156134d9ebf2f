import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { Enrichment } from "../../../src/domain/enrichment.js"
import { companies } from "../../../layers/mock/companies.js"
import * as MockEnricher from "../../../layers/mock/Enricher.js"
import { Enricher } from "../../../services/Enricher.js"

describe("mock Enricher", () => {
  it("ships a table of about a dozen distinct, schema-valid companies", () => {
    expect(companies.length).toBeGreaterThanOrEqual(12)
    expect(new Set(companies.map((c) => c.domain)).size).toBe(companies.length)
    for (const company of companies) expect(Schema.is(Enrichment)(company)).toBe(true)
  })

  it.layer(MockEnricher.layer)((it) => {
    it.effect("finds every company in its table by domain", () =>
      Effect.gen(function* () {
        const enricher = yield* Enricher
        for (const company of companies) {
          expect(yield* enricher.enrich(company.domain)).toEqual(Option.some(company))
        }
      })
    )

    it.effect("ignores case, surrounding space and a www. prefix", () =>
      Effect.gen(function* () {
        const enricher = yield* Enricher
        const found = yield* enricher.enrich("  WWW.Globex.COM ")
        expect(Option.map(found, (c) => c.name)).toEqual(Option.some("Globex Corporation"))
      })
    )

    it.effect("knows nothing of unknown or free-mail domains", () =>
      Effect.gen(function* () {
        const enricher = yield* Enricher
        for (const domain of ["unknown-startup.io", "gmail.com", "Outlook.com", "acme.com.evil.io"]) {
          expect(yield* enricher.enrich(domain)).toEqual(Option.none())
        }
      })
    )
  })

  it.effect("layerWith serves a caller's table, still refusing free-mail domains", () =>
    Effect.gen(function* () {
      const enricher = yield* Enricher
      expect(yield* enricher.enrich("tiny.example")).toEqual(Option.some({ domain: "tiny.example", name: "Tiny" }))
      expect(yield* enricher.enrich("gmail.com")).toEqual(Option.none())
      expect(yield* enricher.enrich("acme.com")).toEqual(Option.none())
    }).pipe(
      Effect.provide(
        MockEnricher.layerWith([
          { domain: "tiny.example", name: "Tiny" },
          { domain: "gmail.com", name: "Not A Company" }
        ])
      )
    )
  )
})
