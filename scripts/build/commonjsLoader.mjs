// The program's entry (dist/<program>/index.mjs, made by scripts/build/commonjs.mjs): it runs main.cjs, the program
// as CommonJS, and when NODE_COMPILE_CACHE names a folder (the image sets it) it compiles the program's files with
// V8's code cache kept there. That cache is written when a start that found it missing or stale ends, and holds the
// functions that start compiled, not only each file's top level as Node's own cache does: the next start skips
// compiling them. Node's rules apply: NODE_DISABLE_COMPILE_CACHE=1 turns it off; a cache made by another Node, V8
// flags or build is never read (its folder's name says which), and one V8 refuses is written anew. With source maps
// on (--enable-source-maps) Node compiles the files itself, as only its own loader applies their maps to stacks.
import Module, { createRequire } from "node:module"
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs"
import { dirname, join, relative, resolve, sep } from "node:path"
import { fileURLToPath } from "node:url"
import { cachedDataVersionTag } from "node:v8"
import { constants, Script } from "node:vm"

const BUILD_ID = "__RF_BUILD_ID__"
const here = dirname(fileURLToPath(import.meta.url))
const cacheRoot = process.env.NODE_COMPILE_CACHE
if (cacheRoot && !process.env.NODE_DISABLE_COMPILE_CACHE && !process.sourceMapsEnabled) {
  const folder = join(
    resolve(cacheRoot),
    `revenueflow-${BUILD_ID}-${process.version}-${process.arch}-${cachedDataVersionTag().toString(16)}`
  )
  /** Every file compiled here, with its script: the cache is made from the scripts at exit. */
  const compiled = []
  let stale = false
  const compile = Module.prototype._compile
  Module.prototype._compile = function (content, filename) {
    if (!filename.endsWith(".cjs") || !filename.startsWith(here + sep)) return compile.call(this, content, filename)
    const file = join(folder, `${relative(here, filename).split(sep).join("_")}.cache`)
    let cachedData
    try {
      cachedData = readFileSync(file)
    } catch {
      stale = true
    }
    const script = new Script(Module.wrap(content), {
      filename,
      cachedData,
      importModuleDynamically: constants.USE_MAIN_CONTEXT_DEFAULT_LOADER
    })
    if (script.cachedDataRejected === true) stale = true
    compiled.push({ file, script })
    const wrapper = script.runInThisContext({ displayErrors: true })
    return wrapper.call(this.exports, this.exports, createRequire(filename), this, filename, dirname(filename))
  }
  process.once("exit", () => {
    if (!stale) return
    try {
      mkdirSync(folder, { recursive: true })
      for (const { file, script } of compiled) {
        const partial = `${file}.${process.pid}`
        writeFileSync(partial, script.createCachedData())
        renameSync(partial, file)
      }
    } catch {
      // a read-only file system: the program runs as it did, compiling what it needs
    }
  })
}

createRequire(import.meta.url)("./main.cjs")
