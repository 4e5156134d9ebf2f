import * as Config from "effect/Config"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { AppConfig, appConfig } from "../services/AppConfig.js"
import { Metrics as MetricsService } from "../services/Metrics.js"
import { loadConfig } from "./aws/validate.js"
import * as BullMqOptions from "./bullmq/JobQueueOptions.js"
import { hubSpotConfig } from "./hubspot/config.js"
import * as PostgresJs from "./postgres/postgresJs.js"
import { salesforceConfig } from "./salesforce/config.js"
import { config as bedrockConfig } from "./bedrock/config.js"
import * as HeuristicAnalyzer from "./heuristic/Analyzer.js"
import * as HttpEnricher from "./http/Enricher.js"
import * as MemoryBreaker from "./memory/CircuitBreaker.js"
import * as MemoryIdempotency from "./memory/Idempotency.js"
import * as MemoryQueue from "./memory/JobQueue.js"
import * as MemoryRateLimiter from "./memory/RateLimiter.js"
import * as MockCrm from "./mock/CrmExecutor.js"
import * as MockEnricher from "./mock/Enricher.js"
import * as CloudWatchEmf from "./observability/CloudWatchEmf.js"
import * as Metrics from "./observability/Metrics.js"
import * as Stores from "./postgres/stores.js"

/**
 * A layer whose module is imported only when the environment selects it: the CRM clients, the AWS SDK and BullMQ
 * cost hundreds of milliseconds to load, which an embedded start (or a consumer on another CRM) never pays.
 */
const lazy = <A, E, R>(load: () => Promise<Layer.Layer<A, E, R>>): Layer.Layer<A, E, R> =>
  Layer.unwrapEffect(Effect.promise(load))

/** Stores: Postgres when DATABASE_URL is set, else embedded PGlite in DATA_DIR. */
const stores = (config: AppConfig.Service) =>
  Option.isSome(config.databaseUrl) ? Stores.layerPostgresConfig : Stores.layerPglite

/** Queue, rate limits and idempotency: Redis / BullMQ when REDIS_URL is set, else in-process memory. */
const coordination = (config: AppConfig.Service) =>
  Option.isSome(config.redisUrl)
    ? lazy(async () => {
        const [queue, limiter, idempotency] = await Promise.all([
          import("./bullmq/JobQueue.js"),
          import("./redis/RateLimiter.js"),
          import("./redis/Idempotency.js")
        ])
        return Layer.mergeAll(queue.layerConfig, limiter.layerConfig, idempotency.layerConfig)
      })
    : Layer.mergeAll(
        MemoryQueue.layer({
          attempts: config.jobAttempts,
          backoffMs: config.jobBackoffMs,
          shutdownTimeoutMs: config.shutdownTimeoutMs
        }),
        MemoryRateLimiter.layer,
        MemoryIdempotency.layer
      )

/** The circuit breaker: per process, or shared through Redis (CIRCUIT_BREAKER=REDIS, needs REDIS_URL). */
const breaker = (config: AppConfig.Service) =>
  config.breaker === "REDIS" && Option.isSome(config.redisUrl)
    ? lazy(() => import("./redis/CircuitBreaker.js").then((m) => m.layerConfig))
    : MemoryBreaker.layer

const crm = (config: AppConfig.Service) => {
  switch (config.crmProvider) {
    case "SALESFORCE":
      return lazy(() => import("./salesforce/CrmExecutor.js").then((m) => m.layerConfig))
    case "HUBSPOT":
      return lazy(() => import("./hubspot/CrmExecutor.js").then((m) => m.layerConfig))
    case "MOCK":
      return MockCrm.layerConfig
  }
}

/** Bedrock reports token usage and latency into the shared metrics. */
const bedrockWithMetrics = Layer.unwrapEffect(
  Effect.zipWith(
    MetricsService,
    Effect.promise(() => import("./bedrock/Analyzer.js")),
    (metrics, bedrock) => bedrock.layerConfigWith({ onUsage: metrics.aiUsage })
  )
).pipe(Layer.provide(Metrics.layer))

const analyzer = (config: AppConfig.Service) =>
  config.analyzer === "BEDROCK" ? bedrockWithMetrics : HeuristicAnalyzer.layer

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
 * Reads every setting the selected environment needs before anything starts, so start-up fails once with every
 * missing or invalid key listed (never a value), instead of one layer at a time.
 */
export const checkConfig = Effect.gen(function* () {
  const config = yield* loadConfig(appConfig)
  const selected: Array<Config.Config<unknown>> = [CloudWatchEmf.config]
  if (Option.isSome(config.databaseUrl)) selected.push(PostgresJs.config)
  if (Option.isSome(config.redisUrl)) selected.push(BullMqOptions.config)
  if (config.crmProvider === "SALESFORCE") selected.push(salesforceConfig)
  if (config.crmProvider === "HUBSPOT") selected.push(hubSpotConfig)
  if (config.analyzer === "BEDROCK") selected.push(bedrockConfig)
  if (config.enrichmentProvider === "HTTP") selected.push(HttpEnricher.config)
  yield* loadConfig(Config.all(selected))
  return config
})
