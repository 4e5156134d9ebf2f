import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { callTool, toolLabel } from "../../src/mcp/calls.js"
import { memoryEnv } from "../support/env.js"

/** A tool name is the caller's text: one that is no identifier may be personal data (a name, an address, a number). */
describe("an unknown tool's name in the error, the span and the log", () => {
  it("shows identifiers and hides anything else", () => {
    expect(toolLabel("no_such_tool")).toBe("no_such_tool")
    expect(toolLabel("delete_lead")).toBe("delete_lead")
    for (const name of ["Call Jane Doe", "jane@acme.com", "tel_4155550100", "jane.doe", "x".repeat(65), "Ünïcode"]) {
      expect(toolLabel(name), name).toBeUndefined()
    }
  })

  it.live("the UnknownTool error quotes an identifier, and says a name that is none is not shown", () =>
    Effect.gen(function* () {
      const known = yield* Effect.flip(callTool("no_such_tool", {}))
      expect(known.message).toBe('Unknown tool: "no_such_tool"')
      const hidden = yield* Effect.flip(callTool("Call Jane Doe on 612 345 678", {}))
      expect(hidden.message).toBe("Unknown tool (its name is not shown: it is no tool name and may hold personal data)")
    }).pipe(Effect.provide(memoryEnv()))
  )
})
