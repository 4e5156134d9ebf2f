// The library as an embedder gets it: the packed tarball installed in a fresh strict NodeNext app with only the
// peers, the README's embedding snippets compiled and run there (memory, then Postgres + Redis), one copy of effect,
// and a root entry that loads no provider client. Needs Postgres and Redis (own database and key prefix, removed).
import { spawn } from "node:child_process"
import { randomBytes } from "node:crypto"
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync
} from "node:fs"
import { tmpdir } from "node:os"
import { createServer } from "node:net"
import type { AddressInfo } from "node:net"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { build } from "esbuild"
import { Redis } from "ioredis"
import postgres from "postgres"
import {
  buildLibrary,
  moduleGraph,
  npmInstall,
  pack,
  packagesLoadedBy,
  pinned,
  providerClients,
  readmeSnippet,
  root,
  scaffold,
  sh
} from "./app.js"

const testDatabaseUrl = process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test"
const testRedisUrl = process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379"

const work = mkdtempSync(join(tmpdir(), "rf-embed-"))
const app = join(work, "app")
const suffix = randomBytes(5).toString("hex")
const database = `rf_embed_${suffix}`
const prefix = `rf-embed-${suffix}`
const databaseUrl = (() => {
  const url = new URL(testDatabaseUrl)
  url.pathname = `/${database}`
  return url.toString()
})()

const admin = postgres(testDatabaseUrl, { max: 1, onnotice: () => {} })
const redis = new Redis(testRedisUrl, { lazyConnect: true })

/** A program that builds layerFromConfig from the environment and prints why it failed (each failure's message). */
const startupProbe = `
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { layerFromConfig, layerWith } from "revenueflow"

const App = layerFromConfig.pipe(Layer.provideMerge(layerWith({ fallbackToEnv: true })))
const exit = await Effect.runPromiseExit(Effect.scoped(Layer.build(App)))
if (exit._tag === "Success") console.log("started")
else for (const error of Cause.failures(exit.cause)) console.log(\`\${(error as { _tag?: string })._tag}: \${(error as Error).message}\`)
`

/** The configuration checked from code in one pass (README), in an app without @electric-sql/pglite. */
const checkProgram = `
import * as Effect from "effect/Effect"
import { checkConfig, providerOf } from "revenueflow"

const checked = checkConfig.pipe(Effect.withConfigProvider(providerOf({ jobAttempts: 0, crmProvider: "HUBSPOT" })))
const error = await Effect.runPromise(Effect.flip(checked))
console.log(\`\${error._tag}: \${error.message}\`)
`

/** The HTTP API served from the package on the memory test environment (revenueflow/testing), on PORT. */
const serveProgram = `
import * as Layer from "effect/Layer"
import { NodeRuntime } from "@effect/platform-node"
import { HttpServerLive, McpEndpointLive } from "revenueflow"
import { memoryEnv } from "revenueflow/testing"

const Services = memoryEnv({ env: { PORT: process.env.PORT ?? "0" } })
NodeRuntime.runMain(Layer.launch(HttpServerLive.pipe(Layer.provide(McpEndpointLive), Layer.provide(Services))))
`

/** A port nothing listens on now. */
const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const server = createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo
      server.close(() => resolve(port))
    })
  })

const compile = () => sh(process.execPath, [join(root, "node_modules/typescript/bin/tsc"), "-p", "."], { cwd: app })
const runApp = (file: string, env: Record<string, string> = {}) =>
  sh(process.execPath, [join("dist", file)], { cwd: app, env: { DATA_DIR: join(work, "data"), ...env } })

/** What the tarball holds (npm pack's list). */
let packedFiles: ReadonlyArray<string> = []

/** Options from the environment as they come (unset: undefined), under exactOptionalPropertyTypes. */
const envOptions = `
import { layerWith } from "revenueflow"

export const Config = layerWith({
  databaseUrl: process.env.DATABASE_URL,
  redisUrl: process.env.REDIS_URL,
  port: Number(process.env.PORT) || undefined,
  settings: { DATABASE_SCHEMA: process.env.DATABASE_SCHEMA }
})
`

