/**
 * RevenueFlow's MCP server (`revenueflow/mcp`): the CRM tools for AI agents through the consumer's safety chain.
 * A subpath of its own, so the MCP SDK loads only for those who use it.
 */

/** Tool calls and their services: callTool runs one tools/call on the services in context. */
export { callTool, type McpServices, refusal, type ToolResult, UnknownTool } from "./calls.js"
/** What agents see: the tool definitions, input schemas generated from the tools' Effect Schemas. */
export { inputSchemaOf, isReadToolName, ReadParams, type ToolDefinition, toolDefinitions } from "./catalog.js"
/** The /mcp endpoint (Streamable HTTP) as a service the ingest's node:http server answers with. */
export { layer as McpEndpointLive, McpEndpoint, type NodeHandler } from "./endpoint.js"
/** Runs effects for the SDK's handlers and waits for them at shutdown. */
export { type InFlight, makeInFlight } from "./inFlight.js"
/** Resources: a lead, its audit trail, dead letters, queue stats. */
export { readResource, ResourceError, resources, resourceTemplates } from "./resources.js"
/** An SDK Server whose handlers run on RevenueFlow's services. */
export { makeServer, serverInfo } from "./server.js"
/** Serve MCP on this process's stdin / stdout until the client closes stdin. */
export { serveStdio } from "./stdio.js"
