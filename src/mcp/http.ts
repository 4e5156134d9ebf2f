import type { IncomingMessage, ServerResponse } from "node:http"
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type { AppConfig } from "../../services/AppConfig.js"
import { fromNode, readJsonBody } from "../http/body.js"
import { writeResponse } from "../http/nodeResponse.js"
import { problem } from "../http/problem.js"
import type { NodeHandler } from "./endpoint.js"
import type { InFlight } from "./inFlight.js"
import { makeServer } from "./server.js"

/**
 * MCP Streamable HTTP at /mcp, stateless (every POST carries its own JSON-RPC message and gets its own server and
 * transport, so replicas behind a load balancer need no session affinity), answering JSON rather than SSE, with the
 * ingest's body rules (415, 413 over MAX_BODY_BYTES, 400 for malformed JSON) as problem+json. Its origin, API key
 * and method were checked before this module was loaded (endpoint.ts). A call is not cancelled when its client
 * goes away (MCP: a disconnection is no cancellation; stateless, nothing else could cancel it): it runs to its end,
 * audit row included, and a repeat answers with its result.
 */
export const makeHttpHandler = (config: AppConfig.Service, inFlight: InFlight): NodeHandler => {
  return (req: IncomingMessage, res: ServerResponse) => {
    void Effect.runPromise(Effect.either(readJsonBody(fromNode(req), config.maxBodyBytes))).then(async (body) => {
      if (Either.isLeft(body)) return writeResponse(res, body.left)
      const server = makeServer(inFlight, { cancellable: false })
      const transport = new StreamableHTTPServerTransport({ enableJsonResponse: true }) // no session id generator: stateless
      res.once("close", () => {
        void transport.close()
        void server.close()
      })
      try {
        await server.connect(transport)
        await transport.handleRequest(req, res, body.right.json)
      } catch (error) {
        Effect.runFork(Effect.logError("MCP request failed").pipe(Effect.annotateLogs({ error: String(error) })))
        writeResponse(res, problem(500, "The MCP request could not be handled"))
      }
    })
  }
}
