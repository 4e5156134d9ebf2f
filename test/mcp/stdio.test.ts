import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Pglite from "../../layers/postgres/pglite.js"
import * as Stores from "../../layers/postgres/stores.js"
import { makeIsolation } from "../../scripts/lib/isolation.js"
import { repoRoot } from "../../scripts/lib/processes.js"
import { hubSpotEnv, programEnv } from "../../scripts/lib/stack.js"
import type { FakeHubSpot } from "../fakes/hubspot.js"
import { fakeHubSpot } from "../integration/setup.js"
import { behaviourEnv, type Harness, leadInputs, leadsNeeded, steps, storeLeads } from "./behaviour.js"

/** Writes the fake HubSpot received (reads and searches left out): what the CRM's owner would see. */
const writesAt = (fake: FakeHubSpot) =>
  Effect.sync(() => fake.requests.filter((r) => r.method !== "GET" && !r.path.endsWith("/search")).length)

/**
 * `revenueflow mcp` as a desktop host starts it: src/programs/cli.ts through tsx (what `npm run cli -- mcp` runs),
 * spoken to by the official client over its stdin / stdout. Its stderr (the logs) is printed if the test fails.
 */
const spawnMcp = (env: Record<string, string>) =>
  Effect.acquireRelease(
    Effect.promise(async () => {
      const transport = new StdioClientTransport({
        command: process.execPath,
        args: ["--import", "tsx", join("src", "programs", "cli.ts"), "mcp"],
        cwd: repoRoot,
        env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", ...env },
        stderr: "pipe"
      })
      let logs = ""
      transport.stderr?.on("data", (chunk: Buffer) => {
        logs += chunk.toString("utf8")
      })
      const client = new Client({ name: "revenueflow-test", version: "1.0.0" })
      // a line on stdout that is not a JSON-RPC message (a stray log line) surfaces here
      const protocolErrors: Array<string> = []
      client.onerror = (error) => protocolErrors.push(error.message)
      // tsx compiles on start, on two shared cores: more than the SDK's default 60 s may pass under load
      await client.connect(transport, { timeout: 120_000 })
      return { client, logs: () => logs, protocolErrors }
    }),
    ({ client, logs }, exit) =>
      Effect.promise(async () => {
        await client.close()
        if (Exit.isFailure(exit)) process.stderr.write(`----- revenueflow mcp stderr -----\n${logs()}\n`)
      })
  )

/** Every step on one server, then: stdout carried nothing but the protocol. */
const runSteps = (harness: Harness, protocolErrors: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    yield* Effect.forEach(steps, ([, step]) => step(harness), { discard: true })
    expect(protocolErrors).toEqual([])
  })

describe("MCP over stdio: revenueflow mcp", () => {
  it.scopedLive(
    "on the embedded default (PGlite in DATA_DIR, in-memory limits and idempotency): every behaviour holds",
    () =>
      Effect.gen(function* () {
        const dataDir = yield* Effect.acquireRelease(
          Effect.promise(() => mkdtemp(join(tmpdir(), "rf-mcp-"))),
          (dir) => Effect.promise(() => rm(dir, { recursive: true, force: true }))
        )
        const run = Math.random().toString(36).slice(2, 10)
        // PGlite belongs to one process: the leads are stored (as the ingest would) before the server starts
        const leads = yield* storeLeads(leadInputs(run, leadsNeeded)).pipe(
          Effect.provide(Stores.layerStores.pipe(Layer.provide(Pglite.layer(join(dataDir, "pglite"))))),
          Effect.scoped
        )
        const fake = yield* fakeHubSpot
        const { client, protocolErrors } = yield* spawnMcp({
          DATA_DIR: dataDir,
          ...hubSpotEnv(fake.url),
          ...behaviourEnv
        })
        yield* runSteps({ client, leads, crmWrites: writesAt(fake) }, protocolErrors)
      }),
    180_000
  )

  it.scopedLive(
    "on production configuration (Postgres, Redis limits and idempotency, BullMQ): every behaviour holds",
    () =>
      Effect.gen(function* () {
        const iso = yield* makeIsolation()
        const run = iso.prefix.slice(-8)
        const leads = yield* storeLeads(leadInputs(run, leadsNeeded)).pipe(
          Effect.provide(Stores.layerPostgres({ url: Redacted.make(iso.databaseUrl), schema: iso.schema })),
          Effect.scoped
        )
        const fake = yield* fakeHubSpot
        const { client, protocolErrors } = yield* spawnMcp(programEnv(iso, hubSpotEnv(fake.url), behaviourEnv))
        yield* runSteps({ client, leads, crmWrites: writesAt(fake) }, protocolErrors)
      }),
    180_000
  )
})
