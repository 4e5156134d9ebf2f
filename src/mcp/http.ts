import type { IncomingMessage, ServerResponse } from "node:http"
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import type { AppConfig } from "../../services/AppConfig.js"
import { makeApiKeyCheck, presentedKey } from "../http/auth.js"
import { fromNode, readJsonBody } from "../http/body.js"
import { writeResponse } from "../http/nodeServer.js"
import { problem } from "../http/problem.js"
import type { NodeHandler } from "./endpoint.js"
import type { InFlight } from "./inFlight.js"
import { makeServer } from "./server.js"

const denied = problem(401, "A valid API key is required (Authorization: Bearer <key> or X-API-Key)", {
  headers: { "www-authenticate": 'Bearer realm="revenueflow"' }
})

// Stateless: no session to resume, so no server-to-client stream (GET) and nothing to end (DELETE).
const notAllowed = problem(405, "The MCP endpoint is stateless: send JSON-RPC messages with POST", {
  headers: { allow: "POST" }
})

/**
 * MCP Streamable HTTP at /mcp, stateless (every POST carries its own JSON-RPC message and gets its own server and
 * transport, so replicas behind a load balancer need no session affinity), answering JSON rather than SSE. Behind
 * the ingest's API keys (INGEST_API_KEYS, constant-time check; none configured: open) and its body rules (415,
 * 413 over MAX_BODY_BYTES, 400 for malformed JSON) as problem+json.
 */
export const makeHttpHandler = (config: AppConfig.Service, inFlight: InFlight): NodeHandler => {
  const authorized = makeApiKeyCheck(Option.getOrElse(config.apiKeys, () => Redacted.make([])))
  return (req: IncomingMessage, res: ServerResponse) => {
    if (!authorized(presentedKey(req.headers))) return writeResponse(res, denied)
    if (req.method !== "POST") return writeResponse(res, notAllowed)
    void Effect.runPromise(Effect.either(readJsonBody(fromNode(req), config.maxBodyBytes))).then(async (body) => {
      if (Either.isLeft(body)) return writeResponse(res, body.left)
      const server = makeServer(inFlight)
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