beforeAll(async () => {
  await buildLibrary()
  const packed = await pack(work)
  packedFiles = packed.files
  const tarball = packed.tarball
  scaffold(app)
  // only the peers (effect, @effect/platform, @effect/platform-node); @types/node for the snippets' console / process
  await npmInstall(app, [tarball, pinned("effect"), pinned("@effect/platform"), pinned("@effect/platform-node")])
  await npmInstall(app, [pinned("@types/node")], true)
  writeFileSync(join(app, "src/memory.ts"), readmeSnippet("memory"))
  writeFileSync(join(app, "src/postgres.ts"), readmeSnippet("postgres"))
  writeFileSync(join(app, "src/startup.ts"), startupProbe)
  writeFileSync(join(app, "src/serve.ts"), serveProgram)
  writeFileSync(join(app, "src/envOptions.ts"), envOptions)
  writeFileSync(join(app, "src/check.ts"), checkProgram)
}, 300_000)

afterAll(async () => {
  await admin.unsafe(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`).catch(() => undefined)
  await admin.end({ timeout: 5 })
  if (redis.status === "ready") {
    const keys = await redis.keys(`${prefix}*`)
    if (keys.length > 0) await redis.del(...keys)
  }
  redis.disconnect()
  rmSync(work, { recursive: true, force: true })
}, 60_000)

describe("the packed library in a fresh app (peers only)", { timeout: 300_000 }, () => {
  it("the root entry loads no provider client (here, where every one is installed, and in the app)", async () => {
    const here = await packagesLoadedBy(root, join(root, "dist/lib/src/index.js"), work)
    expect(here).toContain("effect")
    expect(here.filter((name) => providerClients.includes(name))).toEqual([])
    // the app has none of them installed: a static import of one would crash here
    const there = await packagesLoadedBy(app, "revenueflow", work)
    expect(there).toContain("revenueflow")
    expect(there.filter((name) => providerClients.includes(name))).toEqual([])
  })

  it("has one copy of effect, and none of the optional peers installed", async () => {
    const { stdout } = await sh("npm", ["ls", "effect", "--all", "--parseable"], { cwd: app })
    const copies = new Set(stdout.split("\n").filter((line) => line.trim() !== ""))
    expect([...copies]).toEqual([join(app, "node_modules/effect")])
    for (const name of providerClients) expect(existsSync(join(app, "node_modules", name)), name).toBe(false)
  })

  it("carries the revenueflow command: npx revenueflow --help", async () => {
    expect(packedFiles).toContain("dist/cli/index.mjs")
    const { stdout } = await sh("npx", ["--no-install", "revenueflow", "--help"], { cwd: app })
    expect(stdout).toContain("Usage: revenueflow <command>")
    expect(stdout).toContain("migrate")
  })

  it("holds every module its exports reach, and none of the programs' own", () => {
    const { missing, unreached } = moduleGraph(join(app, "node_modules/revenueflow"))
    expect(missing).toEqual([])
    // the console's and Swagger UI's scripts are served as files; events.js is the types of the Lambda events
    const served = /^dist\/lib\/src\/http\/assets\/|^dist\/lib\/src\/lambda\/events\.js$/
    expect(unreached.filter((file) => !served.test(file))).toEqual([])
    expect(packedFiles.filter((file) => file.startsWith("dist/lib/src/programs/")).sort()).toEqual([
      "dist/lib/src/programs/defaults.d.ts",
      "dist/lib/src/programs/defaults.js",
      "dist/lib/src/programs/ingestServices.d.ts",
      "dist/lib/src/programs/ingestServices.js"
    ])
  })

  it("is tree-shaken by a bundler: an app using one function of the root carries little else", async () => {
    // package.json's "sideEffects": false: no module of the package does anything on import but define its exports
    writeFileSync(
      join(app, "src/one.ts"),
      'import { leadKey } from "revenueflow"\nconsole.log(leadKey("ada@globex.com", "spring"))\n'
    )
    const outfile = join(app, "one.mjs")
    // the optional peers stay out, as in an app that installs only those of the layers it uses
    const manifest = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as {
      peerDependenciesMeta: Record<string, unknown>
    }
    await build({
      entryPoints: [join(app, "src/one.ts")],
      bundle: true,
      platform: "node",
      format: "esm",
      outfile,
      external: Object.keys(manifest.peerDependenciesMeta),
      logLevel: "silent"
    })
    const { stdout } = await sh("node", [outfile], { cwd: app })
    expect(stdout.trim()).toMatch(/^[0-9a-f]{64}$/)
    // measured: 2.0 MB without the field (the whole root: HTTP API, presets, metrics), 0.6 MB with it
    expect(statSync(outfile).size).toBeLessThan(1_000_000)
  })

  it("is ESM only: TypeScript refuses require() from CommonJS, import() from CommonJS works", async () => {
    const cjs = join(app, "cjs")
    mkdirSync(cjs, { recursive: true })
    const tsconfig = (files: ReadonlyArray<string>) =>
      JSON.stringify({
        compilerOptions: {
          module: "NodeNext",
          moduleResolution: "NodeNext",
          strict: true,
          skipLibCheck: true,
          noEmit: true
        },
        files
      })
    writeFileSync(
      join(cjs, "required.cts"),
      `import { layerWith } from "revenueflow"\nexport const config = layerWith({})\n`
    )
    writeFileSync(
      join(cjs, "imported.cts"),
      `export const load = () => import("revenueflow").then((rf) => rf.layerWith({}))\n`
    )
    writeFileSync(join(cjs, "tsconfig.required.json"), tsconfig(["required.cts"]))
    writeFileSync(join(cjs, "tsconfig.imported.json"), tsconfig(["imported.cts"]))
    const tsc = join(root, "node_modules/typescript/bin/tsc")
    const required = await sh(process.execPath, [tsc, "-p", "tsconfig.required.json"], { cwd: cjs }).then(
      () => "compiled",
      (error: Error) => error.message
    )
    expect(required).toMatch(/required\.cts.*error TS\d+:.*revenueflow/)
    await sh(process.execPath, [tsc, "-p", "tsconfig.imported.json"], { cwd: cjs })
    // and Node agrees: require() is refused (no "require" condition), import() loads it
    const probe = `
      try { require("revenueflow"); console.log("required") } catch (error) { console.log(error.code) }
      import("revenueflow").then((rf) => console.log(typeof rf.layerWith))`
    const { stdout } = await sh(process.execPath, ["--input-type=commonjs", "-e", probe], { cwd: app })
    expect(stdout.split("\n")).toEqual(["ERR_PACKAGE_PATH_NOT_EXPORTED", "function", ""])
  })

  it("npm pack refuses a package that is not built (prepack)", async () => {
    const unbuilt = join(work, "unbuilt")
    mkdirSync(join(unbuilt, "scripts/build"), { recursive: true })
    copyFileSync(join(root, "package.json"), join(unbuilt, "package.json"))
    copyFileSync(join(root, "scripts/build/packCheck.mjs"), join(unbuilt, "scripts/build/packCheck.mjs"))
    const refused = await sh("npm", ["pack", "--dry-run"], { cwd: unbuilt }).then(
      () => "packed",
      (error: Error) => error.message
    )
    expect(refused).toContain("npm pack: the package is not built (missing dist/lib/src/index.js")
    expect(refused).toContain("dist/cli/index.mjs): run npm run build:lib first")
  })

  it("compiles the README's snippets under strict NodeNext", async () => {
    await compile()
  })

  it("its declarations pass a strict check without skipLibCheck, needing no optional peer's types", async () => {
    const tsc = join(root, "node_modules/typescript/bin/tsc")
    const result = await sh(process.execPath, [tsc, "-p", ".", "--noEmit", "--skipLibCheck", "false"], {
      cwd: app
    }).catch((error: Error & { stdout?: string }) => ({ stdout: `${error.stdout ?? ""}${error.message}` }))
    // Effect's own packages' declarations are not clean alone (ws types, DOM's Transferable): only ours are judged
    const ours = result.stdout
      .split("\n")
      .filter((line) => /error TS/.test(line))
      .filter((line) => line.startsWith("node_modules/revenueflow/") || !line.startsWith("node_modules/"))
    expect(ours).toEqual([])
  })

  it("runs the memory snippet: a lead accepted, then processed to SYNCED with its CRM actions", async () => {
    const { stdout } = await runApp("memory.js")
    expect(stdout).toContain("accepted: QUEUED")
    expect(stdout).toMatch(/^SYNCED: upsert_lead, .*set_lead_score/m)
  })

  it("serves the HTTP API from the package: a lead accepted, /docs with its Swagger UI, /mcp naming its missing SDK", async () => {
    const port = await freePort()
    const child = spawn(process.execPath, [join("dist", "serve.js")], {
      cwd: app,
      env: { ...process.env, PORT: String(port) }
    })
    let output = ""
    child.stdout.on("data", (chunk) => (output += chunk))
    child.stderr.on("data", (chunk) => (output += chunk))
    const base = `http://127.0.0.1:${port}`
    try {
      const deadline = Date.now() + 20_000
      while (
        !(await fetch(`${base}/healthz`).then(
          (r) => r.ok,
          () => false
        ))
      ) {
        if (Date.now() > deadline || child.exitCode !== null) throw new Error(`the server did not start:\n${output}`)
        await new Promise((resolve) => setTimeout(resolve, 100))
      }
      const posted = await fetch(`${base}/leads`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ email: "ada@globex.com", campaignId: "spring" })
      })
      expect(posted.status).toBe(202)
      expect(((await posted.json()) as { status: string }).status).toBe("QUEUED")
      expect((await fetch(`${base}/docs`)).status).toBe(200)
      const swagger = await fetch(`${base}/docs/assets/swagger-ui-bundle.js`)
      expect(swagger.status).toBe(200)
      expect((await swagger.text()).length).toBeGreaterThan(100_000)
      const mcp = await fetch(`${base}/mcp`, {
        method: "POST",
        headers: { "content-type": "application/json", accept: "application/json, text/event-stream" },
        body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" })
      })
      expect(mcp.status).toBe(503)
      expect(await mcp.text()).toContain("npm install @modelcontextprotocol/sdk")
    } finally {
      child.kill("SIGTERM")
      await new Promise((resolve) => (child.exitCode !== null ? resolve(undefined) : child.once("exit", resolve)))
    }
  })

  it("checks the configuration from code in one pass, the embedded database's refusal naming the app's case", async () => {
    const { stdout } = await runApp("check.js")
    expect(stdout).toContain("InvalidConfiguration: Invalid configuration:")
    expect(stdout).toContain(" - JOB_ATTEMPTS: must be a positive integer")
    expect(stdout).toContain(" - HUBSPOT_ACCESS_TOKEN: ")
    expect(stdout).toContain(
      " - DATABASE_URL: is required: the bundles run on Postgres; the embedded database is for npm"
    )
    expect(stdout).toContain("an app embedding revenueflow once it installs the optional peer PGlite")
  })

  it("the embedded default without @electric-sql/pglite fails at start-up naming the package", async () => {
    const { stdout } = await runApp("startup.js")
    expect(stdout).toContain("StoreUnavailable")
    expect(stdout).toContain("npm install @electric-sql/pglite")
  })

  it("runs the Postgres + Redis snippet on its own database and key prefix: three leads SYNCED", async () => {
    await npmInstall(app, [pinned("postgres"), pinned("ioredis"), pinned("bullmq")])
    await admin.unsafe(`CREATE DATABASE ${database}`)
    await redis.connect()
    const env = { DATABASE_URL: databaseUrl, REDIS_URL: testRedisUrl, REDIS_KEY_PREFIX: prefix, QUEUE_NAME: prefix }
    const { stdout } = await runApp("postgres.js", env)
    expect(stdout).toContain("accepted: QUEUED, QUEUED, QUEUED")
    expect(stdout).toContain("processed: SYNCED, SYNCED, SYNCED")
    // what the app's database holds afterwards
    const db = postgres(databaseUrl, { max: 1, onnotice: () => {} })
    try {
      const rows = await db`SELECT status, count(*)::int AS n FROM leads GROUP BY status`
      expect(rows.map((row) => [row.status, row.n])).toEqual([["SYNCED", 3]])
    } finally {
      await db.end({ timeout: 5 })
    }
    expect((await redis.keys(`${prefix}*`)).length).toBeGreaterThan(0)
  })

  it("the backend subpaths load once their peers are installed; one whose client is missing names it", async () => {
    for (const subpath of ["postgres", "redis", "bullmq", "testing", "observability", "aws"]) {
      const loaded = await packagesLoadedBy(app, `revenueflow/${subpath}`, work)
      expect(loaded, subpath).toContain("revenueflow")
    }
    const error = await packagesLoadedBy(app, "revenueflow/salesforce", work).catch((e: Error) => e.message)
    expect(error).toContain("Cannot find package 'jsforce'")
    const otlp = await packagesLoadedBy(app, "revenueflow/otlp", work).catch((e: Error) => e.message)
    expect(otlp).toContain("Cannot find package '@effect/opentelemetry'")
  })

  it("a selected CRM whose client is not installed fails at start-up naming the package to install", async () => {
    const env = {
      DATABASE_URL: databaseUrl,
      REDIS_URL: testRedisUrl,
      REDIS_KEY_PREFIX: prefix,
      QUEUE_NAME: prefix,
      CRM_PROVIDER: "SALESFORCE"
    }
    const { stdout } = await runApp("startup.js", env)
    expect(stdout).toContain("InvalidConfiguration")
    expect(stdout).toContain(
      "CRM_PROVIDER=SALESFORCE: needs the package jsforce, which is not installed (npm install jsforce@^3.10.26)"
    )
  })
})
