import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { Analyzer } from "../../services/Analyzer.js"
import { Enricher } from "../../services/Enricher.js"

/** Stand-ins for the remote services, named as the HTTP enrichment provider and Bedrock name their breakers. */
export const remoteEnricher = Layer.succeed(
  Enricher,
  Enricher.of({ breaker: "enrichment", enrich: () => Effect.succeed(Option.none()) })
)
export const remoteAnalyzer = Layer.succeed(
  Analyzer,
  Analyzer.of({ breaker: "bedrock", analyze: () => Effect.die("not called") })
)
