#!/usr/bin/env node
// npm run build: esbuild bundles for the programs (dist/<name>/index.mjs + meta.json), then the library (tsc).
//   node scripts/build/build.mjs            bundles + library
//   node scripts/build/build.mjs --bundles  bundles only
//   node scripts/build/build.mjs --lib      what the package holds: the library and the CLI bundle (its `bin`)
import { execFileSync } from "node:child_process"
import { existsSync } from "node:fs"
import { copyFile, cp, mkdir, rm, writeFile } from "node:fs/promises"
import { createRequire } from "node:module"
import { dirname, join, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import * as esbuild from "esbuild"
import { duplicatePackages, summarise } from "./metafile.mjs"
import { compileStartEagerly, lambdaStart } from "./eager.mjs"
import { lambdas } from "./lambdas.mjs"
import { buildMallocTrim } from "./native.mjs"
import { patchNameHelper } from "./names.mjs"
import { bundleOptions, programs } from "./options.mjs"

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..")
const dist = join(root, "dist")
const args = new Set(process.argv.slice(2))
const only = args.has("--bundles") ? "bundles" : args.has("--lib") ? "lib" : "all"

/** The console's files (src/http/assets) and Swagger UI's two files (pinned swagger-ui-dist), into `dir`. */
const copyAssets = async (dir) => {
  await mkdir(dir, { recursive: true })
  await cp(join(root, "src/http/assets"), dir, { recursive: true })
  const swagger = dirname(createRequire(import.meta.url).resolve("swagger-ui-dist/package.json"))
  for (const file of ["swagger-ui-bundle.js", "swagger-ui.css", "LICENSE"]) {
    await copyFile(join(swagger, file), join(dir, file === "LICENSE" ? "swagger-ui.LICENSE" : file))
  }
}

/** mallocTrim.node, compiled once per build (undefined where it cannot be: the programs then run without it). */
let mallocTrim
const nativeAddon = async () => {
  mallocTrim ??= buildMallocTrim(join(dist, ".native", "mallocTrim.node")).then((result) => {
    if (result.built) return result.file
    console.warn(`  note: native/mallocTrim.node not built (${result.reason}); the memory release runs without it`)
    return undefined
  })
  return mallocTrim
}

const bundle = async (program) => {
  const outdir = join(dist, program.name)
  await rm(outdir, { recursive: true, force: true })
  await mkdir(outdir, { recursive: true })
  const result = await esbuild.build(bundleOptions({ root, program, outdir }))
  await writeFile(join(outdir, "meta.json"), JSON.stringify(result.metafile))
  let helpers = 0
  for (const output of Object.keys(result.metafile.outputs).filter((path) => path.endsWith(".mjs"))) {
    helpers += await patchNameHelper(join(root, output))
  }
  if (helpers === 0)
    console.warn(`  warning: ${program.name}: esbuild's keepNames helper not found to patch (names.mjs)`)
  if (program.assets) await copyAssets(join(outdir, "assets"))
  if (program.native) {
    const addon = await nativeAddon()
    if (addon !== undefined) {
      await mkdir(join(outdir, "native"), { recursive: true })
      await copyFile(addon, join(outdir, "native", "mallocTrim.node"))
    }
  }
  // with its assets and addon in place: it starts once here to learn what a start compiles
  const eager = program.eager
    ? compileStartEagerly(outdir)
    : program.warmUpEvent !== undefined
      ? compileStartEagerly(outdir, lambdaStart(program.warmUpEvent))
      : undefined
  const duplicates = duplicatePackages(result.metafile)
  const effectCopies = duplicates.get("effect")
  if (effectCopies !== undefined) {
    throw new Error(`${program.name}: ${effectCopies.length} copies of effect bundled:\n  ${effectCopies.join("\n  ")}`)
  }
  for (const [name, copies] of duplicates) {
    console.warn(`  warning: ${program.name} bundles ${copies.length} copies of ${name}: ${copies.join(", ")}`)
  }
  console.log(`  ${program.name.padEnd(15)} ${summarise(result.metafile, program.entry)}`)
  if (eager?.wrapped === 0)
    console.warn(`  warning: ${program.name}: its recorded start compiled nothing to wrap (scripts/build/eager.mjs)`)
  else if (eager !== undefined)
    console.log(
      `  ${"".padEnd(15)} ${eager.wrapped} functions a start calls compiled eagerly (${eager.left} left lazy)`
    )
}

const bundles = async () => {
  console.log("bundles (esbuild):")
  for (const program of programs) {
    if (program.optional && !existsSync(join(root, program.entry))) {
      console.log(`  ${program.name.padEnd(9)} skipped (${program.entry} does not exist)`)
      continue
    }
    await bundle(program)
  }
  for (const lambda of lambdas) await bundle(lambda)
  await rm(join(dist, ".native"), { recursive: true, force: true })
}

const library = async () => {
  console.log("library (tsc -p tsconfig.build.json -> dist/lib):")
  await rm(join(dist, "lib"), { recursive: true, force: true })
  execFileSync(process.execPath, [join(root, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.build.json"], {
    cwd: root,
    stdio: "inherit"
  })
  // the library's HTTP server serves the console and Swagger UI from beside its module: swagger-ui-dist (12 MB) is
  // a build-time dependency only, so an embedder does not install it
  await copyAssets(join(dist, "lib/src/http/assets"))
  console.log("  dist/lib done")
}

/** The `revenueflow` command the package's `bin` names (dist/cli/index.mjs), alone. */
const cli = async () => {
  console.log("CLI bundle (esbuild):")
  await bundle(programs.find((program) => program.name === "cli"))
}

try {
  if (only === "lib") await cli()
  if (only !== "lib") await bundles()
  if (only !== "bundles") await library()
} catch (error) {
  console.error(`build failed: ${error instanceof Error ? error.message : String(error)}`)
  process.exit(1)
}
