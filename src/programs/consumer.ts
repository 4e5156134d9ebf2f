import * as Layer from "effect/Layer"
import * as CloudWatchEmf from "../../layers/observability/CloudWatchEmf.js"
import * as Tracing from "../../layers/observability/Tracing.js"
import { checkConfig } from "../../layers/presets.js"
import { runConsumer } from "../pipeline/consumer.js"
import { explainListenFailure } from "./listen.js"
import { banner } from "./banner.js"
import { consumerDefaults } from "./defaults.js"
import { runProgram } from "./main.js"
import * as MemoryRelease from "./memoryRelease.js"
import { MetricsServerLive } from "./metricsServer.js"
import { ServicesLive } from "./services.js"

/**
 * The consumer program: the worker, the outbox sweeper, a metrics endpoint on METRICS_PORT, CloudWatch EMF when
 * enabled, and the memory release after bursts.
 */
export const ConsumerProgram = banner("RevenueFlow consumer is running", { api: false, consumer: true }).pipe(
  Layer.provide(
    Layer.mergeAll(
      Layer.scopedDiscard(runConsumer),
      MetricsServerLive.pipe(explainListenFailure("METRICS_PORT")),
      CloudWatchEmf.layerConfig,
      MemoryRelease.layerFromAppConfig
    )
  ),
  Layer.provide(ServicesLive),
  Layer.provide(Tracing.layerConfig("revenueflow-consumer"))
)

runProgram(ConsumerProgram, checkConfig, "json", consumerDefaults)
