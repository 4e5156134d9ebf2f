import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { companyDomain, type Enrichment, isFreeMailDomain } from "../../src/domain/enrichment.js"
import { Enricher } from "../../services/Enricher.js"
import { companies } from "./companies.js"

/** An enricher answering from a fixed table; free-mail domains are never enriched, even if listed. */
export const make = (table: ReadonlyArray<Enrichment>): Enricher.Service => {
  const byDomain = new Map(table.map((company) => [companyDomain(company.domain), company] as const))
  return Enricher.of({
    enrich: (domain) =>
      Effect.sync(() => {
        const key = companyDomain(domain)
        return isFreeMailDomain(key) ? Option.none() : Option.fromNullable(byDomain.get(key))
      })
  })
}

/** The mock enricher over a caller-supplied table (tests). */
export const layerWith = (table: ReadonlyArray<Enrichment>): Layer.Layer<Enricher> =>
  Layer.succeed(Enricher, make(table))

/** The mock enricher over the built-in table of fictional companies (embedded / dev default). */
export const layer: Layer.Layer<Enricher> = layerWith(companies)
