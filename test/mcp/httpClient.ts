import * as HttpServer from "@effect/platform/HttpServer"
import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as IngestServer from "../../src/http/intake.js"
import { HttpApiServed } from "../../src/http/server.js"
import * as McpEndpoint from "../../src/mcp/endpoint.js"

/** The ingest server as HttpServerLive wires it (intake routes direct, /mcp to the MCP endpoint), on a free port. */
export const ingestWithMcp = HttpApiServed.pipe(
  Layer.provideMerge(IngestServer.layer({ port: 0, host: "127.0.0.1" }).pipe(Layer.provide(McpEndpoint.layer)))
)

/** The base URL of the server in context (`ingestWithMcp`'s). */
export const baseUrl = Effect.map(HttpServer.HttpServer, (server) => {
  if (server.address._tag !== "TcpAddress") throw new Error("expected a TCP address")
  return `http://127.0.0.1:${server.address.port}`
})

/** The official client over Streamable HTTP to `url`'s /mcp, the API key as a Bearer token; closed with the scope. */
export const connect = (url: string, key: string, name = "revenueflow-test") =>
  Effect.acquireRelease(
    Effect.promise(async () => {
      const client = new Client({ name, version: "1.0.0" })
      await client.connect(
        new StreamableHTTPClientTransport(new URL("/mcp", url), {
          requestInit: { headers: { authorization: `Bearer ${key}` } }
        })
      )
      return client
    }),
    (client) => Effect.promise(() => client.close())
  )
