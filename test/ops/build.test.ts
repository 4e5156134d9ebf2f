import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import * as esbuild from "esbuild"
import { duplicatePackages, packageOf } from "../../scripts/build/metafile.mjs"
import { bundleOptions, programs } from "../../scripts/build/options.mjs"

const root = resolve(import.meta.dirname, "../..")

const metafileOf = (paths: ReadonlyArray<string>): esbuild.Metafile => ({
  inputs: Object.fromEntries(paths.map((path) => [path, { bytes: 1, imports: [] }])),
  outputs: {}
})

describe("bundle metafile checks", () => {
  it("names the package and directory a bundled file comes from", () => {
    expect(packageOf("node_modules/effect/dist/esm/Effect.js")).toEqual({ name: "effect", root: "node_modules/effect" })
    expect(packageOf("node_modules/@effect/platform/node_modules/effect/dist/esm/Layer.js")).toEqual({
      name: "effect",
      root: "node_modules/@effect/platform/node_modules/effect"
    })
    expect(packageOf("node_modules/@effect/platform/dist/esm/HttpApi.js")?.name).toBe("@effect/platform")
    expect(packageOf("src/programs/ingest.ts")).toBeUndefined()
  })

  it("reports a package bundled from two directories, and only that one", () => {
    const duplicates = duplicatePackages(
      metafileOf([
        "node_modules/effect/dist/esm/Effect.js",
        "node_modules/effect/dist/esm/Layer.js",
        "node_modules/@effect/platform/node_modules/effect/dist/esm/Effect.js",
        "node_modules/@effect/platform/dist/esm/HttpApi.js",
        "src/index.ts"
      ])
    )
    expect([...duplicates.keys()]).toEqual(["effect"])
    expect(duplicates.get("effect")).toEqual([
      "node_modules/@effect/platform/node_modules/effect",
      "node_modules/effect"
    ])
  })

  it("the real ingest and consumer bundles hold one copy of effect and leave PGlite out", {
    timeout: 120_000
  }, async () => {
    const outdir = mkdtempSync(join(tmpdir(), "rf-build-test-"))
    try {
      for (const program of programs.filter((p) => p.name !== "cli")) {
        const options = bundleOptions({ root, program, outdir })
        // the module graph is what matters here: skip the slow output work
        const result = await esbuild.build({ ...options, write: false, sourcemap: false, minify: false })
        expect(duplicatePackages(result.metafile).get("effect"), program.name).toBeUndefined()
        const inputs = Object.keys(result.metafile.inputs)
        expect(inputs.some((path) => path.includes("node_modules/effect/"))).toBe(true)
        expect(inputs.some((path) => path.includes("@electric-sql/pglite"))).toBe(false)
      }
    } finally {
      rmSync(outdir, { recursive: true, force: true })
    }
  })
})
