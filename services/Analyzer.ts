import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import type * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import type { Analysis } from "../src/domain/analysis.js"
import type { Enrichment } from "../src/domain/enrichment.js"
import type { LeadInput } from "../src/domain/lead.js"

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
    /** Score a lead. A reply that cannot be decoded ends as a "Manual Review" analysis, never a failure loop. */
    readonly analyze: (input: AnalysisInput) => Effect.Effect<Analysis, AnalysisFailed>
  }
}

/** Lead analysis. Layers: heuristic (deterministic, default), bedrock (Converse with a structured-output tool). */
export class Analyzer extends Context.Tag("revenueflow/Analyzer")<Analyzer, Analyzer.Service>() {}
