import { Server } from "@modelcontextprotocol/sdk/server/index.js"
import {
  type CallToolResult,
  ErrorCode,
  type JSONRPCRequest,
  ListResourcesRequestSchema,
  ListResourceTemplatesRequestSchema,
  ListToolsRequestSchema,
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
 * A JSON-RPC error as the SDK sends it (its `code` and `message`), with the message as it is: the SDK's McpError puts
 * "MCP error <code>: " in front of its message, and the client's McpError does it again on receipt.
 */
export class RpcError extends Error {
  constructor(
    readonly code: number,
    message: string
  ) {
    super(message)
  }
}

/**
 * A tools/call's params checked here rather than by the SDK: its CallToolRequestSchema refuses a malformed call with
 * a thrown ZodError, which reaches the client as -32603 "Internal error" with the whole Zod issue list. Malformed
 * params are -32602 Invalid params, with one short sentence naming what is wrong.
 */
const toolCallOf = (params: unknown): { readonly name: string; readonly arguments: unknown } => {
  if (params === null || typeof params !== "object" || Array.isArray(params)) {
    throw new RpcError(ErrorCode.InvalidParams, "Invalid params: tools/call needs params { name, arguments }")
  }
  const { name, arguments: args } = params as Record<string, unknown>
  if (typeof name !== "string" || name.length === 0) {
    throw new RpcError(ErrorCode.InvalidParams, "Invalid params: params.name must be the tool's name, a string")
  }
  if (args !== undefined && (args === null || typeof args !== "object" || Array.isArray(args))) {
    throw new RpcError(
      ErrorCode.InvalidParams,
      "Invalid params: params.arguments must be a JSON object of the tool's arguments by name"
    )
  }
  return { name, arguments: args }
}

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
  // tools/call is answered by the fallback (called for any method without a handler of its own), so its params reach
  // toolCallOf as sent: Server.setRequestHandler would parse them with CallToolRequestSchema whatever schema it is given
  server.fallbackRequestHandler = async (request: JSONRPCRequest, extra) => {
    if (request.method !== "tools/call") throw new RpcError(ErrorCode.MethodNotFound, "Method not found")
    const call = toolCallOf(request.params)
    const result = await inFlight.run(Effect.either(callTool(call.name, call.arguments)), signalOf(extra))
    if (Either.isLeft(result)) throw new RpcError(ErrorCode.InvalidParams, result.left.message)
    return result.right satisfies CallToolResult
  }
  server.setRequestHandler(ListResourcesRequestSchema, () => ({ resources }))
  server.setRequestHandler(ListResourceTemplatesRequestSchema, () => ({ resourceTemplates }))
  server.setRequestHandler(ReadResourceRequestSchema, async (request, extra) => {
    const result = await inFlight.run(Effect.either(readResource(request.params.uri)), signalOf(extra))
    if (Either.isLeft(result)) throw new RpcError(result.left.code, result.left.message)
    return result.right
  })
  return server
}
