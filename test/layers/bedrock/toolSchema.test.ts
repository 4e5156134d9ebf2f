import { describe, expect, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import { config } from "../../../layers/bedrock/config.js"
import { analysisToolSchema, toolOutputCaps } from "../../../layers/bedrock/toolSchema.js"
import { Analysis } from "../../../src/domain/analysis.js"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"

/** The JSON Schema keywords the generated tool schema uses. */
interface Json {
  readonly type?: string
  readonly anyOf?: ReadonlyArray<Json>
  readonly enum?: ReadonlyArray<string>
  readonly properties?: Readonly<Record<string, Json>>
  readonly items?: Json
  readonly maxItems?: number
  readonly maxLength?: number
  readonly maximum?: number
}

/** The longest JSON input the tool schema allows (every string at its maxLength, every array at its maxItems). */
const longest = (schema: Json, fill: (chars: number) => string): unknown => {
  if (schema.anyOf) {
    return schema.anyOf
      .map((branch) => longest(branch, fill))
      .reduce((a, b) => (JSON.stringify(b).length > JSON.stringify(a).length ? b : a))
  }
  if (schema.enum) return schema.enum.reduce((a, b) => (b.length > a.length ? b : a))
  switch (schema.type) {
    case "object":
      return Object.fromEntries(
        Object.entries(schema.properties ?? {}).map(([key, value]) => [key, longest(value, fill)])
      )
    case "array":
      if (schema.maxItems === undefined) throw new Error("an array without maxItems has no longest instance")
      return Array.from({ length: schema.maxItems }, () => longest(schema.items ?? {}, fill))
    case "string":
      if (schema.maxLength === undefined) throw new Error("a string without maxLength has no longest instance")
      return fill(schema.maxLength)
    case "number":
      return schema.maximum === undefined ? -1.7976931348623157e308 : 99.99999999999999
    case "boolean":
      return false
    case "null":
      return null
  }
  throw new Error(`unexpected schema ${JSON.stringify(schema)}`)
}

const words = "the lead works at a mid-size software company and asked for a demo twice this month; "
const english = (chars: number) => words.repeat(Math.ceil(chars / words.length)).slice(0, chars)

describe("analysis tool schema: the model is never asked for more than BEDROCK_MAX_TOKENS holds", () => {
  it("its longest input fits in the default BEDROCK_MAX_TOKENS at a conservative 3 characters a token", () => {
    const maxTokens = Effect.runSync(
      Effect.withConfigProvider(config, ConfigProvider.fromMap(new Map([["BEDROCK_MODEL_ID", "m"]])))
    ).maxTokens
    const biggest = longest(analysisToolSchema as Json, english)
    const chars = JSON.stringify(biggest).length
    // Measured with Anthropic's tokenizer on this instance: 6,109 characters, 1,421 tokens (4.3 a token).
    expect(chars).toBeLessThanOrEqual(6_200)
    expect(Math.ceil(chars / 3)).toBeLessThanOrEqual(maxTokens)
    // what fits the tool schema is an Analysis we decode
    expect(Either.isRight(Schema.decodeUnknownEither(Analysis)(biggest))).toBe(true)
  })

  it("asks for a short reasoning and few, short citations", () => {
    const properties = analysisToolSchema.properties as Readonly<Record<string, Json>>
    expect(properties.reasoning?.maxLength).toBe(toolOutputCaps.reasoningChars)
    expect(properties.evidence?.maxItems).toBe(toolOutputCaps.evidenceItems)
    expect(properties.evidence?.items?.properties?.source?.enum).toEqual([
      "ENRICHMENT",
      "MARKETING",
      "PRODUCT",
      "CRM",
      "COMPUTED"
    ])
  })
})
