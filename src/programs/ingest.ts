import * as Layer from "effect/Layer"
import * as CloudWatchEmf from "../../layers/observability/CloudWatchEmf.js"
import * as Tracing from "../../layers/observability/Tracing.js"
import { HttpServerLive } from "../http/server.js"
import { runProgram } from "./main.js"
import { ServicesLive } from "./services.js"

/** The ingest program: the HTTP API, and CloudWatch EMF when enabled (so the queue signals exist with no consumer). */
export const IngestProgram = Layer.merge(HttpServerLive, CloudWatchEmf.layerConfig).pipe(
  Layer.provide(ServicesLive),
  Layer.provide(Tracing.layerConfig("revenueflow-ingest"))
)

runProgram(IngestProgram, "json")
