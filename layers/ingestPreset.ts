import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { AppConfig } from "../services/AppConfig.js"
import { checkConfigWith, queueSection, redisSection, storeSection } from "./configCheck.js"
import * as MemoryQueue from "./memory/JobQueue.js"
import * as CloudWatchEmf from "./observability/CloudWatchEmf.js"
import * as Metrics from "./observability/Metrics.js"
import { lazySelected } from "./shared/optionalPackage.js"
import * as Stores from "./postgres/stores.js"
import { queueBackendConfig, selectedQueueBackend } from "./sqs/config.js"
import { checkedOr } from "./shared/config.js"

/** Stores: Postgres when DATABASE_URL is set, else embedded PGlite in DATA_DIR. */
export const stores = (config: AppConfig.Service) =>
  Option.isSome(config.databaseUrl) ? Stores.layerPostgresConfig : Stores.layerPglite

export const memoryQueue = (config: AppConfig.Service) =>
  MemoryQueue.layer({
    attempts: config.jobAttempts,
    backoffMs: config.jobBackoffMs,
    shutdownTimeoutMs: config.shutdownTimeoutMs
  })

/**
 * The queue alone, as QUEUE_BACKEND says: SQS (the Lambda handlers' queue), BULLMQ or MEMORY; unset, BullMQ when
 * REDIS_URL is set, else in-process memory.
 */
export const queue = (config: AppConfig.Service) =>
  Layer.unwrapEffect(
    Effect.map(checkedOr(queueBackendConfig), (backend) => {
      switch (selectedQueueBackend(backend, config.redisUrl)) {
        case "SQS":
          return lazySelected("QUEUE_BACKEND=SQS", () => import("./sqs/JobQueue.js").then((m) => m.layerConfig))
        case "BULLMQ":
          return lazySelected(Option.isSome(backend) ? "QUEUE_BACKEND=BULLMQ" : "REDIS_URL", () =>
            import("./bullmq/JobQueue.js").then((m) => m.layerConfig)
          )
        case "MEMORY":
          return memoryQueue(config)
      }
    })
  )

/**
 * What the ingest (and the operator CLI) use, chosen by configuration: the stores, the queue to enqueue on, and
 * metrics. No CRM, analyser, enrichment, rate limiter or breaker: their settings are neither read nor checked,
 * and their clients never loaded.
 */
export const layerIngestFromConfig = Layer.unwrapEffect(
  Effect.map(AppConfig, (config) => Layer.mergeAll(stores(config), queue(config), Metrics.layer))
)

/** Checks, in one pass, the core settings and those of the store and queue the environment selects. */
export const checkIngestConfig = checkConfigWith((s) => [
  ...storeSection(s),
  ...queueSection(s),
  ...redisSection(s),
  CloudWatchEmf.config
])

/** Checks the core settings and the store's (the CLI's `migrate`). */
export const checkStoreConfig = checkConfigWith(storeSection)
