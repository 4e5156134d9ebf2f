import { ErrorCode } from "@modelcontextprotocol/sdk/types.js"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import { callTool, type McpServices, type ToolResult } from "./calls.js"

/**
 * Read-only resources: the same reads as the read-only tools, addressed by URI, for hosts that attach context
 * rather than call tools. Each answers the JSON the matching tool returns (personal data masked).
 */

/**
 * A resources/read that cannot be answered: a URI this server does not know, or a lead that does not exist, is
 * JSON-RPC error -32002 as the MCP specification says; a bad page query is -32602; a store that is down is -32603.
 */
export class ResourceError extends Data.TaggedError("ResourceError")<{
  readonly code: number
  readonly message: string
}> {}

/** The MCP specification's "resource not found" JSON-RPC error code (the SDK's ErrorCode has none). */
export const RESOURCE_NOT_FOUND = -32002

const JSON_TYPE = "application/json"

/** resources/list: the fixed resources. */
export const resources = [
  {
    uri: "revenueflow://queue/stats",
    name: "queue-stats",
    title: "Queue stats",
    description: "Queue depth, oldest waiting job age and leads per status (each counted up to leadsCountedUpTo).",
    mimeType: JSON_TYPE
  },
  {
    uri: "revenueflow://dead-letters",
    name: "dead-letters",
    title: "Dead letters",
    description: "Leads whose processing failed for good, with the reason (at most 50).",
    mimeType: JSON_TYPE
  }
]

/** resources/templates/list: a lead and its audit trail, by lead id. */
export const resourceTemplates = [
  {
    uriTemplate: "revenueflow://leads/{leadId}",
    name: "lead",
    title: "Lead",
    description: "A lead by id: status, analysis and grounding, with personal data masked.",
    mimeType: JSON_TYPE
  },
  {
    uriTemplate: "revenueflow://leads/{leadId}/audit{?cursor,limit}",
    name: "lead-audit-trail",
    title: "Lead audit trail",
    description:
      "The CRM actions recorded for a lead, oldest first, parameters redacted, a page at a time (limit 1-200, " +
      "default 50): `remaining` says how many follow, and `?cursor=<nextCursor>` reads them.",
    mimeType: JSON_TYPE
  }
]

/** A URI segment decoded; a malformed escape stays as it is (and then names no lead). */
const segment = (text: string | undefined) => {
  try {
    return decodeURIComponent(text ?? "")
  } catch {
    return text ?? ""
  }
}

/** An audit page's query (`?cursor=…&limit=…`) as get_audit_trail's arguments; anything else is left for it to refuse. */
const pageQuery = (query: string | undefined): Record<string, unknown> => {
  const args: Record<string, unknown> = {}
  for (const [key, value] of new URLSearchParams(query ?? "")) {
    args[key] = key === "limit" && /^\d{1,4}$/.test(value) ? Number(value) : value
  }
  return args
}

const routes: ReadonlyArray<readonly [RegExp, (match: RegExpMatchArray) => readonly [string, unknown]]> = [
  [/^revenueflow:\/\/queue\/stats$/, () => ["queue_stats", {}]],
  [/^revenueflow:\/\/dead-letters$/, () => ["list_dead_letters", {}]],
  [/^revenueflow:\/\/leads\/([^/?#]{1,64})$/, (m) => ["get_lead", { leadId: segment(m[1]) }]],
  [
    /^revenueflow:\/\/leads\/([^/?#]{1,64})\/audit(?:\?([^#]{0,300}))?$/,
    (m) => ["get_audit_trail", { ...pageQuery(m[2]), leadId: segment(m[1]) }]
  ]
]

const notFound = (uri: string) =>
  new ResourceError({ code: RESOURCE_NOT_FOUND, message: `Resource not found: ${JSON.stringify(uri.slice(0, 200))}` })

/** resources/read: the resource's JSON, or a ResourceError (unknown URI, no such lead, store down). */
export const readResource = (uri: string) =>
  Effect.gen(function* () {
    for (const [pattern, toCall] of routes) {
      const match = uri.match(pattern)
      if (match === null) continue
      const [tool, args] = toCall(match)
      const result: ToolResult = yield* callTool(tool, args).pipe(Effect.orDie)
      if (result.isError === true) {
        const { error, message } = result.structuredContent
        if (error === "LeadNotFound") return yield* notFound(uri)
        // a bad page query (?cursor=, ?limit=) is the reader's mistake: invalid params, as for a bad list cursor
        const code = error === "InvalidArguments" ? ErrorCode.InvalidParams : ErrorCode.InternalError
        return yield* new ResourceError({ code, message: String(message) })
      }
      return { contents: [{ uri, mimeType: JSON_TYPE, text: JSON.stringify(result.structuredContent, null, 2) }] }
    }
    return yield* notFound(uri)
  }) satisfies Effect.Effect<unknown, ResourceError, McpServices>
