import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { Analyzer } from "../../services/Analyzer.js"
import { CrmExecutor } from "../../services/CrmExecutor.js"
import { Enricher } from "../../services/Enricher.js"

/**
 * The names of the circuit breakers the pipeline runs with the services in context (src/pipeline/process.ts): the
 * CRM's (its provider), then the enrichment provider's and the analyser's when they are remote and name one. What the
 * CloudWatch EMF lines and the console's /ops/state report.
 */
export const breakerNamesInContext: Effect.Effect<ReadonlyArray<string>> = Effect.gen(function* () {
  const crm = yield* Effect.serviceOption(CrmExecutor)
  const enricher = yield* Effect.serviceOption(Enricher)
  const analyzer = yield* Effect.serviceOption(Analyzer)
  return [
    ...Option.toArray(Option.map(crm, (service) => service.provider)),
    ...Option.toArray(Option.flatMapNullable(enricher, (service) => service.breaker)),
    ...Option.toArray(Option.flatMapNullable(analyzer, (service) => service.breaker))
  ]
})
