import * as Layer from "effect/Layer"
import * as ConfigLayer from "../../layers/config.js"
import * as Logging from "../../layers/observability/Logger.js"
import { layerFromConfig } from "../../layers/presets.js"
import { runConsumer } from "../pipeline/consumer.js"
import { HttpServerLive } from "../http/server.js"
import { MetricsServerLive } from "./metricsServer.js"

/** The consumer as a layer: processes jobs and sweeps the outbox until the program stops. */
export const ConsumerLive = Layer.scopedDiscard(runConsumer)

/** Services chosen by configuration, with AppConfig. */
export const ServicesLive = layerFromConfig.pipe(Layer.provideMerge(ConfigLayer.layer))

/** The ingest program: the HTTP API. */
export const IngestProgram = HttpServerLive.pipe(Layer.provide(ServicesLive))

/** The consumer program: the worker, the outbox sweeper and a metrics endpoint on METRICS_PORT. */
export const ConsumerProgram = Layer.mergeAll(ConsumerLive, MetricsServerLive).pipe(Layer.provide(ServicesLive))

/** Both in one process (npm start): one set of services shared by the HTTP API and the worker. */
export const DevProgram = Layer.mergeAll(HttpServerLive, ConsumerLive).pipe(Layer.provide(ServicesLive))

export const logging = Logging.layerConfig
