import * as Config from "effect/Config"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { AppConfig } from "../services/AppConfig.js"
import { Metrics as MetricsService } from "../services/Metrics.js"
import { loadConfig } from "./shared/config.js"
import { config as bedrockConfig } from "./bedrock/config.js"
import { config as breakerConfig } from "./shared/breaker.js"
import {
  checkConfigWith,
  queueSection,
  redisSection,
  type Selectors,
  selectors,
  sharedBreakerSection,
  sharedClaimsSection,
  sharedQueueSection,
  storeSection
} from "./configCheck.js"
import * as HeuristicAnalyzer from "./heuristic/Analyzer.js"
import * as HttpEnricher from "./http/Enricher.js"
import { hubSpotConfig } from "./hubspot/config.js"
import { queue, stores } from "./ingestPreset.js"
import * as MemoryBreaker from "./memory/CircuitBreaker.js"
import * as MemoryIdempotency from "./memory/Idempotency.js"
import * as MemoryRateLimiter from "./memory/RateLimiter.js"
import * as MockCrm from "./mock/CrmExecutor.js"
import * as MockEnricher from "./mock/Enricher.js"
import * as CloudWatchEmf from "./observability/CloudWatchEmf.js"
import { awsRegionConfig } from "./aws/region.js"
import * as Metrics from "./observability/Metrics.js"
import { importSelected, lazySelected } from "./shared/optionalPackage.js"
import { salesforceConfig } from "./salesforce/config.js"

export { checkIngestConfig, layerIngestFromConfig } from "./ingestPreset.js"

/** Queue (QUEUE_BACKEND, see ingestPreset.ts), rate limits and idempotency (Redis when REDIS_URL is set, else memory). */
const coordination = (config: AppConfig.Service) => Layer.mergeAll(queue(config), limits(config))

/** Rate limits and idempotency alone (no queue): Redis when REDIS_URL is set, else in-process memory. */
const limits = (config: AppConfig.Service) =>
  Option.isSome(config.redisUrl)
    ? lazySelected("REDIS_URL", async () => {
        const [limiter, idempotency] = await Promise.all([
          import("./redis/RateLimiter.js"),
          import("./redis/Idempotency.js")
        ])
        return Layer.mergeAll(limiter.layerConfig, idempotency.layerConfig)
      })
    : Layer.mergeAll(MemoryRateLimiter.layer, MemoryIdempotency.layer)

/**
 * The circuit breaker: per process, or shared through Redis (CIRCUIT_BREAKER=REDIS, which needs REDIS_URL: refused
 * without it, here too for a layer built with no check before, with the check's words, see sharedBreakerSection).
 */
const breaker = (config: AppConfig.Service) =>
  config.breaker === "REDIS"
    ? Layer.unwrapEffect(
        Effect.as(
          loadConfig(
            Config.all(
              sharedBreakerSection({ circuitBreaker: config.breaker, redisUrl: Option.isSome(config.redisUrl) })
            )
          ),
          lazySelected("CIRCUIT_BREAKER=REDIS", () => import("./redis/CircuitBreaker.js").then((m) => m.layerConfig))
        )
      )
    : MemoryBreaker.layerConfig

const crm = (config: AppConfig.Service) => {
  switch (config.crmProvider) {
    case "SALESFORCE":
      return lazySelected("CRM_PROVIDER=SALESFORCE", () =>
        import("./salesforce/CrmExecutor.js").then((m) => m.layerConfig)
      )
    case "HUBSPOT":
      return lazySelected("CRM_PROVIDER=HUBSPOT", () => import("./hubspot/CrmExecutor.js").then((m) => m.layerConfig))
    case "MOCK":
      return MockCrm.layerConfig
  }
}

/** Bedrock reports token usage and latency into the shared metrics. */
const bedrockWithMetrics = Layer.unwrapEffect(
  Effect.zipWith(
    MetricsService,
    importSelected("ANALYZER=BEDROCK", () => import("./bedrock/Analyzer.js")),
    (metrics, bedrock) => bedrock.layerConfigWith({ onUsage: metrics.aiUsage })
  )
).pipe(Layer.provide(Metrics.layer))

const analyzer = (config: AppConfig.Service) =>
  config.analyzer === "BEDROCK" ? bedrockWithMetrics : HeuristicAnalyzer.layer

const enricher = (config: AppConfig.Service) =>
  config.enrichmentProvider === "HTTP" ? HttpEnricher.layerConfig : MockEnricher.layer

/**
 * Every service the consumer and `npm start` need, each chosen by configuration (the ingest's are in
 * ingestPreset.ts). With nothing set this is the embedded
 * environment (PGlite, in-memory queue and limits, mock CRM, heuristic analyser, mock enrichment).
 */
export const layerFromConfig = Layer.unwrapEffect(
  Effect.map(AppConfig, (config) =>
    Layer.mergeAll(
      stores(config),
      coordination(config),
      breaker(config),
      // the CRM reports its own API usage into the shared metrics (one instance: layers are memoised by reference)
      Layer.provide(crm(config), Metrics.layer),
      analyzer(config),
      enricher(config),
      Metrics.layer
    )
  )
)

/**
 * The safety chain's services alone — rate limits, idempotency, breaker and the CRM — for a program that has the
 * stores, queue and metrics already (the ingest's /mcp, built on its first request). Their settings are checked
 * first, all at once (InvalidConfiguration lists every bad key). The CRM reports usage into the caller's Metrics.
 */
export const layerSafetyChainFromConfig = Layer.unwrapEffect(
  Effect.gen(function* () {
    const config = yield* AppConfig
    const selected = yield* loadConfig(selectors)
    yield* loadConfig(
      Config.all([...crmSections(config), ...sharedBreakerSection(selected), ...sharedClaimsSection(selected)])
    )
    return Layer.mergeAll(limits(config), breaker(config), crm(config))
  })
)

/** The settings of the breaker and the CRM the selectors choose. */
const crmSections = (s: Pick<Selectors, "crmProvider">): ReadonlyArray<Config.Config<unknown>> => [
  breakerConfig,
  ...(s.crmProvider === "MOCK" ? [MockCrm.latencyConfig] : []),
  ...(s.crmProvider === "SALESFORCE" ? [salesforceConfig] : []),
  ...(s.crmProvider === "HUBSPOT" ? [hubSpotConfig] : [])
]

/** The settings of the CRM (and its breaker), analyser and enrichment provider the selectors choose. */
const consumerSections = (s: Selectors): ReadonlyArray<Config.Config<unknown>> => [
  ...crmSections(s),
  ...sharedBreakerSection(s),
  ...(s.analyzer === "BEDROCK" ? [bedrockConfig, awsRegionConfig("ANALYZER=BEDROCK")] : []),
  ...(s.enrichmentProvider === "HTTP" ? [HttpEnricher.config] : [])
]

/**
 * Reads every setting `layerFromConfig` needs before anything starts (the core, then the store, queue, CRM,
 * analyser and enrichment the environment selects, all in one pass), so start-up fails once with every missing or
 * invalid key listed (never a value), instead of one layer at a time.
 */
export const checkConfig = checkConfigWith((s) => [
  ...storeSection(s),
  ...queueSection(s),
  ...redisSection(s),
  ...sharedQueueSection(s),
  ...consumerSections(s),
  CloudWatchEmf.config
])
