import * as JSONSchema from "effect/JSONSchema"
import { Analysis } from "../../src/domain/analysis.js"

/** The one tool the model must call; its input is the analysis. */
export const analysisToolName = "record_lead_analysis"

type Json = null | boolean | number | string | ReadonlyArray<Json> | { readonly [key: string]: Json }

/**
 * Replaces every local `$ref` ("#/$defs/X") by the definition it names and drops `$schema` / `$defs`:
 * Bedrock tool schemas are safest as one self-contained object. Cyclic definitions cannot be inlined.
 */
export const inlineRefs = (schema: object): Record<string, unknown> => {
  const root = schema as { readonly $defs?: Record<string, Json> }
  const defs = root.$defs ?? {}
  const visit = (node: Json, stack: ReadonlyArray<string>): Json => {
    if (Array.isArray(node)) return node.map((item) => visit(item, stack))
    if (node === null || typeof node !== "object") return node
    const record = node as { readonly [key: string]: Json }
    const ref = record.$ref
    if (typeof ref === "string") {
      const name = ref.replace(/^#\/\$defs\//, "")
      const target = defs[name]
      if (target === undefined) throw new Error(`unresolvable $ref ${ref}`)
      if (stack.includes(name)) throw new Error(`cyclic $ref ${ref} cannot be inlined`)
      return visit(target, [...stack, name])
    }
    return Object.fromEntries(
      Object.entries(record)
        .filter(([key]) => key !== "$schema" && key !== "$defs")
        .map(([key, value]) => [key, visit(value, stack)])
    )
  }
  return visit(schema as Json, []) as Record<string, unknown>
}

/** The tool's input schema, generated from the Analysis Schema so the model is asked for exactly what we decode. */
export const analysisToolSchema: Record<string, unknown> = inlineRefs(JSONSchema.make(Analysis))

/** Bedrock Converse toolConfig: the single analysis tool, and a toolChoice that forces the model to call it. */
export const analysisToolConfig = {
  tools: [
    {
      toolSpec: {
        name: analysisToolName,
        description:
          "Record the lead analysis: fit score, intent, decision, reasoning and the evidence that backs each claim.",
        inputSchema: { json: analysisToolSchema }
      }
    }
  ],
  toolChoice: { tool: { name: analysisToolName } }
}
