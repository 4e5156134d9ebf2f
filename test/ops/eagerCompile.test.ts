import { execFile, spawnSync } from "node:child_process"
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import * as esbuild from "esbuild"
import { compileStartEagerly, lambdaStart, wrapping } from "../../scripts/build/eager.mjs"
import { bundleOptions } from "../../scripts/build/options.mjs"

const root = resolve(import.meta.dirname, "../..")

/** `text` with the parentheses `wrapping` would put around the function at `[start, end)`. */
const wrapped = (text: string, start: number, end: number) => {
  const spot = wrapping(text, start, end)
  return spot === undefined
    ? undefined
    : `${text.slice(0, spot.open)}(${text.slice(spot.open, spot.close)})${text.slice(spot.close)}`
}

/** `lines` as src/entry.mjs under `dir`, bundled as the build bundles a program into `dir`/`name`; its outdir. */
const bundleFixture = async (dir: string, name: string, lines: ReadonlyArray<string>) => {
  const src = join(dir, "src")
  mkdirSync(src)
  writeFileSync(join(src, "entry.mjs"), lines.join("\n"))
  const outdir = join(dir, name)
  await esbuild.build({
    ...bundleOptions({ root, program: { name: "fixture", entry: join(src, "entry.mjs") }, outdir }),
    logLevel: "silent"
  })
  return outdir
}

