// A schema's answer for plain input, compiled from the schema itself: for a flat Struct whose fields are strings,
// numbers, booleans, literals, unions of them and their refinements (maxLength, pattern, int, between...), valid input
// decodes to a copy of itself with the Struct's keys in the Struct's order. Checking that directly costs a fraction of
// what ParseResult's general interpreter allocates (the guard decoded every planned action through it: ~9 % of what
// a lead allocated). The schema stays the definition: the compiled check only says "valid, and this is the value"
// when the schema would, and leaves everything else to the schema, whose errors name each problem
// (test/domain/plainDecode.test.ts holds the two to the same answers on generated input).
import * as Option from "effect/Option"
import type * as Schema from "effect/Schema"
import * as AST from "effect/SchemaAST"

/** An object made by a JSON parser or an object literal: its prototype is Object.prototype or null. */
export const isPlainObject = (value: unknown): value is Record<string, unknown> => {
  if (typeof value !== "object" || value === null) return false
  const proto = Object.getPrototypeOf(value)
  return proto === Object.prototype || proto === null
}

type Check = (input: unknown) => boolean

const NO_OPTIONS: AST.ParseOptions = {}

/** A check for a value the schema decodes to itself; undefined for any AST it does not know to be so. */
const valueCheck = (ast: AST.AST): Check | undefined => {
  switch (ast._tag) {
    case "StringKeyword":
      return (input) => typeof input === "string"
    case "NumberKeyword":
      return (input) => typeof input === "number"
    case "BooleanKeyword":
      return (input) => typeof input === "boolean"
    case "UndefinedKeyword":
      return (input) => input === undefined
    case "Literal": {
      const literal = ast.literal
      return (input) => input === literal
    }
    case "Union": {
      if (ast.types.every((member) => AST.isLiteral(member) && typeof member.literal === "string")) {
        // an enumeration: one lookup (strings compare the same under === and a Set's SameValueZero)
        const options: ReadonlySet<unknown> = new Set(ast.types.map((member) => (member as AST.Literal).literal))
        return (input) => typeof input === "string" && options.has(input)
      }
      const members: Array<Check> = []
      for (const member of ast.types) {
        const check = valueCheck(member)
        if (check === undefined) return undefined
        members.push(check)
      }
      return (input) => members.some((check) => check(input))
    }
    case "Refinement": {
      // the refinement's own predicate, as ParseResult calls it after its `from` has decoded the value to itself
      const from = valueCheck(ast.from)
      if (from === undefined) return undefined
      return (input) => from(input) && Option.isNone(ast.filter(input, NO_OPTIONS, ast))
    }
    default:
      return undefined
  }
}

/**
 * The schema's decoding of plainly valid input, or undefined when the schema must decide (invalid input, input that
 * is not a plain object, keys it does not declare, a required key missing). The function itself is undefined when
 * the schema is not a flat Struct of the kinds above: then the schema decides everything.
 */
export const compilePlainStruct = <A, I>(
  schema: Schema.Schema<A, I, never>
): ((input: unknown) => A | undefined) | undefined => {
  const ast = schema.ast
  if (ast._tag !== "TypeLiteral" || ast.indexSignatures.length > 0) return undefined
  const fields: Array<{ readonly name: string; readonly optional: boolean; readonly check: Check }> = []
  for (const signature of ast.propertySignatures) {
    const check = valueCheck(signature.type)
    if (typeof signature.name !== "string" || check === undefined) return undefined
    fields.push({ name: signature.name, optional: signature.isOptional, check })
  }
  const declared: ReadonlySet<PropertyKey> = new Set(fields.map((field) => field.name))
  return (input) => {
    if (!isPlainObject(input)) return undefined
    // every own key, symbols and non-enumerable ones included, as the schema's excess-property check sees them
    for (const key of Reflect.ownKeys(input)) if (!declared.has(key)) return undefined
    const out: Record<string, unknown> = {}
    for (const { name, optional, check } of fields) {
      if (!Object.hasOwn(input, name)) {
        if (optional) continue
        return undefined
      }
      const value = input[name]
      if (!check(value)) return undefined
      out[name] = value
    }
    return out as A
  }
}
