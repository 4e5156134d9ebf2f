import { describe, expect, it } from "@effect/vitest"
import * as Arbitrary from "effect/Arbitrary"
import * as Either from "effect/Either"
import * as FastCheck from "effect/FastCheck"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import { formatParseIssues, guardAction } from "../../src/domain/guard.js"
import { compilePlainStruct } from "../../src/domain/plainDecode.js"
import { ToolParams, toolNames } from "../../src/domain/tools.js"

const options = { errors: "all", onExcessProperty: "error" } as const
const issuesOf = (result: Either.Either<unknown, ParseResult.ParseError>) =>
  Either.isRight(result) ? [] : ParseResult.ArrayFormatter.formatErrorSync(result.left)

/** Values at and past the bounds the tools' schemas check: lengths, patterns, enumerations, numbers, types. */
const probe = FastCheck.oneof(
  FastCheck.constantFrom(0, 1, 40, 41, 63, 64, 65, 80, 81, 120, 121, 128, 129, 254, 255, 256, 4000, 4001).map((n) =>
    "x".repeat(n)
  ),
  FastCheck.constantFrom(
    "0".repeat(64),
    "0".repeat(63),
    `G${"0".repeat(63)}`,
    "a".repeat(64),
    "A".repeat(64),
    "2026-01-31",
    "2026-1-31",
    "2026-02-30",
    "2024-02-29",
    "2025-02-29",
    "1699-12-31",
    "4001-01-01",
    "globex.com",
    "Globex.com",
    "-globex.com",
    "a.b",
    "001Ab_-9",
    "a b",
    "High",
    "high",
    "Normal",
    "Route to SDR",
    "High Fit",
    "Working",
    "",
    " "
  ),
  FastCheck.constantFrom(-1, 0, -0, 0.5, 100, 101, 1e21, Number.NaN, Number.POSITIVE_INFINITY, true, false, null),
  FastCheck.constantFrom(undefined, {}, [], ["x"], { nested: 1 }),
  FastCheck.string({ maxLength: 8 }),
  FastCheck.integer({ min: -3, max: 103 })
)

type Params = Record<PropertyKey, unknown>
const toolSchema = (tool: (typeof toolNames)[number]) =>
  ToolParams[tool] as unknown as Schema.Schema<Params, Params, never>

/** One change to valid parameters: none, a key set to a probe, a key removed, or a shape the schema refuses. */
const mutation = (keys: ReadonlyArray<string>) =>
  FastCheck.oneof(
    { arbitrary: FastCheck.constant((p: Params): unknown => p), weight: 4 },
    {
      arbitrary: FastCheck.tuple(FastCheck.constantFrom(...keys, "extra"), probe).map(
        ([key, value]) =>
          (p: Params): unknown => ({ ...p, [key]: value })
      ),
      weight: 6
    },
    {
      arbitrary: FastCheck.constantFrom(...keys).map((key) => (p: Params): unknown => {
        const { [key]: _, ...rest } = p
        return rest
      }),
      weight: 2
    },
    {
      arbitrary: FastCheck.constantFrom<(p: Params) => unknown>(
        (p) => ({ ...p, [Symbol("s")]: 1 }),
        (p) => Object.defineProperty({ ...p }, "hidden", { value: 1, enumerable: false }),
        (p) => Object.assign(Object.create(null) as Params, p),
        (p) => Object.assign(new (class Params {})(), p),
        (p) => Object.values(p),
        (p) => JSON.stringify(p)
      ),
      weight: 1
    }
  )

describe("compilePlainStruct: the guard's compiled check answers only what the tool's schema answers", () => {
  it("compiles every tool's parameter schema, so every planned action takes the plain path", () => {
    for (const tool of toolNames) expect(compilePlainStruct(toolSchema(tool)), tool).toBeDefined()
  })

  for (const tool of toolNames) {
    it(`${tool}: on generated parameters it stands aside, or gives the schema's value with its key order`, () => {
      const schema = toolSchema(tool)
      const decode = Schema.decodeUnknownEither(schema, options)
      const plain = compilePlainStruct(schema)!
      const keys = schema.ast._tag === "TypeLiteral" ? schema.ast.propertySignatures.map((ps) => String(ps.name)) : []
      let fast = 0
      let refused = 0
      FastCheck.assert(
        FastCheck.property(Arbitrary.make(schema), mutation(keys), (valid, change) => {
          const input = change(valid)
          const expected = decode(input)
          const value = plain(input)
          if (value === undefined) {
            if (Either.isLeft(expected)) refused++
          } else {
            fast++
            expect(Either.isRight(expected), JSON.stringify(issuesOf(expected))).toBe(true)
            expect(value).toStrictEqual(Either.getOrThrow(expected))
            expect(Reflect.ownKeys(value)).toEqual(Reflect.ownKeys(Either.getOrThrow(expected)))
          }
          // what the guard answers is the schema's answer, errors included
          const guarded = guardAction(tool, input)
          if (Either.isRight(guarded)) {
            expect(Either.isRight(expected)).toBe(true)
            expect(guarded.right.params).toStrictEqual(Either.getOrThrow(expected))
          } else if (guarded.left.rule === "invalid-params") {
            expect(Either.isLeft(expected)).toBe(true)
            if (Either.isLeft(expected)) expect(guarded.left.reason).toBe(formatParseIssues(expected.left))
          }
        }),
        { numRuns: 400 }
      )
      // the generators reach both sides: the plain path and the schema's refusals
      expect(fast).toBeGreaterThan(100)
      expect(refused).toBeGreaterThan(40)
    })
  }

  it("leaves to the schema any schema it cannot answer for", () => {
    expect(compilePlainStruct(Schema.Struct({ n: Schema.NumberFromString }))).toBeUndefined()
    expect(compilePlainStruct(Schema.Struct({ inner: Schema.Struct({ a: Schema.String }) }))).toBeUndefined()
    expect(compilePlainStruct(Schema.Record({ key: Schema.String, value: Schema.String }))).toBeUndefined()
    expect(compilePlainStruct(Schema.String)).toBeUndefined()
    expect(compilePlainStruct(Schema.Struct({ a: Schema.optionalWith(Schema.String, { default: () => "" }) }))).toBe(
      undefined
    )
  })
})
