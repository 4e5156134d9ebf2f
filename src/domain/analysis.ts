import * as Schema from "effect/Schema"
import { Enrichment } from "./enrichment.js"

export const Intent = Schema.Literal("Low Fit", "Medium Fit", "High Fit", "Manual Review")
export type Intent = typeof Intent.Type

export const Decision = Schema.Literal("Route to SDR", "Nurture", "Ignore")
export type Decision = typeof Decision.Type

export const EvidenceSource = Schema.Literal("ENRICHMENT", "MARKETING", "PRODUCT", "CRM", "COMPUTED")
export type EvidenceSource = typeof EvidenceSource.Type

export const ClaimType = Schema.Literal("FIRMOGRAPHIC", "BEHAVIOR", "PIPELINE", "SCORE")
export type ClaimType = typeof ClaimType.Type

/** Evidence values are scalars or lists of scalars; compared by value when grounding. */
export const EvidenceValue = Schema.Union(
  Schema.String,
  Schema.Number,
  Schema.Boolean,
  Schema.Null,
  Schema.Array(Schema.Union(Schema.String, Schema.Number, Schema.Boolean))
)
export type EvidenceValue = typeof EvidenceValue.Type

/** One claim the analyser makes, citing where its value came from. `source` is checked by grounding, not here. */
export const Evidence = Schema.Struct({
  source: Schema.String.annotations({ description: "ENRICHMENT | MARKETING | PRODUCT | CRM | COMPUTED" }),
  fieldPath: Schema.String.pipe(Schema.minLength(1), Schema.maxLength(128)),
  value: EvidenceValue,
  claimType: ClaimType
}).annotations({ identifier: "Evidence" })
export type Evidence = typeof Evidence.Type

/** What an analyser returns about a lead. */
export const Analysis = Schema.Struct({
  fitScore: Schema.Number.pipe(Schema.between(0, 100)),
  intent: Intent,
  decision: Decision,
  reasoning: Schema.String.pipe(Schema.maxLength(4000)),
  evidence: Schema.Array(Evidence).pipe(Schema.maxItems(50))
}).annotations({ identifier: "Analysis" })
export type Analysis = typeof Analysis.Type

export const GroundingOutcome = Schema.Literal("VALID", "DOWNGRADED", "REJECTED")
export type GroundingOutcome = typeof GroundingOutcome.Type

/** The verdict of grounding an analysis against the data the pipeline holds. */
export const Grounding = Schema.Struct({
  outcome: GroundingOutcome,
  reasons: Schema.Array(Schema.String),
  analysis: Analysis,
  /**
   * The company data the analysis was made and grounded with (null: none), kept with it so that a retry plans from
   * the same data: a provider answering otherwise by then (a record it was still researching) would change the plan's
   * parameters, so its action keys, and the CRM would get an action twice. Absent on analyses saved before it was
   * kept (a retry of one plans from the provider's answer then, as it did).
   */
  enrichment: Schema.optional(
    Schema.NullOr(Enrichment).annotations({
      description: "The company data the analysis was made and grounded with; null: none"
    })
  )
}).annotations({ identifier: "Grounding" })
export type Grounding = typeof Grounding.Type
