import * as Layer from "effect/Layer"
import * as Tracing from "../../layers/observability/Tracing.js"
import { runConsumer } from "../pipeline/consumer.js"
import { banner } from "./banner.js"
import { runProgram } from "./main.js"
import { MetricsServerLive } from "./metricsServer.js"
import { ServicesLive } from "./services.js"

/** The consumer program: the worker, the outbox sweeper and a metrics endpoint on METRICS_PORT. */
export const ConsumerProgram = banner("RevenueFlow consumer is running", { api: false, consumer: true }).pipe(
  Layer.provide(Layer.mergeAll(Layer.scopedDiscard(runConsumer), MetricsServerLive)),
  Layer.provide(ServicesLive),
  Layer.provide(Tracing.layerConfig("revenueflow-consumer"))
)

runProgram(ConsumerProgram, "json")
