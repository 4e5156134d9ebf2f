import * as JSONSchema from "effect/JSONSchema"
import * as Schema from "effect/Schema"
import { type Analysis, ClaimType, Decision, EvidenceSource, Intent } from "../../src/domain/analysis.js"

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

/**
 * How much the model may write, chosen so the largest input the tool schema allows fits in the default
 * BEDROCK_MAX_TOKENS (2048) output tokens: 6,109 characters of JSON, 1,421 tokens for English-like text with
 * Anthropic's tokenizer, and under 2048 even at 3 characters a token (test/layers/bedrock/toolSchema.test.ts).
 * Random strings cost about a token a character, so a reply quoting such values can still be cut. The Analysis schema we decode with is looser (reasoning 4000,
 * 50 items, values unbounded): a reply over these caps is still used, but the model is never asked for one that
 * cannot fit. A reply that is cut anyway stops with `max_tokens` and is handled in Analyzer.ts.
 */
export const toolOutputCaps = {
  reasoningChars: 1000,
  evidenceItems: 10,
  fieldPathChars: 80,
  textValueChars: 200,
  listValueItems: 8,
  listItemChars: 40
} as const

const cited = "copied exactly; a field whose value is longer cannot be cited (cite another one, never shorten a value)"

/** The Analysis as the model is asked for it: the same fields and literals, within toolOutputCaps. */
export const AnalysisToolInput = Schema.Struct({
  fitScore: Schema.Number.pipe(Schema.between(0, 100)),
  intent: Intent,
  decision: Decision,
  reasoning: Schema.String.pipe(Schema.maxLength(toolOutputCaps.reasoningChars)).annotations({
    description: `a short reasoning, at most ${toolOutputCaps.reasoningChars} characters`
  }),
  evidence: Schema.Array(
    Schema.Struct({
      source: EvidenceSource,
      fieldPath: Schema.String.pipe(Schema.minLength(1), Schema.maxLength(toolOutputCaps.fieldPathChars)),
      value: Schema.Union(
        Schema.String.pipe(Schema.maxLength(toolOutputCaps.textValueChars)).annotations({ description: cited }),
        Schema.Number,
        Schema.Boolean,
        Schema.Null,
        Schema.Array(
          Schema.Union(
            Schema.String.pipe(Schema.maxLength(toolOutputCaps.listItemChars)),
            Schema.Number,
            Schema.Boolean
          )
        )
          .pipe(Schema.maxItems(toolOutputCaps.listValueItems))
          .annotations({ description: `a complete list; ${cited}` })
      ),
      claimType: ClaimType
    }).annotations({ identifier: "Evidence" })
  ).pipe(Schema.maxItems(toolOutputCaps.evidenceItems))
}).annotations({ identifier: "Analysis" })

// Every input the tool schema allows is an Analysis (compile-time check).
const _toolInputIsAnalysis: Analysis = {} as typeof AnalysisToolInput.Type
void _toolInputIsAnalysis

/** The tool's input schema, generated from AnalysisToolInput so the model is asked for what we decode, capped. */
export const analysisToolSchema: Record<string, unknown> = inlineRefs(JSONSchema.make(AnalysisToolInput))

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
