// The esbuild settings for the program bundles, shared by build.mjs and test/ops/build.test.ts.
import { readFile } from "node:fs/promises"
import { effectLayerMemo } from "./layerMemo.mjs"

/** The programs. cli is optional: bundled when its entry exists. */
export const programs = [
  // assets: the ingest serves /docs (Swagger UI) and /console from files next to its bundle (see src/http/assets.ts)
  // native: the long-running programs' memory release loads native/mallocTrim.node from beside the bundle
  // (scripts/build/native.mjs, src/programs/memoryRelease.ts)
  // eager: the functions a start calls are compiled with their module, so the compile cache holds them
  // (scripts/build/eager.mjs)
  { name: "ingest", entry: "src/programs/ingest.ts", assets: true, native: true, eager: true },
  { name: "consumer", entry: "src/programs/consumer.ts", native: true, eager: true },
  { name: "cli", entry: "src/programs/cli.ts", optional: true, shebang: true }
]

/**
 * Left out of the bundles, each for a stated reason:
 * - @electric-sql/pglite: the embedded database (npm start). It loads its .wasm / .data from its own package
 *   directory at run time and is imported on demand (layers/postgres/pglite.ts), so production (DATABASE_URL,
 *   postgres.js) never touches it. A bundle run without DATABASE_URL fails the start-up check: "DATABASE_URL: is
 *   required: the bundles run on Postgres; ..." (layers/configCheck.ts), exit 1.
 * - msgpackr-extract, @msgpackr-extract/*: bullmq's optional native decoder; msgpackr falls back to plain JS.
 * - the rest: optional peers some clients probe for with try/require and do without.
 */
export const external = [
  "@electric-sql/pglite",
  "msgpackr-extract",
  "@msgpackr-extract/*",
  "aws-crt",
  "@aws-sdk/signature-v4-crt",
  "pg-native",
  "bufferutil",
  "utf-8-validate",
  "supports-color"
]

// CJS dependencies call require / use __dirname; an ESM bundle has neither unless it makes them.
export const banner = [
  'import { createRequire as __rfCreateRequire } from "node:module";',
  'import { fileURLToPath as __rfFileURLToPath } from "node:url";',
  'import { dirname as __rfDirname } from "node:path";',
  "const require = __rfCreateRequire(import.meta.url);",
  "const __filename = __rfFileURLToPath(import.meta.url);",
  "const __dirname = __rfDirname(__filename);"
].join("\n")

/**
 * `node:http` is required, not imported. Node builds the ES-module facade of a builtin by reading every export, and
 * node:http's WebSocket / MessageEvent / CloseEvent exports are getters that load Node's own undici (fetch): about
 * 100 ms of CPU at every start for code the programs never use. require() returns the module object and runs no
 * getter. (The banner's `require` serves it in every chunk.)
 */
export const requireHttp = {
  name: "require-node-http",
  setup(build) {
    build.onResolve({ filter: /^(node:)?http$/ }, (args) =>
      args.kind === "import-statement" ? { path: "http", namespace: "rf-required-builtin" } : undefined
    )
    build.onLoad({ filter: /.*/, namespace: "rf-required-builtin" }, (args) => ({
      contents: `module.exports = require("node:${args.path}")`,
      loader: "js"
    }))
  }
}

/**
 * Builtins that these files load at start-up but only use on a path the programs may never take (TLS connections,
 * pushing metrics to a Pushgateway, WebSocket clients): each gets the builtin on first use instead. `tls` (with
 * `https`) costs ~45 ms of CPU to load. Each file reads the builtin as one object (`tls.connect(...)`,
 * `https.request(...)`), never destructured at load, which is what the stand-in supports.
 */
const lazyBuiltins = [
  { importer: /node_modules\/postgres\/src\/connection\.js$/, builtins: ["tls"] },
  {
    importer: /node_modules\/ioredis\/built\/connectors\/(StandaloneConnector|SentinelConnector\/index)\.js$/,
    builtins: ["tls"]
  },
  { importer: /node_modules\/ws\/lib\/websocket\.js$/, builtins: ["tls", "https"] },
  { importer: /node_modules\/prom-client\/lib\/pushgateway\.js$/, builtins: ["https"] }
]

