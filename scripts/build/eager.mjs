// The functions a start calls, compiled with their file: in Node's compile cache too.
//
// Node's compile cache (NODE_COMPILE_CACHE, warmed in the image) keeps what V8 compiled when it compiled a module:
// its top level, and any function V8 compiled eagerly with it. V8 compiles every other function when it is first
// called, so at each start the ~2,000 functions start-up runs (Effect's runtime, the layers, the drivers' set-up,
// the CommonJS packages' module bodies) were parsed a second time and compiled again, the cache or not. V8 compiles a
// function eagerly when it is wrapped in parentheses, `((a) => ...)` / `(function () {...})` (its heuristic for a
// function about to be called), which changes nothing else about it. So after bundling, the program is started once
// the way the Dockerfile warms its cache (a Postgres and a Redis that refuse the connection: everything up to
// connecting runs), V8 logs which functions it compiled lazily (--log-function-events: file, start and end offset),
// and each of those that is an arrow function or a function expression is wrapped in parentheses in the bundle;
// its source map moves with it. (Declarations and methods cannot be wrapped; they stay lazy.) The figures:
// docs/performance-log.md.
import { spawnSync } from "node:child_process"
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, relative } from "node:path"
import { fileURLToPath } from "node:url"
import { warmUpEnv } from "../ops/runtimeEnv.mjs"
import { decodeSegment, encodeSegment } from "./names.mjs"

/** A simple arrow parameter list and its arrow: `(a,b)=>`, `()=>`, `(...a)=>`, `a=>`. */
const ARROW = /^(?:\((?:[\w$]+(?:,[\w$]+)*(?:,\.\.\.[\w$]+)?|\.\.\.[\w$]+)?\)|[\w$]+)=>/
/** `function`, `function name`, `function*` right before a function's parameters. */
const FUNCTION_KEYWORD = /function\*?(?:\s+[\w$]+|\s*)$/
/**
 * What may come right before a function expression: a declaration follows `;`, `{`, `}`, a line's start, or a
 * `case x:` (so `:` only before an anonymous one, which cannot be a declaration).
 */
