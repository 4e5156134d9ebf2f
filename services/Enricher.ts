import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import type * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import type { Enrichment } from "../src/domain/enrichment.js"

/** The provider failed transiently (timeout, 5xx): the job retries. */
export class EnrichmentFailed extends Schema.TaggedError<EnrichmentFailed>()("EnrichmentFailed", {
  domain: Schema.String,
  message: Schema.String
}) {}

export declare namespace Enricher {
  export interface Service {
    /** Company data for a domain; None when the provider knows nothing of it (or it is a free-mail domain). */
    readonly enrich: (domain: string) => Effect.Effect<Option.Option<Enrichment>, EnrichmentFailed>
    /**
     * The circuit breaker a remote provider's calls go through (the pipeline's CircuitBreaker, by this name): while
     * the provider is down, leads wait without spending attempts instead of being dead-lettered within seconds.
     * A local provider (a table in memory) names none.
     */
    readonly breaker?: string
  }
}

/** Company enrichment by domain. Layers: mock (built-in table), http (Clearbit-style provider). */
export class Enricher extends Context.Tag("revenueflow/Enricher")<Enricher, Enricher.Service>() {}