export const lazyBuiltin = {
  name: "lazy-builtin",
  setup(build) {
    build.onResolve({ filter: /^(node:)?(tls|https)$/ }, (args) => {
      const name = args.path.replace(/^node:/, "")
      const rule = lazyBuiltins.find((r) => r.importer.test(args.importer.replaceAll("\\", "/")))
      return rule?.builtins.includes(name) ? { path: name, namespace: "rf-lazy-builtin" } : undefined
    })
    build.onLoad({ filter: /.*/, namespace: "rf-lazy-builtin" }, (args) => ({
      contents: [
        "let loaded",
        `const load = () => (loaded ??= require("node:${args.path}"))`,
        "module.exports = new Proxy({}, {",
        "  get: (_, key) => load()[key],",
        "  has: (_, key) => key in load()",
        "})"
      ].join("\n"),
      loader: "js"
    }))
  }
}

/**
 * Packages the platform's Node HTTP modules import at the top but use only on a path the programs never or rarely
 * take, each replaced (for that importer alone) by a stand-in with the one export used, which requires the package
 * the first time it is read: `ws` (its WebSocketServer, for an upgrade request: the programs serve none; its
 * evaluation loaded zlib too) and `mime` (getType, for a file response: building its table of ~1,000 types cost more
 * at start-up than the rest of the HTTP server); prom-client's CPU metric's `@opentelemetry/api` (read for
 * exemplars only, which the programs do not enable); BullMQ's `cron-parser` (and with it luxon), for repeatable jobs,
 * which the programs do not schedule; ioredis's Cluster client (the programs connect to one Redis; BullMQ tells a
 * cluster by its `isCluster` property) and prom-client's Pushgateway (never pushed to): ~30 ms of CPU at start
 * together. Each stand-in is a bundled module all the same: only its evaluation waits for the first use.
 */
const lazyPackages = [
  {
    importer: /[\\/]@effect[\\/]platform-node[\\/]dist[\\/]esm[\\/]internal[\\/]httpServer\.js$/,
    name: "ws",
    contents: 'let ws\nmodule.exports = { get WebSocketServer() { return (ws ??= require("ws")).WebSocketServer } }'
  },
  {
    importer: /[\\/]@effect[\\/]platform-node[\\/]dist[\\/]esm[\\/]internal[\\/]httpPlatform\.js$/,
    name: "mime",
    contents: 'let mime\nmodule.exports = { getType: (path) => (mime ??= require("mime")).getType(path) }'
  },
  {
    importer: /[\\/]prom-client[\\/]lib[\\/]metrics[\\/]processCpuTotal\.js$/,
    name: "@opentelemetry/api",
    contents: [
      "let api",
      'const load = () => (api ??= require("@opentelemetry/api"))',
      "module.exports = { get trace() { return load().trace }, get context() { return load().context } }"
    ].join("\n")
  },
  {
    importer: /[\\/]ioredis[\\/]built[\\/](index|Redis)\.js$/,
    name: "./cluster",
    // read as `cluster_1.default` (index.js in a getter; Redis.js at load, see ioredisCluster below)
    contents: 'let cluster\nmodule.exports = { get default() { return (cluster ??= require("./cluster")).default } }'
  },
  {
    importer: /[\\/]prom-client[\\/]index\.js$/,
    name: "./lib/pushgateway",
    // the export is the class itself: constructing the stand-in constructs the real one
    contents: [
      "let Pushgateway",
      'const load = () => (Pushgateway ??= require("./lib/pushgateway"))',
      "module.exports = new Proxy(function Pushgateway() {}, {",
      "  construct: (_, args) => new (load())(...args),",
      "  get: (_, key) => load()[key]",
      "})"
    ].join("\n")
  },
  {
    importer: /[\\/]bullmq[\\/]dist[\\/]esm[\\/]classes[\\/](repeat|job-scheduler)\.js$/,
    name: "cron-parser",
    contents:
      'let parser\nmodule.exports = { parseExpression: (...args) => (parser ??= require("cron-parser")).parseExpression(...args) }'
  }
]

