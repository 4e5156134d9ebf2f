import { Server } from "@modelcontextprotocol/sdk/server/index.js"
import {
  CallToolRequestSchema,
  ErrorCode,
  ListResourcesRequestSchema,
  ListResourceTemplatesRequestSchema,
  ListToolsRequestSchema,
  McpError,
  ReadResourceRequestSchema
} from "@modelcontextprotocol/sdk/types.js"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import { callTool } from "./calls.js"
import { toolDefinitions } from "./catalog.js"
import type { InFlight } from "./inFlight.js"
import { readResource, resources, resourceTemplates } from "./resources.js"

/** The name and version MCP clients see in the initialize handshake. */
export const serverInfo = { name: "revenueflow", title: "RevenueFlow CRM tools", version: "0.1.0" }

const instructions =
  "RevenueFlow's CRM tools. Every write runs through RevenueFlow's safety chain: a safety guard (allow-listed " +
  "tools, parameter schemas, injection checks), idempotency (repeating a call returns the first result and " +
  "writes nothing), rate limits per lead, per account and CRM-wide, a circuit breaker, and an audit row. A " +
  "refusal comes back as a tool error with the reason (and retryAfterSeconds for limits): read it and adapt, do " +
  "not retry blindly. Find a lead first (find_lead) to get the leadKey every CRM tool needs."

/**
 * An MCP server (the SDK's low-level Server, so the tools' input schemas are the JSON Schemas generated from the
 * Effect Schemas, not zod copies) whose handlers run on RevenueFlow's services. One per connection: stdio has one;
 * the stateless Streamable HTTP endpoint makes one per request. `cancellable`: a client's notifications/cancelled
 * (or the transport closing) interrupts the call (stdio); without it a call runs to its end (stateless HTTP, where
 * only a dropped connection would).
 */
export const makeServer = (inFlight: InFlight, { cancellable }: { readonly cancellable: boolean }): Server => {
  const signalOf = (extra: { readonly signal: AbortSignal }) => (cancellable ? extra.signal : undefined)
  const server = new Server(serverInfo, { capabilities: { tools: {}, resources: {} }, instructions })
  server.setRequestHandler(ListToolsRequestSchema, () => ({ tools: [...toolDefinitions] }))
  server.setRequestHandler(CallToolRequestSchema, async (request, extra) => {
    const result = await inFlight.run(
      Effect.either(callTool(request.params.name, request.params.arguments)),
      signalOf(extra)
    )
    if (Either.isLeft(result)) throw new McpError(ErrorCode.InvalidParams, result.left.message)
    return result.right
  })
  server.setRequestHandler(ListResourcesRequestSchema, () => ({ resources }))
  server.setRequestHandler(ListResourceTemplatesRequestSchema, () => ({ resourceTemplates }))
  server.setRequestHandler(ReadResourceRequestSchema, async (request, extra) => {
    const result = await inFlight.run(Effect.either(readResource(request.params.uri)), signalOf(extra))
    if (Either.isLeft(result)) throw new McpError(result.left.code, result.left.message)
    return result.right
  })
  return server
}
