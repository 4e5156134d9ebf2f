import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import { compilePlainStruct, isPlainObject } from "./plainDecode.js"
import { type CrmAction, isToolName, ToolParams } from "./tools.js"

/** A planned CRM call the safety guard refused. Permanent: retrying the same action cannot pass. */
export class GuardBlocked extends Schema.TaggedError<GuardBlocked>()("GuardBlocked", {
  tool: Schema.String,
  rule: Schema.String,
  reason: Schema.String
}) {}

/** Which guard rule refused an action; stable names for audit rows and metrics labels. */
export type GuardRule =
  | "blocked-tool"
  | "unknown-tool"
  | "not-plain-object"
  | "forbidden-key"
  | "template-key"
  | "too-deep"
  | "too-many-keys"
  | "key-too-long"
  | "invalid-params"

/** Deepest nesting accepted in tool parameters (the top-level object is depth 1). */
export const maxParamDepth = 4
/** Most keys accepted across all levels of one tool's parameters. */
export const maxParamKeys = 64
const maxKeyLength = 128

/**
 * Fragments that mark destructive, bulk, schema, permission or raw-query tools. Matched against the tool name
 * lower-cased with separators removed, so "Delete-Lead", "deleteLead" and "DELETE_LEAD" all hit "delete".
 */
export const blockedToolFragments: ReadonlyArray<string> = [
  "delete",
  "destroy",
  "purge",
  "truncate",
  "drop",
  "remove",
  "mass",
  "merge",
  "bulkexport",
  "export",
  "alter",
  "createfield",
  "updateschema",
  "schema",
  "metadata",
  "grant",
  "permission",
  "profile",
  "role",
  "executequery",
  "runsoql",
  "rawsql",
  "query",
  "soql",
  "sosl",
  "sql",
  "apex",
  "anonymous"
]

const forbiddenKeys = new Set(["__proto__", "constructor", "prototype"])
const templateSyntax = /\{\{|\}\}|\$\{|<%|%>|#\{/

const block = (tool: string, rule: GuardRule, reason: string) => Either.left(new GuardBlocked({ tool, rule, reason }))

/** Keys are attacker-controlled: odd ones are quoted and cut short so a reason never carries raw control text. */
const formatKey = (key: PropertyKey): string => {
  if (typeof key === "number") return `[${key}]`
  const text = String(key)
  return /^[A-Za-z_$[\]][\w$\-[\]]{0,63}$/.test(text) ? text : JSON.stringify(text.slice(0, 64))
}

const formatPath = (path: ReadonlyArray<PropertyKey>): string =>
  path.length === 0 ? "(root)" : path.map(formatKey).join(".")

/** One line per bad field ("path: message"), every field named once; drops Schema.optional's "Expected undefined". */
export const formatParseIssues = (error: ParseResult.ParseError): string => {
  const seen = new Map<string, string>()
  for (const issue of ParseResult.ArrayFormatter.formatErrorSync(error)) {
    if (issue.message.startsWith("Expected undefined, actual")) continue
    const path = formatPath(issue.path)
    if (!seen.has(path)) seen.set(path, issue.message)
  }
  return [...seen].map(([path, message]) => `${path}: ${message}`).join("; ")
}

type StructureProblem = { readonly rule: GuardRule; readonly reason: string }

/**
 * Walks keys (never values' text): structure is what an attacker controls to reach prototypes or templates. The
 * path is kept as a stack and formatted only for a problem's reason: every planned action passes here.
 */
const checkStructure = (params: unknown): StructureProblem | undefined => {
  if (!isPlainObject(params)) return { rule: "not-plain-object", reason: "params must be a plain JSON object" }
  let keyCount = 0
  const path: Array<string> = []
  const at = (key: string) => formatPath([...path, key])
  const visit = (value: unknown, depth: number): StructureProblem | undefined => {
    if (value === null || typeof value !== "object") return undefined
    if (depth > maxParamDepth) {
      return { rule: "too-deep", reason: `${formatPath(path)} nests deeper than ${maxParamDepth} levels` }
    }
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) {
        path.push(`[${i}]`)
        const problem = visit(value[i], depth + 1)
        path.pop()
        if (problem) return problem
      }
      return undefined
    }
    if (!isPlainObject(value))
      return { rule: "not-plain-object", reason: `${formatPath(path)} is not a plain JSON object` }
    for (const key of Reflect.ownKeys(value)) {
      if (typeof key === "symbol") return { rule: "forbidden-key", reason: `${formatPath(path)} has a symbol key` }
      keyCount++
      if (keyCount > maxParamKeys)
        return { rule: "too-many-keys", reason: `params hold more than ${maxParamKeys} keys` }
      if (forbiddenKeys.has(key.trim().toLowerCase()))
        return { rule: "forbidden-key", reason: `${at(key)} is a forbidden key` }
      if (templateSyntax.test(key)) return { rule: "template-key", reason: `${at(key)} contains template syntax` }
      if (key.length > maxKeyLength)
        return { rule: "key-too-long", reason: `a key in ${formatPath(path)} is over ${maxKeyLength} chars` }
      path.push(key)
      const problem = visit((value as Record<string, unknown>)[key], depth + 1)
      path.pop()
      if (problem) return problem
    }
    return undefined
  }
  return visit(params, 1)
}

/** The tool name matches a destructive / bulk / schema / raw-query pattern. */
export const isBlockedToolName = (tool: string): boolean => {
  const normalised = tool.toLowerCase().replace(/[^a-z0-9]/g, "")
  return blockedToolFragments.some((fragment) => normalised.includes(fragment))
}

const decoders = new Map<string, (input: unknown) => Either.Either<unknown, ParseResult.ParseError>>()
/**
 * A tool's parameter decoder: plainly valid parameters (every planned action's) by the check compiled from the tool's
 * schema, anything else by the schema itself, whose errors name every problem.
 */
const decoderFor = (tool: keyof typeof ToolParams) => {
  let decode = decoders.get(tool)
  if (decode === undefined) {
    const schema = ToolParams[tool] as Schema.Schema<unknown, unknown, never>
    const decodeSchema = Schema.decodeUnknownEither(schema, { errors: "all", onExcessProperty: "error" })
    const plain = compilePlainStruct(schema)
    decode =
      plain === undefined
        ? decodeSchema
        : (input) => {
            const value = plain(input)
            return value === undefined ? decodeSchema(input) : Either.right(value)
          }
    decoders.set(tool, decode)
  }
  return decode
}

/**
 * The safety guard: blocked tool patterns, then the allow-list, then structural checks on the parameters
 * (plain object, no prototype keys, no template syntax in keys, bounded depth and size), then the tool's Schema.
 * Values are data and never blocked for their text ("Prototype Labs", "Delete Manager" pass).
 */
export const guardAction = (tool: string, params: unknown): Either.Either<CrmAction, GuardBlocked> => {
  if (typeof tool !== "string" || tool.length === 0 || tool.length > 64) {
    return block(String(tool).slice(0, 64), "unknown-tool", "tool name must be 1-64 characters")
  }
  if (isBlockedToolName(tool)) {
    return block(tool, "blocked-tool", `tool "${tool}" is destructive, bulk, schema-changing or a raw query`)
  }
  if (!isToolName(tool)) return block(tool, "unknown-tool", `tool "${tool}" is not registered`)
  const problem = checkStructure(params)
  if (problem) return block(tool, problem.rule, problem.reason)
  return Either.match(decoderFor(tool)(params), {
    onLeft: (error) => block(tool, "invalid-params", formatParseIssues(error)),
    onRight: (decoded) => Either.right({ tool, params: decoded } as CrmAction)
  })
}
