/**
 * The circuit breakers' names: what the gauge, the console's /ops/state, the CloudWatch EMF lines (the Provider
 * dimension) and the stack's alarms call them. One module with no dependencies, so the layers that run the breakers,
 * the ingest that reports them and the CDK stack that alarms on them (infra/lib/scaling.ts) cannot drift apart.
 */

/** The HTTP enrichment provider's breaker (layers/http/Enricher.ts). */
export const ENRICHMENT_BREAKER = "enrichment"
/** Bedrock's breaker (layers/bedrock/Analyzer.ts). */
export const BEDROCK_BREAKER = "bedrock"
/** The CRM's breaker: its provider in lower case, as CrmExecutor.provider names it ("salesforce", "hubspot"...). */
export const crmBreaker = (provider: string): string => provider.toLowerCase()

/** The choices that decide which breakers a consumer runs (AppConfig's, as the stack's configuration sets them). */
export interface BreakerChoices {
  readonly crmProvider: string
  readonly enrichmentProvider: string | undefined
  readonly analyzer: string
}

/**
 * The breakers a consumer runs with `choices` (src/pipeline/process.ts), the CRM's first: the enrichment provider's
 * with ENRICHMENT_PROVIDER=HTTP and Bedrock's with ANALYZER=BEDROCK. The heuristic analyser and the mock enrichment
 * table are local and run none.
 */
export const consumerBreakers = (choices: BreakerChoices): ReadonlyArray<string> => [
  crmBreaker(choices.crmProvider),
  ...(choices.enrichmentProvider === "HTTP" ? [ENRICHMENT_BREAKER] : []),
  ...(choices.analyzer === "BEDROCK" ? [BEDROCK_BREAKER] : [])
]
