import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { SourceMap } from "node:module"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { pathToFileURL } from "node:url"
import { describe, expect, it } from "@effect/vitest"
import * as esbuild from "esbuild"
import { patchNameHelper, shiftMappings } from "../../scripts/build/names.mjs"
import { effectAsyncResume } from "../../scripts/build/options.mjs"

// A module whose classes, function declarations and arrows are all renamed by minification, on one output line with
// the helper (as esbuild's runtime line is), so the source map's later columns must move with the patch.
const source = `
export class QueueUnavailableError extends Error {
  constructor(message) { super(message); this.name = this.constructor.name }
}
export function describeLead(lead) { return "lead " + lead }
export const perLead = (lead) => {
  const remember = (value) => value
  return remember
}
export const marker = () => "after the helper"
`

describe("bundles keep the names that are read, without naming every closure", () => {
  it("classes and function declarations keep their names; arrows are left as V8 named them; the map still maps", async () => {
    const dir = mkdtempSync(join(tmpdir(), "rf-names-"))
    try {
      writeFileSync(join(dir, "entry.mjs"), source)
      await esbuild.build({
        entryPoints: [join(dir, "entry.mjs")],
        outfile: join(dir, "out.mjs"),
        bundle: true,
        format: "esm",
        platform: "node",
        minify: true,
        keepNames: true,
        sourcemap: "linked",
        logLevel: "silent"
      })
      const file = join(dir, "out.mjs")
      const before = readFileSync(file, "utf8")
      const findMarker = (text: string) => {
        const at = text.indexOf('"after the helper"')
        const line = text.slice(0, at).split("\n").length - 1
        return { line, column: at - (text.lastIndexOf("\n", at - 1) + 1) }
      }
      const original = (text: string, mapText: string) => {
        const { line, column } = findMarker(text)
        return new SourceMap(JSON.parse(mapText)).findEntry(line, column) as { originalLine?: number }
      }
      const mappedBefore = original(before, readFileSync(`${file}.map`, "utf8"))
      // the helper and the marker share a line, the marker after the helper
      const helperAt = before.search(/\w+=\(\w+,\w+\)=>\w+\(\w+,"name"/)
      expect(helperAt).toBeGreaterThanOrEqual(0)
      expect(before.slice(0, helperAt).split("\n").length - 1).toBe(findMarker(before).line)
      expect(before.indexOf('"after the helper"')).toBeGreaterThan(helperAt)

      writeFileSync(`${file}.map.before`, readFileSync(`${file}.map`))
      expect(await patchNameHelper(file)).toBe(1)
      const after = readFileSync(file, "utf8")
      expect(after).toContain(".prototype===void 0?")
      // every column after the helper maps where the same code mapped before the patch, the marker's line included
      const delta = after.length - before.length
      const mapBefore = new SourceMap(JSON.parse(readFileSync(`${file}.map.before`, "utf8")))
      const mapAfter = new SourceMap(JSON.parse(readFileSync(`${file}.map`, "utf8")))
      const { line } = findMarker(after)
      const lineStart = after.lastIndexOf("\n", after.indexOf('"after the helper"') - 1) + 1
      const lineEnd = after.indexOf("\n", lineStart) === -1 ? after.length : after.indexOf("\n", lineStart)
      const helperEnd = after.indexOf("configurable:!0})", lineStart) + "configurable:!0})".length - lineStart
      const where = (entry: object) => {
        const { originalLine, originalColumn } = entry as { originalLine?: number; originalColumn?: number }
        return [originalLine, originalColumn]
      }
      let compared = 0
      for (let column = helperEnd; column < lineEnd - lineStart; column++) {
        expect(where(mapAfter.findEntry(line, column)), `column ${column}`).toEqual(
          where(mapBefore.findEntry(line, column - delta))
        )
        compared++
      }
      expect(compared).toBeGreaterThan(50)
      expect(mappedBefore.originalLine).toBe(9)
      expect(original(after, readFileSync(`${file}.map`, "utf8")).originalLine).toBe(9)
      // a second build step finds nothing more to patch
      expect(await patchNameHelper(file)).toBe(0)

      const mod = await import(pathToFileURL(file).href)
      expect(mod.QueueUnavailableError.name).toBe("QueueUnavailableError")
      expect(new mod.QueueUnavailableError("down").name).toBe("QueueUnavailableError")
      expect(mod.describeLead.name).toBe("describeLead")
      expect(mod.describeLead("x")).toBe("lead x")
      expect(mod.marker()).toBe("after the helper")
      expect(mod.perLead(1)(2)).toBe(2)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it("Effect.async, bundled as the programs are, names nothing per call and still resumes, interrupted or not", async () => {
    const dir = mkdtempSync(join(tmpdir(), "rf-names-"))
    try {
      // effect resolved from this project's node_modules, as the programs' build resolves it
      const entry = join(process.cwd(), `rf-async-entry-${process.pid}.mjs`)
      writeFileSync(
        entry,
        [
          'import * as Effect from "effect/Effect"',
          'import * as Fiber from "effect/Fiber"',
          "export const now = Effect.async((resume) => resume(Effect.succeed(1)))",
          "export const later = Effect.async((resume) => { setTimeout(() => resume(Effect.succeed(2)), 1) })",
          "export const withSignal = Effect.async((resume, signal) => { const t = setTimeout(() => resume(Effect.succeed(3)), 50); signal.addEventListener('abort', () => clearTimeout(t)) })",
          "export const run = (effect) => Effect.runPromise(effect)",
          "export const interrupted = () => Effect.runPromise(Effect.flatMap(Effect.fork(withSignal), (fiber) => Fiber.interrupt(fiber)))"
        ].join("\n")
      )
      let result: esbuild.BuildResult
      try {
        result = await esbuild.build({
          entryPoints: [entry],
          outfile: join(dir, "out.mjs"),
          bundle: true,
          format: "esm",
          platform: "node",
          mainFields: ["module", "main"],
          minify: true,
          keepNames: true,
          plugins: [effectAsyncResume],
          logLevel: "silent"
        })
      } finally {
        rmSync(entry, { force: true })
      }
      // the patch found its text in the installed effect (else the build warns and leaves the file as it is)
      expect(result.warnings.map((w) => w.text)).toEqual([])
      await patchNameHelper(join(dir, "out.mjs"))
      // the bundle's helper keeps the Object.defineProperty it finds when it loads: watched from before the import
      const named: Array<string> = []
      const define = Object.defineProperty
      Object.defineProperty = ((target: object, key: PropertyKey, descriptor: PropertyDescriptor) => {
        if (key === "name") named.push(String(descriptor.value))
        return define(target, key, descriptor)
      }) as typeof Object.defineProperty
      try {
        const mod = await import(pathToFileURL(join(dir, "out.mjs")).href)
        expect(await mod.run(mod.now)).toBe(1)
        // loading named the module's classes and functions once; from here on, only what each call names
        expect(named.length).toBeGreaterThan(0)
        named.length = 0
        for (let n = 0; n < 20; n++) {
          expect(await mod.run(mod.now)).toBe(1)
          expect(await mod.run(mod.later)).toBe(2)
        }
        expect(await mod.run(mod.withSignal)).toBe(3)
        await mod.interrupted()
      } finally {
        Object.defineProperty = define
      }
      expect(named).toEqual([])
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it("shiftMappings moves the columns from a point of one line on, and nothing else", () => {
    // line 0: columns 0, 10, 20 (each segment relative to the one before); line 1: column 5
    const mappings = "AAAA,UAAU,UAAU;KAAK"
    const decoded = (text: string) =>
      text.split(";").map((line) =>
        line.split(",").reduce<Array<number>>((columns, segment) => {
          const first = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef".indexOf(segment[0]!) // one digit: values under 16
          columns.push((columns.at(-1) ?? 0) + (first & 1 ? -(first >> 1) : first >> 1))
          return columns
        }, [])
      )
    expect(decoded(mappings)).toEqual([[0, 10, 20], [5]])
    expect(decoded(shiftMappings(mappings, 0, 10, 3))).toEqual([[0, 13, 23], [5]])
    expect(decoded(shiftMappings(mappings, 0, 21, 3))).toEqual([[0, 10, 20], [5]])
    expect(decoded(shiftMappings(mappings, 1, 0, 2))).toEqual([[0, 10, 20], [7]])
  })
})
