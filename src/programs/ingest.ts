import * as Layer from "effect/Layer"
import * as Tracing from "../../layers/observability/Tracing.js"
import { HttpServerLive } from "../http/server.js"
import { banner } from "./banner.js"
import { runProgram } from "./main.js"
import { ServicesLive } from "./services.js"

/** The ingest program: the HTTP API. */
export const IngestProgram = banner("RevenueFlow ingest is running", { api: true, consumer: false }).pipe(
  Layer.provide(HttpServerLive),
  Layer.provide(ServicesLive),
  Layer.provide(Tracing.layerConfig("revenueflow-ingest"))
)

runProgram(IngestProgram, "json")
