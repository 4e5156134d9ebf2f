import { execFile } from "node:child_process"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"
import { pathToFileURL } from "node:url"
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

  it("the ingest bundle loads no CRM, analyser or enrichment code at start: it neither checks nor loads them", {
    timeout: 120_000
  }, async () => {
    const outdir = mkdtempSync(join(tmpdir(), "rf-build-test-"))
    try {
      const ingest = programs.find((p) => p.name === "ingest")!
      const options = bundleOptions({ root, program: ingest, outdir })
      const result = await esbuild.build({ ...options, write: false, sourcemap: false, minify: false })
      // what a start loads: the entry chunk and the chunks it imports statically (/mcp's safety chain, and with it a
      // CRM client, is a dynamic import taken on the first /mcp request only)
      const outputs = result.metafile.outputs
      const entry = Object.keys(outputs).find((path) => outputs[path]?.entryPoint === "src/programs/ingest.ts")!
      const loaded = new Set<string>()
      const visit = (path: string) => {
        if (loaded.has(path)) return
        loaded.add(path)
        for (const next of outputs[path]?.imports ?? []) if (next.kind === "import-statement") visit(next.path)
      }
      visit(entry)
      const inputs = [...loaded].flatMap((path) => Object.keys(outputs[path]?.inputs ?? {}))
      expect(inputs.some((path) => path.includes("src/http/intake.ts"))).toBe(true)
      const unused = [
        "node_modules/@hubspot/",
        "node_modules/jsforce/",
        "node_modules/@aws-sdk/client-bedrock-runtime/",
        "layers/hubspot/",
        "layers/salesforce/",
        "layers/bedrock/",
        "layers/http/Enricher.ts"
      ]
      expect(unused.filter((part) => inputs.some((path) => path.includes(part)))).toEqual([])
    } finally {
      rmSync(outdir, { recursive: true, force: true })
    }
  })

  it("a bundle started without DATABASE_URL says the bundles need it and exits 1", { timeout: 180_000 }, async () => {
    // outside the repository: no node_modules above the bundle, as in the image
    const outdir = mkdtempSync(join(tmpdir(), "rf-bundle-nodb-"))
    try {
      const ingest = programs.find((p) => p.name === "ingest")!
      await esbuild.build({ ...bundleOptions({ root, program: ingest, outdir }), sourcemap: false, minify: false })
      const run = await new Promise<{ code: number | null; out: string }>((resolve) => {
        const child = execFile(
          process.execPath,
          ["index.mjs"],
          { cwd: outdir, env: { PATH: process.env.PATH ?? "", HOME: outdir, PORT: "0" }, timeout: 60_000 },
          (_error, stdout, stderr) => resolve({ code: child.exitCode, out: stdout + stderr })
        )
      })
      expect(run.out).toContain(
        "DATABASE_URL: is required: the bundles run on Postgres; the embedded database is for npm start"
      )
      expect(run.out).not.toContain("@electric-sql/pglite")
      expect(run.code).toBe(1)
    } finally {
      rmSync(outdir, { recursive: true, force: true })
    }
  })

  it("what the bundles load only on first use still works when used: ioredis's Cluster, prom-client's Pushgateway", {
    timeout: 60_000
  }, async () => {
    const outdir = mkdtempSync(join(tmpdir(), "rf-bundle-lazy-"))
    try {
      const entry = join(outdir, "entry.mjs")
      writeFileSync(
        entry,
        [
          'import Redis, { Cluster } from "ioredis"',
          'import client from "prom-client"',
          "export const cluster = () => ({ same: Redis.Cluster === Cluster, name: Cluster.name })",
          "export const assigned = (value) => { Redis.Cluster = value; return Redis.Cluster }",
          'export const gateway = () => new client.Pushgateway("http://127.0.0.1:9", {}, new client.Registry())',
          "export const Pushgateway = client.Pushgateway"
        ].join("\n")
      )
      const consumer = programs.find((p) => p.name === "consumer")!
      await esbuild.build({
        ...bundleOptions({ root, program: { ...consumer, entry }, outdir }),
        // the entry lives outside the repository: resolve packages from its node_modules
        nodePaths: [join(root, "node_modules")],
        sourcemap: false,
        minify: false
      })
      const mod = await import(pathToFileURL(join(outdir, "index.mjs")).href)
      expect(mod.cluster()).toEqual({ same: true, name: "Cluster" })
      const gateway = mod.gateway()
      expect(gateway).toBeInstanceOf(mod.Pushgateway)
      expect(typeof gateway.pushAdd).toBe("function")
      expect(mod.assigned("replaced")).toBe("replaced")
    } finally {
      rmSync(outdir, { recursive: true, force: true })
    }
  })
})
