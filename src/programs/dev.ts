import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Tracing from "../../layers/observability/Tracing.js"
import { checkConfig } from "../../layers/presets.js"
import { AppConfig } from "../../services/AppConfig.js"
import { HttpServerLive } from "../http/server.js"
import * as McpEndpoint from "../mcp/endpoint.js"
import { runConsumer } from "../pipeline/consumer.js"
import { explainListenFailure } from "./listen.js"
import { runProgram } from "./main.js"
import { ServicesLive } from "./services.js"

/** Said once both halves are up, so the URL printed is one that answers. */
const Ready = Layer.effectDiscard(
  Effect.flatMap(AppConfig, (config) =>
    Effect.logInfo(
      `RevenueFlow is running: http://localhost:${config.port} (POST /leads, API docs at /docs, metrics at /metrics)`
    )
  )
)

/** Ingest and consumer in one process (npm start): one set of services shared by the HTTP API and the worker. */
export const DevProgram = Ready.pipe(
  Layer.provide(
    Layer.mergeAll(
      HttpServerLive.pipe(explainListenFailure("PORT"), Layer.provide(McpEndpoint.layer)),
      Layer.scopedDiscard(runConsumer)
    )
  ),
  Layer.provide(ServicesLive),
  Layer.provide(Tracing.layerConfig("revenueflow-dev"))
)

runProgram(DevProgram, checkConfig, "pretty")