export const lazyPackage = {
  name: "lazy-package",
  setup(build) {
    // the specifiers the stand-ins replace, from the list itself
    const names = lazyPackages.map((p) => p.name.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&"))
    build.onResolve({ filter: new RegExp(`^(${[...new Set(names)].join("|")})$`) }, (args) => {
      const stand = lazyPackages.find((p) => p.name === args.path && p.importer.test(args.importer))
      return stand === undefined
        ? undefined
        : { path: stand.name, namespace: "rf-lazy-package", pluginData: { resolveDir: args.resolveDir } }
    })
    build.onLoad({ filter: /.*/, namespace: "rf-lazy-package" }, (args) => ({
      contents: lazyPackages.find((p) => p.name === args.path).contents,
      resolveDir: args.pluginData.resolveDir,
      loader: "js"
    }))
  }
}

/**
 * A plugin that replaces `find` with `replace(find)` in the one package file `file` matches; if the text is not
 * there (the package changed), the build warns and leaves the file as it is.
 */
const patchSource = ({ name, file, label, find, replace }) => ({
  name,
  setup(build) {
    build.onLoad({ filter: file }, async (args) => {
      const source = await readFile(args.path, "utf8")
      if (!source.includes(find))
        return { warnings: [{ text: `${label} changed: "${find}" not found, left as it is` }] }
      return { contents: source.replace(find, replace(find)), loader: "js" }
    })
  }
})

/**
 * ioredis's Redis.js sets `Redis.Cluster = cluster_1.default` when it loads, which would load the Cluster client
 * through its lazy stand-in at once: the property becomes a getter of the same value (a setter keeps it assignable).
 */
export const ioredisCluster = patchSource({
  name: "ioredis-cluster",
  file: /[\\/]node_modules[\\/]ioredis[\\/]built[\\/]Redis\.js$/,
  label: "ioredis Redis.js",
  find: "Redis.Cluster = cluster_1.default;",
  replace: () =>
    [
      'Object.defineProperty(Redis, "Cluster", {',
      "  configurable: true,",
      "  enumerable: true,",
      "  get: () => cluster_1.default,",
      '  set: (value) => Object.defineProperty(Redis, "Cluster", { value, writable: true, configurable: true, enumerable: true })',
      "});"
    ].join("\n")
})

/**
 * ioredis adds ~570 command methods to its Commander class's prototype when it loads. On a class prototype V8 (Node
 * 24) makes each addition slow, ~35 ms of CPU at every start for the lot; on a prototype already in dictionary mode
 * the same additions take under 1 ms. One property added and deleted first puts it there; the prototype ends with
 * the same own properties.
 */
export const ioredisCommander = patchSource({
  name: "ioredis-commander",
  file: /[\\/]node_modules[\\/]ioredis[\\/]built[\\/]utils[\\/]Commander\.js$/,
  label: "ioredis Commander.js",
  find: "commands.forEach(function (commandName) {",
  replace: (loop) =>
    `Commander.prototype.__rfDictionaryMode = 0;\ndelete Commander.prototype.__rfDictionaryMode;\n${loop}`
})

/**
 * Effect's `Effect.async` declares a function, `proxyResume`, on every call (every Postgres statement and Redis command
 * the programs await). A function declaration has a prototype, so keepNames' helper names it with an
 * Object.defineProperty each time: 2 % of the consumer's CPU and ~10 KiB of every lead's allocations
 * (`bench:consumer -- --profile` / `--alloc`). As an arrow, which captures nothing more (the body reads no `this` or
 * `arguments`, and nothing calls it before its line), the helper leaves it as it is (names.mjs).
 */
export const effectAsyncResume = patchSource({
  name: "effect-async-resume",
  file: /[\\/]node_modules[\\/]effect[\\/]dist[\\/]esm[\\/]internal[\\/]core\.js$/,
  label: "effect internal/core.js",
  find: "function proxyResume(effect) {",
  replace: () => "const proxyResume = (effect) => {"
})

/** esbuild options for one program's bundle into `outdir` (dist/<name>). */
export const bundleOptions = ({ root, program, outdir }) => ({
  absWorkingDir: root,
  entryPoints: [program.entry],
  outdir,
  entryNames: "index",
  // a dynamic import() becomes its own chunk, loaded only when that code path runs (cold start stays small)
  splitting: true,
  chunkNames: "chunks/[name]-[hash]",
  outExtension: { ".js": ".mjs" },
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node24",
  // bundled ESM first; "module" over "main" keeps effect and friends as one ESM copy each
  mainFields: ["module", "main"],
  conditions: ["node", "import"],
  sourcemap: "linked",
  sourcesContent: false,
  // smaller text parses faster at cold start; names kept for error classes and stack traces
  minify: true,
  keepNames: true,
  legalComments: "linked",
  metafile: true,
  external,
  plugins: [
    requireHttp,
    lazyBuiltin,
    lazyPackage,
    ioredisCommander,
    ioredisCluster,
    effectAsyncResume,
    effectLayerMemo
  ],
  banner: { js: program.shebang ? `#!/usr/bin/env node\n${banner}` : banner },
  logLevel: "warning"
})
