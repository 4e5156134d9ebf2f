import { execFile } from "node:child_process"
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import * as esbuild from "esbuild"
import { toCommonJs } from "../../scripts/build/commonjs.mjs"
import { bundleOptions } from "../../scripts/build/options.mjs"

const root = resolve(import.meta.dirname, "../..")

// A program with what the real ones rely on across the conversion: a chunk imported lazily whose default export is
// read (as `(await import("postgres")).default` is), a chunk shared with it, a live binding, a CommonJS dependency
// using __dirname and require, import.meta.url and import.meta.resolve (is a package installed?), a class name kept through minification, strict mode, and a throw
// whose stack the source map leads back to its line.
const sources: Record<string, string> = {
  "entry.mjs": [
    'import { basename, dirname } from "node:path"',
    'import { fileURLToPath } from "node:url"',
    'import { bump, counter, LeadError } from "./shared.mjs"',
    'import dep from "./dep.cjs"',
    "const strict = (function () { return this === undefined })()",
    "const installed = ['rf-present', 'rf-absent'].map((name) => {",
    "  try { return import.meta.resolve(name).endsWith('/node_modules/rf-present/index.js') } catch { return 'absent' }",
    "})",
    'import("./lazy.mjs").then((lazy) => {',
    "  bump()",
    '  if (process.argv[2] === "throw") throw new Error("thrown on line 11 of entry.mjs")',
    "  console.log(JSON.stringify({",
    "    lazyDefault: lazy.default(),",
    "    lazyNamed: lazy.named,",
    "    counterSeenHere: counter,",
    "    counterSeenByLazy: lazy.counterThere(),",
    "    errorName: new LeadError().name,",
    "    dependency: { dir: basename(dep.dir), required: dep.required },",
    "    metaUrlInProgram: dirname(fileURLToPath(import.meta.url)) === process.cwd(),",
    "    packages: installed,",
    "    strict",
    "  }))",
    "})"
  ].join("\n"),
  "shared.mjs": [
    "export let counter = 0",
    "export const bump = () => { counter += 1 }",
    "export class LeadError extends Error { constructor() { super(); this.name = this.constructor.name } }"
  ].join("\n"),
  "lazy.mjs": [
    'import { counter } from "./shared.mjs"',
    'export default function driver() { return "the default export" }',
    'export const named = "a named export"',
    "export const counterThere = () => counter"
  ].join("\n"),
  "dep.cjs": 'module.exports = { dir: __dirname, required: typeof require("node:os").cpus }'
}

const expected = {
  lazyDefault: "the default export",
  lazyNamed: "a named export",
  counterSeenHere: 1,
  counterSeenByLazy: 1,
  errorName: "LeadError",
  dependency: { dir: "program", required: "function" },
  metaUrlInProgram: true,
  packages: [true, "absent"],
  strict: true
}

const run = (cwd: string, args: ReadonlyArray<string>, env: Record<string, string> = {}) =>
  new Promise<{ code: number | null; stdout: string; stderr: string }>((done) => {
    const child = execFile(
      process.execPath,
      args,
      { cwd, env: { PATH: process.env.PATH ?? "", ...env }, timeout: 30_000 },
      (_error, stdout, stderr) => done({ code: child.exitCode, stdout, stderr })
    )
  })

/** The fixture bundled as the programs are (split ESM with the banner), in `dir`/program. */
const bundle = async (dir: string) => {
  const src = join(dir, "src")
  mkdirSync(src)
  for (const [name, text] of Object.entries(sources)) writeFileSync(join(src, name), text)
  const outdir = join(dir, "program")
  const program = { name: "fixture", entry: join(src, "entry.mjs") }
  await esbuild.build({ ...bundleOptions({ root, program, outdir }), logLevel: "silent" })
  // a package installed beside the program, found at run time
  mkdirSync(join(outdir, "node_modules", "rf-present"), { recursive: true })
  writeFileSync(
    join(outdir, "node_modules", "rf-present", "package.json"),
    '{ "name": "rf-present", "main": "index.js" }'
  )
  writeFileSync(join(outdir, "node_modules", "rf-present", "index.js"), "module.exports = 1")
  return outdir
}