describe("the functions a start calls are compiled with their module (scripts/build/eager.mjs)", () => {
  it("wraps arrow functions and function expressions, and nothing that parentheses would change", () => {
    // V8 reports a function from its parameters to the end of its body
    const at = (text: string, from: string, to: string) =>
      wrapped(text, text.indexOf(from), text.indexOf(to) + to.length)
    expect(at("var f=(a,b)=>{return a+b},g=1;", "(a,b)", "a+b}")).toBe("var f=((a,b)=>{return a+b}),g=1;")
    expect(at("var f=a=>a+1,g=1;", "a=>", "a+1")).toBe("var f=(a=>a+1),g=1;")
    expect(at("x(()=>{y()});", "()=>", "y()}")).toBe("x((()=>{y()}));")
    expect(at("x(1,function(a){return a});", "(a)", "return a}")).toBe("x(1,(function(a){return a}));")
    expect(at("var f=function g(a){return a};", "(a)", "return a}")).toBe("var f=(function g(a){return a});")
    // a declaration would become an expression and its name unbound; a method's parameters are not an expression
    expect(at("function f(a){return a}f(1);", "(a)", "return a}")).toBeUndefined()
    expect(at("x();function f(a){return a}", "(a)", "return a}")).toBeUndefined()
    expect(at("switch(x){case 1:function f(a){return a}}", "(a)", "return a}")).toBeUndefined()
    expect(at("var o={k:function(a){return a}};", "(a)", "return a}")).toBe("var o={k:(function(a){return a})};")
    expect(at("class A{m(a){return a}}", "(a)", "return a}")).toBeUndefined()
    expect(at("var o={m(a){return a}};", "(a)", "return a}")).toBeUndefined()
    // `async (a)=>...` and `async function` would be split from their keyword; destructuring is not parsed here
    expect(at("var f=async(a)=>{await a};", "(a)", "await a}")).toBeUndefined()
    expect(at("var f=async function(a){await a};", "(a)", "await a}")).toBeUndefined()
    expect(at("var f=({a})=>{return a};", "({a})", "return a}")).toBeUndefined()
  })

  it("the program runs as before, V8 compiles what it wrapped with the module, and stacks still map", {
    timeout: 60_000
  }, async () => {
    const dir = mkdtempSync(join(tmpdir(), "rf-eager-"))
    try {
      const src = join(dir, "src")
      const outdir = await bundleFixture(dir, "program", [
        "const add = (a, b) => { const sum = a + b; return sum }",
        "const twice = (a) => a * 2",
        "const shout = function (text) { return text.toUpperCase() + '!' }",
        "function declared(a) { return a - 1 }",
        "class Counter { constructor() { this.n = 0 } bump() { this.n += 1; return this.n } }",
        "const unused = () => { throw new Error('never called') }",
        "const check = (mode) => {",
        "  if (mode === 'throw') throw new Error('thrown on line 8 of entry.mjs')",
        "  return 'checked'",
        "}",
        "const counter = new Counter()",
        "console.log(JSON.stringify({",
        "  add: add(2, 3), twice: twice(4), shout: shout('hi'), declared: declared(10),",
        "  bumped: [counter.bump(), counter.bump()], check: check(process.argv[2]), unused: typeof unused",
        "}))"
      ])
      const run = (args: ReadonlyArray<string>) =>
        new Promise<{ stdout: string; stderr: string }>((done) => {
          execFile(process.execPath, args, { cwd: outdir, timeout: 30_000 }, (_error, stdout, stderr) =>
            done({ stdout, stderr })
          )
        })
      /** How many of the program's own functions V8 compiled lazily (on first call) in one run. */
      const lazilyCompiled = () => {
        const log = join(dir, "v8.log")
        spawnSync(
          process.execPath,
          ["--log-function-events", `--logfile=${log}`, "--no-logfile-per-isolate", "index.mjs"],
          {
            cwd: outdir
          }
        )
        const lines = readFileSync(log, "utf8").split("\n")
        const script = lines
          .find((l) => l.startsWith("script-details,") && l.includes("/program/index.mjs"))
          ?.split(",")[1]
        return new Set(
          lines
            .filter((l) => l.startsWith(`function,parse-function,${script},`))
            .map((l) => l.split(",").slice(3, 5).join(","))
        ).size
      }

      const before = await run(["index.mjs"])
      const expected = {
        add: 5,
        twice: 8,
        shout: "HI!",
        declared: 9,
        bumped: [1, 2],
        check: "checked",
        unused: "function"
      }
      expect(JSON.parse(before.stdout)).toEqual(expected)
      const lazyBefore = lazilyCompiled()
      /** Where the stack's top frame is, through the source map: `.../src/entry.mjs:line:column`. */
      const thrownAt = async () => {
        const { stderr } = await run(["--enable-source-maps", "index.mjs", "throw"])
        return new RegExp(`${join(src, "entry.mjs")}:\\d+:\\d+`).exec(stderr)?.[0]
      }
      const thrownBefore = await thrownAt()
      expect(thrownBefore).toMatch(/entry\.mjs:8:\d+$/)

      const result = compileStartEagerly(outdir)
      // add, twice, shout and check at least (and esbuild's helpers the start calls); the declaration, the class's
      // constructor and method stay lazy, as does what the start never called
      expect(result.wrapped).toBeGreaterThanOrEqual(4)
      expect(result.left).toBeGreaterThanOrEqual(3)
      const after = await run(["index.mjs"])
      expect(after.stderr).toBe("")
      expect(JSON.parse(after.stdout)).toEqual(expected)
      expect(lazilyCompiled()).toBe(lazyBefore - result.wrapped)
      // done again, there is nothing more it can wrap
      expect(compileStartEagerly(outdir)).toEqual({ wrapped: 0, left: result.left })

      // the source map moved with the parentheses: the same line and column
      expect(await thrownAt()).toBe(thrownBefore)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it("a Lambda bundle is warmed by calling its handler with an event: what the call compiles is wrapped, and it answers as before", {
    timeout: 60_000
  }, async () => {
    const dir = mkdtempSync(join(tmpdir(), "rf-eager-lambda-"))
    try {
      const outdir = await bundleFixture(dir, "lambda", [
        "const greet = (name) => { const text = 'hello ' + name; return text }",
        "const route = (event) => event.path === '/greet' ? greet(event.name) : 'not found'",
        "const neverOnTheWarmUp = (event) => { return 'other ' + event.path }",
        "export const handler = async (event) => ({ body: event.other ? neverOnTheWarmUp(event) : route(event) })"
      ])
      const invoke = (event: unknown) =>
        new Promise<string>((done) => {
          execFile(
            process.execPath,
            [
              "--input-type=module",
              "-e",
              `const { handler } = await import("./index.mjs"); console.log(JSON.stringify(await handler(${JSON.stringify(event)})))`
            ],
            { cwd: outdir, timeout: 30_000 },
            (_error, stdout, stderr) => done(stdout + stderr)
          )
        })
      const event = { path: "/greet", name: "lead" }
      expect(await invoke(event)).toBe('{"body":"hello lead"}\n')

      const result = compileStartEagerly(outdir, lambdaStart(event))
      // route and greet (and esbuild's name helper): the functions the warm-up event reached (the driver's own code is not the bundle's)
      expect(result.wrapped).toBeGreaterThanOrEqual(3)
      const text = readFileSync(join(outdir, "index.mjs"), "utf8")
      // (minified: greet is `t=>"hello "+t`, route `t=>t.path===...`)
      expect(text).toMatch(/\(\(\w+=>"hello "/)
      expect(text).toMatch(/\(\(\w+=>\w+\.path===/)
      // what the warm-up never reached stays lazy
      expect(text).toMatch(/[^(]\(\w+=>"other "/)
      expect(await invoke(event)).toBe('{"body":"hello lead"}\n')
      expect(await invoke({ path: "/x", other: true })).toBe('{"body":"other /x"}\n')
      expect(compileStartEagerly(outdir, lambdaStart(event)).wrapped).toBe(0)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
