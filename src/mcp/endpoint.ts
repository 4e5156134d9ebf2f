import type { IncomingMessage, ServerResponse } from "node:http"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { AppConfig } from "../../services/AppConfig.js"
import type { McpServices } from "./calls.js"
import { makeInFlight } from "./inFlight.js"

const internalError = { type: "https://revenueflow.dev/problems/500", title: "Internal Server Error", status: 500 }

/** Answers one HTTP request to /mcp on node:http. */
export type NodeHandler = (req: IncomingMessage, res: ServerResponse) => void

/** The MCP Streamable HTTP endpoint the ingest serves at /mcp (when this service is provided). */
export class McpEndpoint extends Context.Tag("revenueflow/McpEndpoint")<McpEndpoint, NodeHandler>() {}

/**
 * /mcp over the services in context. The MCP SDK is loaded on the first /mcp request, so an ingest nobody asks
 * for MCP never pays its load time. Released after the HTTP server: calls still running finish first.
 */
export const layer: Layer.Layer<McpEndpoint, never, McpServices> = Layer.scoped(
  McpEndpoint,
  Effect.gen(function* () {
    const config = yield* AppConfig
    const inFlight = makeInFlight(yield* Effect.runtime<McpServices>())
    yield* Effect.addFinalizer(() => Effect.promise(() => inFlight.idle()))
    let loaded: Promise<NodeHandler> | undefined
    return (req, res) => {
      loaded ??= import("./http.js").then((http) => http.makeHttpHandler(config, inFlight))
      loaded.then(
        (handle) => handle(req, res),
        (error: unknown) => {
          loaded = undefined
          Effect.runFork(
            Effect.logError("the MCP endpoint could not load").pipe(Effect.annotateLogs({ error: String(error) }))
          )
          if (!res.headersSent) res.writeHead(500, { "content-type": "application/problem+json" })
          res.end(JSON.stringify({ ...internalError, detail: "The MCP endpoint is unavailable" }))
        }
      )
    }
  })
)