/** The loader's cache files (Node's own cache keeps its folder beside them), by name, with their modification times. */
const cacheFiles = (cache: string) => {
  const folders = existsSync(cache) ? readdirSync(cache).filter((f) => f.startsWith("revenueflow-")) : []
  const [only] = folders
  if (folders.length !== 1 || only === undefined) return { folder: folders, files: {} as Record<string, number> }
  const files = readdirSync(join(cache, only))
  return {
    folder: folders,
    files: Object.fromEntries(files.map((f) => [f, statSync(join(cache, only, f)).mtimeMs]))
  }
}

describe("the programs as CommonJS with a warm code cache (scripts/build/commonjs.mjs)", () => {
  it("the converted program does what the ES-module build did, and its stack traces still map to the sources", {
    timeout: 60_000
  }, async () => {
    const dir = mkdtempSync(join(tmpdir(), "rf-commonjs-"))
    try {
      const outdir = await bundle(dir)
      const esm = await run(outdir, ["index.mjs"])
      expect(JSON.parse(esm.stdout)).toEqual(expected)
      const esmThrow = await run(outdir, ["--enable-source-maps", "index.mjs", "throw"])

      await toCommonJs(outdir)
      expect(
        readdirSync(outdir)
          .filter((f) => /\.[mc]js$/.test(f))
          .sort()
      ).toEqual(["index.mjs", "main.cjs"])
      expect(readdirSync(join(outdir, "chunks")).filter((f) => f.endsWith(".mjs"))).toEqual([])
      const cjs = await run(outdir, ["index.mjs"])
      expect(cjs.stderr).toBe("")
      expect(JSON.parse(cjs.stdout)).toEqual(expected)

      const cjsThrow = await run(outdir, ["--enable-source-maps", "index.mjs", "throw"])
      expect(esmThrow.stderr).toContain(`${join(dir, "src", "entry.mjs")}:11`)
      expect(cjsThrow.stderr).toContain(`${join(dir, "src", "entry.mjs")}:11`)
      expect(cjsThrow.code).toBe(1)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it("with NODE_COMPILE_CACHE a start writes the cache, the next reads it, and one V8 refuses is written anew", {
    timeout: 60_000
  }, async () => {
    const dir = mkdtempSync(join(tmpdir(), "rf-commonjs-cache-"))
    try {
      const outdir = await bundle(dir)
      await toCommonJs(outdir)
      const cache = join(dir, "cache")
      const env = { NODE_COMPILE_CACHE: cache }

      const first = await run(outdir, ["index.mjs"], env)
      expect(JSON.parse(first.stdout)).toEqual(expected)
      const written = cacheFiles(cache)
      // one folder for this build, Node and V8; a file for every program file that ran, the lazy chunk's too
      expect(written.folder).toEqual([expect.stringMatching(/^revenueflow-[0-9a-f]{16}-v24\.[0-9.]+-/)])
      const chunks = readdirSync(join(outdir, "chunks")).filter((f) => f.endsWith(".cjs"))
      expect(Object.keys(written.files).sort()).toEqual(
        ["main.cjs.cache", ...chunks.map((f) => `chunks_${f}.cache`)].sort()
      )

      // accepted: the same answer and nothing rewritten
      await new Promise((r) => setTimeout(r, 20))
      const second = await run(outdir, ["index.mjs"], env)
      expect(JSON.parse(second.stdout)).toEqual(expected)
      expect(cacheFiles(cache)).toEqual(written)

      // a cache V8 refuses (here: not V8's at all) is ignored, the program runs as it would, and the file is redone
      const folder = join(cache, written.folder[0] ?? "")
      writeFileSync(join(folder, "main.cjs.cache"), "not a code cache")
      const third = await run(outdir, ["index.mjs"], env)
      expect(JSON.parse(third.stdout)).toEqual(expected)
      expect(statSync(join(folder, "main.cjs.cache")).size).toBeGreaterThan(100)
      expect(readdirSync(folder).filter((f) => !f.endsWith(".cache"))).toEqual([])

      // turned off as Node's own cache is
      const off = join(dir, "off")
      const disabled = await run(outdir, ["index.mjs"], { NODE_COMPILE_CACHE: off, NODE_DISABLE_COMPILE_CACHE: "1" })
      expect(JSON.parse(disabled.stdout)).toEqual(expected)
      expect(cacheFiles(off).folder).toEqual([])
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
