// The long-running programs (ingest, consumer) as CommonJS with a warm V8 code cache.
//
// Node's compile cache (NODE_COMPILE_CACHE) keeps the code V8 made when it compiled a file, before the file ran:
// the top level of each module and little else. V8 compiles a function only when it is first called, so at every
// start the functions start-up runs (Effect's runtime, the layers, the configuration check, the drivers' set-up)
// are compiled again: ~100 ms of CPU, a fifth of a start. V8 can put those in a code cache too, but only in one
// made after the code ran, and Node offers that only for scripts (vm.Script#createCachedData), not for ES modules.
// So the program's split ES-module output (esbuild splits only ESM) is turned into CommonJS files, one per chunk,
// and its index.mjs becomes a small loader (commonjsLoader.mjs) that compiles them with a cache it wrote when a
// start ended (the image warms it at build time, as before). See README "Performance".
import { createHash } from "node:crypto"
import { mkdir, readdir, readFile, rename, rm, writeFile } from "node:fs/promises"
import { dirname, join, relative } from "node:path"
import { fileURLToPath } from "node:url"
import * as esbuild from "esbuild"
import { banner } from "./options.mjs"

const here = dirname(fileURLToPath(import.meta.url))

/** A relative import of another output file, `"./chunks/chunk-X.mjs"`: the CommonJS file has the same name in .cjs. */
const RELATIVE_MJS = /(["'])(\.\.?\/[^"'\n]*?)\.mjs\1/g

/** The output's .mjs files, relative to `outdir`: index.mjs and chunks/*.mjs. */
const moduleFiles = async (outdir) => {
  const chunks = await readdir(join(outdir, "chunks")).catch(() => [])
  return ["index.mjs", ...chunks.filter((f) => f.endsWith(".mjs")).map((f) => `chunks/${f}`)]
}

/** index.mjs becomes main.cjs (index.mjs is then the loader); a chunk keeps its name. */
const cjsName = (file) => (file === "index.mjs" ? "main.cjs" : file.replace(/\.mjs$/, ".cjs"))

/**
 * import.meta.url and import.meta.resolve in CommonJS: the file's URL, and a resolver that answers as require.resolve
 * does (with the "require" condition where ESM's has "import"; the programs ask it only whether a package is there).
 */
const META = [
  'const __rfMetaUrl=require("node:url").pathToFileURL(__filename).href;',
  'const __rfMetaResolve=(specifier)=>require("node:url").pathToFileURL(require.resolve(specifier)).href;'
].join("")

/** The staged copy of an .mjs file: the same name in .js (its map keeps its name, which the file's last line gives). */
const stagedName = (file) => file.replace(/\.mjs$/, ".js")

/**
 * Convert one program's esbuild ESM output in `outdir` to CommonJS in place: each .mjs (and its source map) is
 * replaced by a .cjs whose map still leads to the TypeScript sources, and index.mjs by the loader. Returns the build
 * id the loader keys its cache with (a hash of every converted file).
 */
export const toCommonJs = async (outdir) => {
  const files = await moduleFiles(outdir)
  const staging = join(outdir, ".esm")
  await rm(staging, { recursive: true, force: true })
  const bannerLines = banner.split("\n").length
  let maps = false
  // Staged as .js under a CommonJS package.json: esbuild then converts `import("./chunk.mjs")` with Babel's interop
  // (a converted chunk's exports, __esModule and all, are its namespace). Read as Node ES modules (.mjs, or under the
  // project's "type": "module"), the namespace would be module.exports as a whole, under `default` too, and
  // `(await import("postgres")).default` would be the chunk's exports object instead of postgres's function.
  await mkdir(staging, { recursive: true })
  await writeFile(join(staging, "package.json"), '{ "type": "commonjs" }\n')
  for (const file of files) {
    const text = await readFile(join(outdir, file), "utf8")
    // the ESM banner makes require / __filename / __dirname, which a CommonJS module has already: it goes, and its
    // lines with it from the map (the banner has no mappings: one ";" per line)
    if (!text.startsWith(`${banner}\n`)) throw new Error(`${file}: does not start with the bundles' banner`)
    // (a build without source maps has none to carry over)
    const map = await readFile(join(outdir, `${file}.map`), "utf8").then(JSON.parse, () => undefined)
    if (map !== undefined) maps = true
    // (a chunk of esbuild's helpers alone maps nothing)
    if (map !== undefined && map.mappings !== "") {
      if (!map.mappings.startsWith(";".repeat(bannerLines)))
        throw new Error(`${file}.map: the banner's lines are mapped`)
      map.mappings = map.mappings.slice(bannerLines)
    }
    await mkdir(dirname(join(staging, file)), { recursive: true })
    await writeFile(join(staging, stagedName(file)), text.slice(banner.length + 1))
    // sources are relative to the map: the staged copy sits one folder deeper
    if (map === undefined) continue
    map.sources = map.sources.map((source) =>
      relative(dirname(join(staging, file)), join(dirname(join(outdir, file)), source))
    )
    await writeFile(join(staging, `${file}.map`), JSON.stringify(map))
  }
  const hash = createHash("sha256")
  for (const file of files) {
    const source = await readFile(join(staging, stagedName(file)), "utf8")
    const out = join(outdir, cjsName(file))
    await esbuild.build({
      // esbuild reads the staged file's linked map and composes it with its own
      entryPoints: [join(staging, stagedName(file))],
      outfile: out,
      bundle: false,
      platform: "node",
      format: "cjs",
      target: "node24",
      // import() of another chunk becomes a require: the loader compiles every chunk, those loaded later too
      supported: { "dynamic-import": false },
      // import.meta is ESM's alone: its two uses here get their CommonJS equivalents (the banner), and any other
      // (import.meta.dirname, a bare import.meta) fails the build rather than becoming an empty object
      define: { "import.meta.url": "__rfMetaUrl", "import.meta.resolve": "__rfMetaResolve" },
      logOverride: { "empty-import-meta": "error" },
      minify: true,
      sourcemap: maps ? "linked" : false,
      sourcesContent: false,
      legalComments: "none",
      // ES modules run in strict mode; a script does only when it says so
      banner: { js: `"use strict";${source.includes("import.meta") ? META : ""}` },
      logLevel: "warning"
    })
    // same length (.mjs -> .cjs), so the map's columns still hold
    const converted = (await readFile(out, "utf8")).replace(
      RELATIVE_MJS,
      (_, quote, path) => `${quote}${path}.cjs${quote}`
    )
    await writeFile(out, converted)
    hash.update(file).update(converted)
    await rm(join(outdir, file))
    await rm(join(outdir, `${file}.map`), { force: true })
    // the licences esbuild kept from the file's inputs go with it
    await rename(join(outdir, `${file}.LEGAL.txt`), join(outdir, `${cjsName(file)}.LEGAL.txt`)).catch((error) => {
      if (error.code !== "ENOENT") throw error
    })
  }
  await rm(staging, { recursive: true, force: true })
  const buildId = hash.digest("hex").slice(0, 16)
  const loader = await readFile(join(here, "commonjsLoader.mjs"), "utf8")
  if (!loader.includes('"__RF_BUILD_ID__"')) throw new Error("commonjsLoader.mjs: no build id placeholder")
  await writeFile(join(outdir, "index.mjs"), loader.replace('"__RF_BUILD_ID__"', JSON.stringify(buildId)))
  return buildId
}
