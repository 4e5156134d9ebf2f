import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js"
import * as Effect from "effect/Effect"
import { makeIsolation } from "../../scripts/lib/isolation.js"
import { freePort, startProgram } from "../../scripts/lib/processes.js"
import { hubSpotEnv, programEnv } from "../../scripts/lib/stack.js"
import { fakeHubSpot } from "../integration/setup.js"
import { behaviourEnv, leadInputs, leadsNeeded, seeded, steps } from "./behaviour.js"

const apiKey = "ingest-mcp-key-51c2"

/** POST /leads on the running ingest with the API key: the lead as the ingest accepts it. */
const postLead = (url: string, body: { readonly email: string; readonly campaignId: string }) =>
  Effect.promise(async () => {
    const res = await fetch(`${url}/leads`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${apiKey}` },
      body: JSON.stringify(body)
    })
    expect(res.status).toBe(202)
    return seeded(((await res.json()) as { id: string }).id, body)
  })

/** The embedded default: PGlite in a temporary DATA_DIR, in-memory queue, limits and idempotency. */
const embedded = Effect.gen(function* () {
  const dataDir = yield* Effect.acquireRelease(
    Effect.promise(() => mkdtemp(join(tmpdir(), "rf-mcp-ingest-"))),
    (dir) => Effect.promise(() => rm(dir, { recursive: true, force: true }))
  )
  return { DATA_DIR: dataDir, HOST: "127.0.0.1", LOG_LEVEL: "Info" }
})

/** Production configuration: the run's own Postgres schema and Redis prefix. */
const production = Effect.map(makeIsolation(), (iso) => programEnv(iso, {}))

const configurations = [
  ["on the embedded default", embedded],
  ["on production configuration (Postgres, Redis)", production]
] as const

describe.each(configurations)(
  "MCP on the ingest program (src/programs/ingest.ts, HttpServerLive) %s",
  (_name, base) => {
    it.scopedLive(
      "/mcp needs the API key (401 problem+json without it), then every behaviour holds over Streamable HTTP",
      () =>
        Effect.gen(function* () {
          const fake = yield* fakeHubSpot
          const env = { ...(yield* base), ...hubSpotEnv(fake.url), ...behaviourEnv, INGEST_API_KEYS: apiKey }
          // a fresh PGlite data directory takes a while to initialise on two busy cores
          const ingest = yield* startProgram({
            program: "ingest",
            env: { ...env, PORT: String(yield* freePort) },
            readyTimeoutMs: 120_000
          })
          const unauthenticated = yield* Effect.promise(() =>
            fetch(`${ingest.url}/mcp`, {
              method: "POST",
              headers: { "content-type": "application/json", accept: "application/json, text/event-stream" },
              body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" })
            })
          )
          expect(unauthenticated.status).toBe(401)
          expect(unauthenticated.headers.get("content-type")).toMatch(/^application\/problem\+json/)
          expect(yield* Effect.promise(() => unauthenticated.json())).toMatchObject({ status: 401 })

          const run = Math.random().toString(36).slice(2, 10)
          const leads = yield* Effect.forEach(leadInputs(run, leadsNeeded), (body) => postLead(ingest.url, body))
          const client = yield* Effect.acquireRelease(
            Effect.promise(async () => {
              const client = new Client({ name: "revenueflow-test", version: "1.0.0" })
              const transport = new StreamableHTTPClientTransport(new URL("/mcp", ingest.url), {
                requestInit: { headers: { authorization: `Bearer ${apiKey}` } }
              })
              await client.connect(transport, { timeout: 120_000 })
              return client
            }),
            (client) => Effect.promise(() => client.close())
          )
          const crmWrites = Effect.sync(
            () => fake.requests.filter((r) => r.method !== "GET" && !r.path.endsWith("/search")).length
          )
          yield* Effect.forEach(steps, ([, step]) => step({ client, leads, crmWrites }), { discard: true })
        }),
      240_000
    )
  }
)
