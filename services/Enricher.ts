import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import type * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import type { Enrichment } from "../src/domain/enrichment.js"
import type { CircuitOpen } from "./CircuitBreaker.js"

/**
 * The provider failed: the job retries. `transient` (absent: true) says whether it was the provider being down (5xx,
 * 429, a timeout, the network) rather than refusing the request (a bad key, a 4xx), which is what counts toward
 * opening its circuit breaker.
 */
export class EnrichmentFailed extends Schema.TaggedError<EnrichmentFailed>()("EnrichmentFailed", {
  domain: Schema.String,
  message: Schema.String,
  transient: Schema.optional(Schema.Boolean)
}) {}

export declare namespace Enricher {
  export interface Service {
    /**
     * Company data for a domain; None when the provider knows nothing of it (or it is a free-mail domain). CircuitOpen:
     * the provider's breaker (see `breaker`) refuses calls for now; the job waits.
     */
    readonly enrich: (domain: string) => Effect.Effect<Option.Option<Enrichment>, EnrichmentFailed | CircuitOpen>
    /**
     * The circuit breaker a remote provider runs its calls through (the CircuitBreaker in the caller's context, by
     * this name; only its calls: an answer it keeps is served while the breaker is open), so that while the provider
     * is down leads wait without spending attempts instead of being dead-lettered within seconds; named here for the
     * operator's views: a remote implementation runs its calls through `throughBreaker(breaker, call, isOutage)`
     * (exported from the package's root), as the HTTP enricher does. A local provider (a table in memory) names none.
     */
    readonly breaker?: string
  }
}

/** Company enrichment by domain. Layers: mock (built-in table), http (Clearbit-style provider). */
export class Enricher extends Context.Tag("revenueflow/Enricher")<Enricher, Enricher.Service>() {}
