import type { IncomingMessage, ServerResponse } from "node:http"
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js"
import { ErrorCode } from "@modelcontextprotocol/sdk/types.js"
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
 * Why a body is not the one JSON-RPC message a POST carries, if it is not: MCP 2025-11-25 has no batches (they were
 * removed in 2025-06-18), although the SDK's transport still answers an array. Answered 400 with a JSON-RPC
 * Invalid Request error (id null: no single request to name), as the transport answers a message it cannot read.
 */
const notOneMessage = (json: unknown): string | undefined => {
  if (Array.isArray(json)) {
    return "Invalid Request: JSON-RPC batches are not supported (MCP 2025-11-25): send one message per POST"
  }
  if (json === null || typeof json !== "object")
    return "Invalid Request: the body must be one JSON-RPC message (an object)"
  return undefined
}

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
      const notOne = notOneMessage(body.right.json)
      if (notOne !== undefined) {
        res.writeHead(400, { "content-type": "application/json" })
        return res.end(
          JSON.stringify({ jsonrpc: "2.0", id: null, error: { code: ErrorCode.InvalidRequest, message: notOne } })
        )
      }
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
