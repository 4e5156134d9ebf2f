import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { AppConfig } from "../services/AppConfig.js"
import * as BedrockAnalyzer from "./bedrock/Analyzer.js"
import * as BullMqQueue from "./bullmq/JobQueue.js"
import * as HeuristicAnalyzer from "./heuristic/Analyzer.js"
import * as HubSpotCrm from "./hubspot/CrmExecutor.js"
import * as HttpEnricher from "./http/Enricher.js"
import * as MemoryBreaker from "./memory/CircuitBreaker.js"
import * as MemoryIdempotency from "./memory/Idempotency.js"
import * as MemoryQueue from "./memory/JobQueue.js"
import * as MemoryRateLimiter from "./memory/RateLimiter.js"
import * as MockCrm from "./mock/CrmExecutor.js"
import * as MockEnricher from "./mock/Enricher.js"
import * as Metrics from "./observability/Metrics.js"
import * as Stores from "./postgres/stores.js"
import * as RedisIdempotency from "./redis/Idempotency.js"
import * as RedisRateLimiter from "./redis/RateLimiter.js"
import * as SalesforceCrm from "./salesforce/CrmExecutor.js"

/** Stores: Postgres when DATABASE_URL is set, else embedded PGlite in DATA_DIR. */
const stores = (config: AppConfig.Service) =>
  Option.isSome(config.databaseUrl) ? Stores.layerPostgresConfig : Stores.layerPglite

/** Queue, rate limits and idempotency: Redis / BullMQ when REDIS_URL is set, else in-process memory. */
const coordination = (config: AppConfig.Service) =>
  Option.isSome(config.redisUrl)
    ? Layer.mergeAll(BullMqQueue.layerConfig, RedisRateLimiter.layerConfig, RedisIdempotency.layerConfig)
    : Layer.mergeAll(
        MemoryQueue.layer({
          attempts: config.jobAttempts,
          backoffMs: config.jobBackoffMs,
          shutdownTimeoutMs: config.shutdownTimeoutMs
        }),
        MemoryRateLimiter.layer,
        MemoryIdempotency.layer
      )

const crm = (config: AppConfig.Service) => {
  switch (config.crmProvider) {
    case "SALESFORCE":
      return SalesforceCrm.layerConfig
    case "HUBSPOT":
      return HubSpotCrm.layerConfig
    case "MOCK":
      return MockCrm.layer
  }
}

const analyzer = (config: AppConfig.Service) =>
  config.analyzer === "BEDROCK" ? BedrockAnalyzer.layerConfig : HeuristicAnalyzer.layer

const enricher = (config: AppConfig.Service) =>
  config.enrichmentProvider === "HTTP" ? HttpEnricher.layerConfig : MockEnricher.layer

/**
 * Every service the programs need, each chosen by configuration. With nothing set this is the embedded
 * environment (PGlite, in-memory queue and limits, mock CRM, heuristic analyser, mock enrichment).
 */
export const layerFromConfig = Layer.unwrapEffect(
  Effect.map(AppConfig, (config) =>
    Layer.mergeAll(
      stores(config),
      coordination(config),
      MemoryBreaker.layer,
      // the CRM reports its own API usage into the shared metrics (one instance: layers are memoised by reference)
      Layer.provide(crm(config), Metrics.layer),
      analyzer(config),
      enricher(config),
      Metrics.layer
    )
  )
)
