import * as Layer from "effect/Layer"
import * as Tracing from "../../layers/observability/Tracing.js"
import { HttpServerLive } from "../http/server.js"
import { runConsumer } from "../pipeline/consumer.js"
import { runProgram } from "./main.js"
import { ServicesLive } from "./services.js"

/** Ingest and consumer in one process (npm start): one set of services shared by the HTTP API and the worker. */
export const DevProgram = Layer.mergeAll(HttpServerLive, Layer.scopedDiscard(runConsumer)).pipe(
  Layer.provide(ServicesLive),
  Layer.provide(Tracing.layerConfig("revenueflow-dev"))
)

runProgram(DevProgram, "pretty")