const EXPRESSION_BEFORE = /[(,=?[!&|>]$/
const ANONYMOUS_EXPRESSION_BEFORE = /[(,=:?[!&|>]$/

/**
 * Where to put the parentheses around the function V8 reported at [start, end) of `text`, or undefined when it is
 * not one that can be wrapped: a declaration, a method, an async function, an arrow with destructured parameters.
 */
export const wrapping = (text, start, end) => {
  const arrow = ARROW.exec(text.slice(start, start + 400))
  if (arrow !== null) {
    if (/\basync\s*$/.test(text.slice(Math.max(0, start - 6), start))) return undefined
    const body = start + arrow[0].length
    // a block body ends with its brace; a concise body ends where its expression does, which V8 reports
    if (text[body] === "{" && text[end - 1] !== "}") return undefined
    return { open: start, close: end }
  }
  const before = text.slice(Math.max(0, start - 200), start)
  const keyword = FUNCTION_KEYWORD.exec(before)
  if (keyword === null || text[start] !== "(" || text[end - 1] !== "}") return undefined
  const open = start - keyword[0].length
  const preceding = text.slice(Math.max(0, open - 20), open).trimEnd()
  const anonymous = /^function\*?\s*$/.test(keyword[0])
  if (/\basync$/.test(preceding) || !(anonymous ? ANONYMOUS_EXPRESSION_BEFORE : EXPRESSION_BEFORE).test(preceding))
    return undefined
  return { open, close: end }
}

/**
 * `text` with `(` at each spot's `open` offset and `)` at its `close`, and those offsets in ascending order (at the
 * same offset a `)` goes first: it closes a function that ends where the next begins).
 */
const insertParentheses = (text, spots) => {
  const inserts = [
    ...spots.map((s) => ({ at: s.open, char: "(" })),
    ...spots.map((s) => ({ at: s.close, char: ")" }))
  ].sort((a, b) => a.at - b.at || (a.char === b.char ? 0 : a.char === ")" ? -1 : 1))
  let out = ""
  let from = 0
  for (const { at, char } of inserts) {
    out += text.slice(from, at) + char
    from = at
  }
  return { text: out + text.slice(from), offsets: inserts.map((i) => i.at) }
}

/** Move a source map's generated columns past each insertion (offsets in the original text, ascending). */
const shiftForInsertions = (mappings, text, offsets) => {
  // insertions per line, as columns of the original text
  const perLine = new Map()
  let line = 0
  let lineStart = 0
  let next = text.indexOf("\n")
  for (const offset of offsets) {
    while (next !== -1 && offset > next) {
      line++
      lineStart = next + 1
      next = text.indexOf("\n", lineStart)
    }
    const columns = perLine.get(line) ?? []
    columns.push(offset - lineStart)
    perLine.set(line, columns)
  }
  const lines = mappings.split(";")
  for (const [index, columns] of perLine) {
    if (!lines[index]) continue
    let column = 0
    let written = 0
    let shift = 0
    let k = 0
    lines[index] = lines[index]
      .split(",")
      .map((segment) => {
        const values = decodeSegment(segment)
        column += values[0]
        while (k < columns.length && columns[k] <= column) {
          shift++
          k++
        }
        values[0] = column + shift - written
        written = column + shift
        return encodeSegment(values)
      })
      .join(",")
  }
  return lines.join(";")
}

/** A long-running program's start: `node index.mjs`, up to connecting. */
export const programStart = Object.freeze({ args: ["index.mjs"], env: {} })

/**
 * A Lambda handler's cold start: `index.mjs` imported and its `handler` called once with `event`, as Lambda's runtime
 * does, against the same refused connections, an SQS endpoint that refuses too and placeholder AWS credentials (the
 * handler's answer is an error; what it compiled on the way is what a cold start compiles up to connecting).
 */
export const lambdaStart = (event) =>
  Object.freeze({
    args: [
      "--input-type=module",
      "-e",
      [
        'const { handler } = await import("./index.mjs")',
        'const context = { awsRequestId: "warm-up", getRemainingTimeInMillis: () => 30000 }',
        "await Promise.resolve(handler(JSON.parse(process.env.RF_WARM_UP_EVENT), context)).catch(() => undefined)",
        "process.exit(0)"
      ].join("\n")
    ],
    env: {
      RF_WARM_UP_EVENT: JSON.stringify(event),
      SQS_QUEUE_URL: "http://127.0.0.1:9/000000000000/warm-up",
      AWS_ENDPOINT_URL_SQS: "http://127.0.0.1:9",
      AWS_REGION: "us-east-1",
      AWS_ACCESS_KEY_ID: "AKIAWARMUP",
      AWS_SECRET_ACCESS_KEY: "warm-up",
      AWS_MAX_ATTEMPTS: "1"
    }
  })

/**
 * Start the bundle in `outdir` once as `start` says (connections refused), and wrap each function it compiled lazily
 * in parentheses. Returns how many were wrapped and how many could not be.
 */
export const compileStartEagerly = (outdir, start = programStart) => {
  const logDir = mkdtempSync(join(tmpdir(), "rf-eager-"))
  const log = join(logDir, "v8.log")
  try {
    const run = spawnSync(
      process.execPath,
      ["--log-function-events", `--logfile=${log}`, "--no-logfile-per-isolate", ...start.args],
      {
        cwd: outdir,
        stdio: "ignore",
        timeout: 60_000,
        env: {
          PATH: process.env.PATH ?? "",
          HOME: logDir,
          ...warmUpEnv,
          ...start.env
        }
      }
    )
    // a start that could not run or ended by the timeout leaves a log of what it compiled so far, or none: the
    // bundle is wrapped as far as that goes (the build says so when that is nothing), never left broken
    if (run.error && !existsSync(log)) return { wrapped: 0, left: 0 }
    const scripts = new Map()
    const ranges = new Map()
    for (const entry of readFileSync(log, "utf8").split("\n")) {
      const fields = entry.split(",")
      if (fields[0] === "script-details" && fields[2]?.startsWith("file://")) {
        const file = fileURLToPath(fields[2])
        // the bundle's own files (not the driver a Lambda start evaluates from the command line)
        if (!relative(outdir, file).startsWith("..") && file.endsWith(".mjs")) scripts.set(fields[1], file)
      } else if (fields[0] === "function" && fields[1] === "parse-function") {
        const file = scripts.get(fields[2])
        if (file === undefined) continue
        const set = ranges.get(file) ?? new Set()
        set.add(`${fields[3]},${fields[4]}`)
        ranges.set(file, set)
      }
    }
    let wrapped = 0
    let left = 0
    for (const [file, set] of ranges) {
      const text = readFileSync(file, "utf8")
      const spots = []
      for (const range of set) {
        const [start, end] = range.split(",").map(Number)
        const spot = wrapping(text, start, end)
        if (spot === undefined) left++
        else spots.push(spot)
      }
      if (spots.length === 0) continue
      const result = insertParentheses(text, spots)
      writeFileSync(file, result.text)
      const mapFile = `${file}.map`
      let map
      try {
        map = JSON.parse(readFileSync(mapFile, "utf8"))
      } catch {
        map = undefined
      }
      if (map !== undefined) {
        map.mappings = shiftForInsertions(map.mappings, text, result.offsets)
        writeFileSync(mapFile, JSON.stringify(map))
      }
      wrapped += spots.length
    }
    return { wrapped, left }
  } finally {
    rmSync(logDir, { recursive: true, force: true })
  }
}
