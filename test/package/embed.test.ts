// The library as an embedder gets it: the packed tarball installed in a fresh strict NodeNext app with only the
// peers, the README's embedding snippets compiled and run there (memory, then Postgres + Redis), one copy of effect,
// and a root entry that loads no provider client. Needs Postgres and Redis (own database and key prefix, removed).
import { spawn } from "node:child_process"
import { randomBytes } from "node:crypto"
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { createServer } from "node:net"
import type { AddressInfo } from "node:net"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Redis } from "ioredis"
import postgres from "postgres"
import {
  buildLibrary,
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

beforeAll(async () => {
  await buildLibrary()
  const tarball = await pack(work)
  scaffold(app)
  // only the peers (effect, @effect/platform, @effect/platform-node); @types/node for the snippets' console / process
  await npmInstall(app, [tarball, pinned("effect"), pinned("@effect/platform"), pinned("@effect/platform-node")])
  await npmInstall(app, [pinned("@types/node")], true)
  writeFileSync(join(app, "src/memory.ts"), readmeSnippet("memory"))
  writeFileSync(join(app, "src/postgres.ts"), readmeSnippet("postgres"))
  writeFileSync(join(app, "src/startup.ts"), startupProbe)
  writeFileSync(join(app, "src/serve.ts"), serveProgram)
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

  it("compiles the README's snippets under strict NodeNext", async () => {
    await compile()
  })

  it("its declarations need no optional peer's types (checked without skipLibCheck)", async () => {
    const tsc = join(root, "node_modules/typescript/bin/tsc")
    const result = await sh(process.execPath, [tsc, "-p", ".", "--noEmit", "--skipLibCheck", "false"], {
      cwd: app
    }).catch((error: Error) => ({ stdout: error.message }))
    expect(result.stdout).not.toMatch(/TS2307/)
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
      "CRM_PROVIDER=SALESFORCE: needs the package jsforce, which is not installed (npm install jsforce)"
    )
  })
})
