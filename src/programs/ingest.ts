import * as Layer from "effect/Layer"
import { checkIngestConfig } from "../../layers/ingestPreset.js"
import * as CloudWatchEmf from "../../layers/observability/CloudWatchEmf.js"
import * as Tracing from "../../layers/observability/Tracing.js"
import { HttpServerLive } from "../http/serverLive.js"
import * as McpEndpoint from "../mcp/endpoint.js"
import { IngestServicesLive } from "./ingestServices.js"
import { explainListenFailure } from "./listen.js"
import { banner } from "./banner.js"
import { runProgram } from "./main.js"
import * as MemoryRelease from "./memoryRelease.js"

/**
 * The ingest program: the HTTP API on the store and the queue (no CRM, analyser or enrichment), CloudWatch EMF
 * when enabled (so the queue signals exist with no consumer running), and the memory release after bursts.
 */
export const IngestProgram = banner("RevenueFlow ingest is running", { api: true, consumer: false }).pipe(
  Layer.provide(
    Layer.mergeAll(
      HttpServerLive.pipe(
        explainListenFailure("PORT"),
        // /mcp runs the safety chain: its services (and the CRM client) are built on the first /mcp request
        Layer.provide(
          McpEndpoint.layerDeferred(() => import("../../layers/presets.js").then((m) => m.layerSafetyChainFromConfig))
        )
      ),
      CloudWatchEmf.layerConfig,
      MemoryRelease.layerFromAppConfig
    )
  ),
  Layer.provide(IngestServicesLive),
  Layer.provide(Tracing.layerConfig("revenueflow-ingest"))
)

runProgram(IngestProgram, checkIngestConfig, "json")
