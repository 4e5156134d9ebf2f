import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import { guardAction } from "../domain/guard.js"
import { redactText } from "../domain/redact.js"
import { isToolName } from "../domain/tools.js"
import { isReadToolName } from "./catalog.js"
import { crmCall } from "./crm.js"
import { readCall } from "./reads.js"
import { type McpServices, refusal, type ToolResult, UnknownTool } from "./results.js"

export { type McpServices, refusal, type ToolResult, UnknownTool } from "./results.js"

/**
 * A tool name as spans, logs and errors show it. The caller chooses it: one that is no identifier ("Call Jane Doe",
 * "jane@acme.com", "tel_4155550100") may be personal data and is not shown. An identifier is at most 64 letters,
 * digits, "_" or "-", starting with a letter, with no run of five digits and nothing `redactText` would mask.
 */
const SHOWABLE_NAME = /^(?!.*\d{5})[A-Za-z][\w-]{0,63}$/
export const toolLabel = (name: string): string | undefined =>
  name.length <= 64 && SHOWABLE_NAME.test(name) && redactText(name) === name ? name : undefined

/**
 * tools/call: a CRM tool through the safety chain, or a read-only tool. Refusals are tool results with isError (the
 * model sees them and can adapt); only a tool this server does not offer fails, with UnknownTool. A defect becomes
 * an isError result without internals, and is logged.
 */
export const callTool = (name: string, args: unknown): Effect.Effect<ToolResult, UnknownTool, McpServices> => {
  const input = args ?? {}
  const label = toolLabel(name)
  const run: Effect.Effect<ToolResult, UnknownTool, McpServices> = isToolName(name)
    ? typeof input === "object" && !Array.isArray(input)
      ? crmCall(name, input as Record<string, unknown>)
      : Effect.succeed(refusal("InvalidArguments", "arguments must be a JSON object"))
    : isReadToolName(name)
      ? readCall(name, input)
      : Effect.fail(
          new UnknownTool({
            message: `${
              label === undefined
                ? "Unknown tool (its name is not shown: it is no tool name and may hold personal data)"
                : `Unknown tool: ${JSON.stringify(label)}`
            }${Either.match(guardAction(name, input), {
              onLeft: (blocked) => (blocked.rule === "blocked-tool" ? ` (${blocked.reason})` : ""),
              onRight: () => ""
            })}`
          })
        )
  return run.pipe(
    Effect.catchAllDefect((defect) =>
      Effect.as(
        Effect.logError("mcp tool call failed").pipe(
          Effect.annotateLogs({ tool: label ?? "(not shown)", defect: String(defect) })
        ),
        refusal("InternalError", "The call failed inside RevenueFlow; it was logged. Nothing more is known here.")
      )
    ),
    Effect.withSpan("mcp.tools/call", { captureStackTrace: false, attributes: { "mcp.tool": label ?? "(not shown)" } })
  )
}
