import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import type * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import type { Analysis } from "../src/domain/analysis.js"
import type { Enrichment } from "../src/domain/enrichment.js"
import type { LeadInput } from "../src/domain/lead.js"
import type { CircuitOpen } from "./CircuitBreaker.js"
import type { JobPermanent } from "./JobQueue.js"

/** The model could not be reached or kept failing transiently (throttled, 5xx, timeout): the job retries. */
export class AnalysisFailed extends Schema.TaggedError<AnalysisFailed>()("AnalysisFailed", {
  message: Schema.String,
  /** Throttled by the provider: delay rather than spend an attempt. */
  retryAfterMs: Schema.optional(Schema.Number)
}) {}

export interface AnalysisInput {
  readonly leadId: string
  readonly lead: LeadInput
  readonly enrichment: Option.Option<Enrichment>
}

export declare namespace Analyzer {
  export interface Service {
    /**
     * Score a lead. A reply that cannot be decoded ends as a "Manual Review" analysis, never a failure loop.
     * AnalysisFailed is transient (the job retries or is delayed); JobPermanent is a request the model service will
     * never accept as configured (model id, permissions, a request it rejects): the job is dead-lettered at once with
     * that reason, which must name what to check and hold no lead data.
     */
    readonly analyze: (input: AnalysisInput) => Effect.Effect<Analysis, AnalysisFailed | JobPermanent | CircuitOpen>
    /**
     * The circuit breaker a model service runs its calls through (the CircuitBreaker in the caller's context, by this
     * name), so that while it fails (5xx, timeouts, the network) leads wait without spending attempts instead of being
     * dead-lettered within seconds (CircuitOpen: the job waits); named here for the operator's views: a remote
     * implementation runs its calls through `throughBreaker(breaker, call, isOutage)` (exported from the package's
     * root), as the Bedrock analyser does. A local analyser (the heuristic) names none.
     */
    readonly breaker?: string
  }
}

/** Lead analysis. Layers: heuristic (deterministic, default), bedrock (Converse with a structured-output tool). */
export class Analyzer extends Context.Tag("revenueflow/Analyzer")<Analyzer, Analyzer.Service>() {}
