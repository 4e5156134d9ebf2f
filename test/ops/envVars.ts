import { readdirSync, readFileSync, statSync } from "node:fs"
import { join, relative } from "node:path"
import ts from "typescript"

const ENV_NAME = /^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*$/

/** Config combinators whose string arguments are values or messages, not variable names. */
const VALUE_ARGS = new Set(["withDefault", "literal", "validate", "map", "mapOrFail", "orElse", "succeed", "fail"])

/** Every .ts file under `dirs` (relative to `root`), tests excluded. */
export const sourceFiles = (root: string, dirs: ReadonlyArray<string>): ReadonlyArray<string> => {
  const out: Array<string> = []
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name)
      if (statSync(path).isDirectory()) walk(path)
      else if (name.endsWith(".ts") && !name.endsWith(".test.ts") && !name.endsWith(".d.ts")) out.push(path)
    }
  }
  for (const dir of dirs) walk(join(root, dir))
  return out.sort()
}

const parse = (path: string) =>
  ts.createSourceFile(path, readFileSync(path, "utf8"), ts.ScriptTarget.Latest, true, ts.ScriptKind.TS)

const walk = (node: ts.Node, visit: (node: ts.Node) => void) => {
  visit(node)
  node.forEachChild((child) => walk(child, visit))
}

/** `Config.x(...)`: the member name x, else undefined. */
const configMember = (callee: ts.Expression): string | undefined =>
  ts.isPropertyAccessExpression(callee) && ts.isIdentifier(callee.expression) && callee.expression.text === "Config"
    ? callee.name.text
    : undefined

const calleeName = (callee: ts.Expression): string | undefined => (ts.isIdentifier(callee) ? callee.text : undefined)

/** A function whose parameter `param` flows, as a bare identifier, into a Config call or a known helper. */
const forwardsName = (body: ts.Node, param: string, helpers: ReadonlySet<string>): boolean => {
  let found = false
  walk(body, (node) => {
    if (found || !ts.isCallExpression(node)) return
    const member = configMember(node.expression)
    const isSink = (member !== undefined && !VALUE_ARGS.has(member)) || helpers.has(calleeName(node.expression) ?? "")
    if (isSink && node.arguments.some((arg) => ts.isIdentifier(arg) && arg.text === param)) found = true
  })
  return found
}

/** Names of local helpers like `const positive = (name: string, fallback: number) => Config.integer(name)...`. */
const findHelpers = (files: ReadonlyArray<ts.SourceFile>): ReadonlySet<string> => {
  const helpers = new Set<string>()
  for (let changed = true; changed; ) {
    changed = false
    for (const file of files) {
      walk(file, (node) => {
        let name: string | undefined
        let fn: (ts.SignatureDeclaration & { body?: ts.Node | undefined }) | undefined
        if (ts.isVariableDeclaration(node) && ts.isIdentifier(node.name) && node.initializer !== undefined) {
          const init = node.initializer
          if (ts.isArrowFunction(init) || ts.isFunctionExpression(init)) {
            name = node.name.text
            fn = init
          }
        } else if (ts.isFunctionDeclaration(node) && node.name !== undefined) {
          name = node.name.text
          fn = node
        }
        if (name === undefined || fn?.body === undefined || helpers.has(name)) return
        const first = fn.parameters[0]
        if (first !== undefined && ts.isIdentifier(first.name) && forwardsName(fn.body, first.name.text, helpers)) {
          helpers.add(name)
          changed = true
        }
      })
    }
  }
  return helpers
}

/**
 * Every environment variable the code reads through Effect Config: string literals passed to Config.string /
 * integer / redacted / array / nested ..., to `Config.literal(...)("NAME")`, or as the first argument of a local
 * helper that forwards its first parameter into one of those. Returns name -> files that read it.
 */
export const configEnvVars = (
  root: string,
  dirs: ReadonlyArray<string>
): ReadonlyMap<string, ReadonlyArray<string>> => {
  const files = sourceFiles(root, dirs).map(parse)
  const helpers = findHelpers(files)
  const found = new Map<string, Set<string>>()
  const add = (name: string, file: ts.SourceFile) => {
    if (!ENV_NAME.test(name)) return
    const set = found.get(name) ?? new Set<string>()
    set.add(relative(root, file.fileName))
    found.set(name, set)
  }
  for (const file of files) {
    walk(file, (node) => {
      if (!ts.isCallExpression(node)) return
      const member = configMember(node.expression)
      const literals = node.arguments.filter(ts.isStringLiteralLike)
      if (member !== undefined && !VALUE_ARGS.has(member)) for (const arg of literals) add(arg.text, file)
      // Config.literal("A", "B")("NAME"): the outer call names the variable
      if (ts.isCallExpression(node.expression) && configMember(node.expression.expression) === "literal") {
        for (const arg of literals) add(arg.text, file)
      }
      const helper = calleeName(node.expression)
      const first = node.arguments[0]
      if (helper !== undefined && helpers.has(helper) && first !== undefined && ts.isStringLiteralLike(first)) {
        add(first.text, file)
      }
    })
  }
  return new Map([...found].sort(([a], [b]) => a.localeCompare(b)).map(([name, set]) => [name, [...set].sort()]))
}
