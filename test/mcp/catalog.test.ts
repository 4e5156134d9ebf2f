import { describe, expect, it } from "@effect/vitest"
import { AjvJsonSchemaValidator } from "@modelcontextprotocol/sdk/validation/ajv"
import * as Arbitrary from "effect/Arbitrary"
import * as Either from "effect/Either"
import * as FastCheck from "effect/FastCheck"
import type * as Schema from "effect/Schema"
import { guardAction } from "../../src/domain/guard.js"
import { plannedLeadStatuses } from "../../src/domain/leadStatus.js"
import { ToolParams, toolNames } from "../../src/domain/tools.js"
import { inputSchemaOf, toolDefinitions } from "../../src/mcp/catalog.js"

/** The JSON Schema validator MCP clients use (the SDK's Ajv provider). */
const validator = new AjvJsonSchemaValidator()
const definition = (name: string) => {
  const found = toolDefinitions.find((tool) => tool.name === name)
  if (found === undefined) throw new Error(`no tool ${name}`)
  return found
}

describe("MCP tool catalog", () => {
  it.each(toolNames)("%s: every argument object the guard accepts, the advertised input schema accepts too", (tool) => {
    const schema = ToolParams[tool] as unknown as Schema.Schema<Record<string, unknown>>
    const validate = validator.getValidator(definition(tool).inputSchema as never)
    FastCheck.assert(
      FastCheck.property(Arbitrary.make(schema), (params) => {
        expect(Either.isRight(guardAction(tool, params))).toBe(true)
        const result = validate(params)
        expect(result.valid, result.errorMessage).toBe(true)
      }),
      { numRuns: 50 }
    )
  })

  it.each(toolNames)(
    "%s: the schema refuses what the guard refuses by shape (unknown field, missing field)",
    (tool) => {
      const schema = ToolParams[tool] as unknown as Schema.Schema<Record<string, unknown>>
      const validate = validator.getValidator(definition(tool).inputSchema as never)
      const [sample] = FastCheck.sample(Arbitrary.make(schema), 1)
      const extra = { ...sample, unexpectedField: "x" }
      expect(Either.isLeft(guardAction(tool, extra))).toBe(true)
      expect(validate(extra).valid).toBe(false)
      const { leadKey: _leadKey, ...missing } = sample as Record<string, unknown>
      expect(Either.isLeft(guardAction(tool, missing))).toBe(true)
      expect(validate(missing).valid).toBe(false)
    }
  )

  it("input schemas are self-contained JSON Schema objects (a plain object at the root, no $ref, no refinement names as titles)", () => {
    for (const tool of toolDefinitions) {
      const text = JSON.stringify(tool.inputSchema)
      // a plain object at the root: Anthropic's API refuses a tool whose root is a combinator, a whole session's
      // tools with it in some hosts
      expect(Object.keys(tool.inputSchema).sort(), tool.name).toEqual([
        "additionalProperties",
        "properties",
        "required",
        "type"
      ])
      expect(tool.inputSchema).toMatchObject({ type: "object", additionalProperties: false })
      expect(text).not.toContain("$ref")
      expect(text).not.toMatch(/"title":"/)
      expect(tool.description.length).toBeGreaterThan(40)
    }
    expect(inputSchemaOf(ToolParams.create_task).properties).toMatchObject({
      priority: { type: "string", enum: ["High", "Normal", "Low"] },
      // a day that exists: "format": "date" (RFC 3339 full-date) tells an agent so
      dueDate: { type: "string", pattern: "^\\d{4}-\\d{2}-\\d{2}$", format: "date" }
    })
  })

  it("update_lead_status's description names exactly the statuses its schema takes, each of which the guard passes", () => {
    const { description } = definition("update_lead_status")
    const list = /one of ((?:'[^']+'(?:, )?)+)/.exec(description)?.[1] ?? ""
    const named = [...list.matchAll(/'([^']+)'/g)].map((match) => match[1] as string)
    expect(named).toEqual([...plannedLeadStatuses])
    expect(definition("update_lead_status").inputSchema.properties).toMatchObject({
      status: { enum: [...plannedLeadStatuses] }
    })
    const ref = { leadKey: "a".repeat(64), email: "jane@acme.com" }
    for (const status of named) {
      expect(Either.isRight(guardAction("update_lead_status", { ...ref, status })), status).toBe(true)
    }
  })
})
