import * as Layer from "effect/Layer"
import * as Tracing from "../../layers/observability/Tracing.js"
import { HttpServerLive } from "../http/serverLive.js"
import * as McpEndpoint from "../mcp/endpoint.js"
import { runConsumer } from "../pipeline/consumer.js"
import { checkConfig } from "../../layers/presets.js"
import { explainListenFailure } from "./listen.js"
import { banner } from "./banner.js"
import { runProgram } from "./main.js"
import * as MemoryRelease from "./memoryRelease.js"
import { ServicesLive } from "./services.js"

/** Said once both halves are up, so the URLs printed are ones that answer. */
const Ready = banner("RevenueFlow is running (ingest and consumer in one process)", { api: true, consumer: true })

/** Ingest and consumer in one process (npm start): one set of services shared by the HTTP API and the worker. */
export const DevProgram = Ready.pipe(
  Layer.provide(
    Layer.mergeAll(
      HttpServerLive.pipe(explainListenFailure("PORT"), Layer.provide(McpEndpoint.layer)),
      Layer.scopedDiscard(runConsumer),
      MemoryRelease.layerFromAppConfig
    )
  ),
  Layer.provide(ServicesLive),
  Layer.provide(Tracing.layerConfig("revenueflow-dev"))
)

/**
 * Runs DevProgram until SIGTERM / SIGINT (npm start, npm run demo on its own stack), bound to this machine only
 * unless HOST says otherwise: a local run with no API key should not answer the network (its /mcp writes to the
 * CRM). The programs (ingest, consumer, the image) keep 0.0.0.0, as a container needs.
 */
export const startDev = () => runProgram(DevProgram, checkConfig, "pretty", { HOST: "127.0.0.1" })
