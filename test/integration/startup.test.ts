import { createServer, type Server, type Socket } from "node:net"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { makeIsolation } from "../../scripts/lib/isolation.js"
import { freePort, launchProgram, type Program, type ProgramName } from "../../scripts/lib/processes.js"
import { startIngest } from "../../scripts/lib/stack.js"

/** tsx compiles the program on start; on a busy 2-core machine that alone can take 20 s. */
const START_BUDGET_MS = 90_000

/**
 * A TCP listener in place of Postgres: "garbage" answers an HTTP error to whatever it is sent, "silent" accepts
 * and never says a word. Records when the program first connected (it is then in start-up, past compiling).
 */
const fakeListener = (mode: "garbage" | "silent") =>
  Effect.acquireRelease(
    Effect.async<{ server: Server; port: number; firstConnectAt: () => number | undefined }>((resume) => {
      let firstConnectAt: number | undefined
      const sockets = new Set<Socket>()
      const server = createServer((socket) => {
        firstConnectAt ??= Date.now()
        sockets.add(socket)
        socket.on("error", () => {})
        socket.on("close", () => sockets.delete(socket))
        if (mode === "garbage") socket.on("data", () => socket.write("HTTP/1.1 400 Bad Request\r\n\r\nnot postgres\n"))
      })
      server.on("close", () => {
        for (const socket of sockets) socket.destroy()
      })
      server.listen(0, "127.0.0.1", () => {
        const address = server.address()
        const port = typeof address === "object" && address !== null ? address.port : 0
        resume(Effect.succeed({ server, port, firstConnectAt: () => firstConnectAt }))
      })
    }),
    ({ server }) =>
      Effect.sync(() => {
        server.close()
        server.emit("close")
      })
  )

/** Hold a port the way another process would. */
const holdPort = Effect.acquireRelease(
  Effect.flatMap(freePort, (port) =>
    Effect.async<{ server: Server; port: number }>((resume) => {
      const server = createServer()
      server.listen(port, "127.0.0.1", () => resume(Effect.succeed({ server, port })))
    })
  ),
  ({ server }) => Effect.sync(() => server.close())
)

const launch = (program: ProgramName, env: Record<string, string>) =>
  launchProgram({ program, env: { LOG_LEVEL: "Info", ...env } })

const untilTrue = (check: () => boolean, timeoutMs: number) =>
  Effect.promise(async () => {
    const deadline = Date.now() + timeoutMs
    while (!check() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 25))
    return check()
  })

/** No stack trace: start-up failures are one line a person reads. */
const expectNoStack = (program: Program) => expect(program.output()).not.toMatch(/\n\s+at /)

describe("start-up failures end promptly with one clear line", () => {
  it.scopedLive(
    "a DATABASE_URL whose listener answers garbage or nothing: exit 1 within DATABASE_CONNECT_TIMEOUT_MS, naming host:port, not the password",
    () =>
      Effect.gen(function* () {
        const connectTimeoutMs = 1500
        const run = (mode: "garbage" | "silent") =>
          Effect.gen(function* () {
            const listener = yield* fakeListener(mode)
            const program = yield* launch("ingest", {
              DATABASE_URL: `postgres://revenueflow:pw-s3cret-${mode}@127.0.0.1:${listener.port}/app`,
              DATABASE_CONNECT_TIMEOUT_MS: String(connectTimeoutMs),
              PORT: String(yield* freePort)
            })
            const exit = yield* program.waitExit(START_BUDGET_MS)
            const connectedAt = listener.firstConnectAt()
            return { mode, program, exit, connectedAt, port: listener.port }
          })
        const results = yield* Effect.all([run("garbage"), run("silent")], { concurrency: "unbounded" })
        for (const { mode, program, exit, connectedAt, port } of results) {
          expect(exit.code, mode).toBe(1)
          expect(connectedAt, mode).toBeDefined()
          // the connect timeout, plus a margin for closing and exiting on a loaded machine
          expect(exit.at - (connectedAt ?? 0), mode).toBeLessThan(connectTimeoutMs + 4000)
          expect(program.output(), mode).toContain(`cannot connect to Postgres at 127.0.0.1:${port}`)
          expect(program.output(), mode).not.toContain("s3cret")
          expectNoStack(program)
        }
      }),
    2 * START_BUDGET_MS
  )

  it.scopedLive(
    "AWS_SECRETS_IDS that cannot be read: one line naming the secret and why (the network's words), exit 1",
    () =>
      Effect.gen(function* () {
        const closed = yield* freePort
        const program = yield* launch("consumer", {
          AWS_SECRETS_IDS: "rf/app",
          AWS_ENDPOINT_URL_SECRETS_MANAGER: `http://127.0.0.1:${closed}`,
          AWS_REGION: "eu-west-1",
          AWS_ACCESS_KEY_ID: "AKIASTARTUPTEST",
          AWS_SECRET_ACCESS_KEY: "startup-s3cret",
          AWS_MAX_ATTEMPTS: "1",
          METRICS_PORT: String(yield* freePort)
        })
        const exit = yield* program.waitExit(START_BUDGET_MS)
        expect(exit.code).toBe(1)
        expect(program.output()).toContain(
          `Cannot start: secret "rf/app" could not be read (Error): connect ECONNREFUSED 127.0.0.1:${closed}`
        )
        expect(program.output()).not.toContain("startup-s3cret")
        expectNoStack(program)
      }),
    2 * START_BUDGET_MS
  )

  it.scopedLive(
    "SIGTERM while start-up waits on a listener that never answers exits promptly",
    () =>
      Effect.gen(function* () {
        const listener = yield* fakeListener("silent")
        const program = yield* launch("ingest", {
          DATABASE_URL: `postgres://revenueflow:pw-s3cret@127.0.0.1:${listener.port}/app`,
          DATABASE_CONNECT_TIMEOUT_MS: "60000",
          PORT: String(yield* freePort)
        })
        const connected = yield* untilTrue(() => listener.firstConnectAt() !== undefined, START_BUDGET_MS)
        expect(connected).toBe(true)
        yield* Effect.sleep("300 millis")
        const sentAt = Date.now()
        program.signal("SIGTERM")
        const exit = yield* program.waitExit(20_000)
        expect(exit.at - sentAt).toBeLessThan(3000)
        expect(program.output()).not.toContain("s3cret")
      }),
    START_BUDGET_MS + 30_000
  )

  it.scopedLive(
    "a port already in use: one line naming the port, EADDRINUSE and the variable (PORT, METRICS_PORT), exit 1",
    () =>
      Effect.gen(function* () {
        const iso = yield* makeIsolation()
        const taken = yield* holdPort
        const env = { ...iso.env, HOST: "127.0.0.1" }
        const [ingest, consumer] = yield* Effect.all(
          [
            launch("ingest", { ...env, PORT: String(taken.port) }),
            launch("consumer", { ...env, METRICS_PORT: String(taken.port) })
          ],
          { concurrency: "unbounded" }
        )
        const [ingestExit, consumerExit] = yield* Effect.all(
          [ingest.waitExit(START_BUDGET_MS), consumer.waitExit(START_BUDGET_MS)],
          { concurrency: "unbounded" }
        )
        expect(ingestExit.code).toBe(1)
        expect(ingest.output()).toContain(
          `port ${taken.port} is already in use (EADDRINUSE) — set PORT to another port`
        )
        expectNoStack(ingest)
        expect(consumerExit.code).toBe(1)
        expect(consumer.output()).toContain(
          `port ${taken.port} is already in use (EADDRINUSE) — set METRICS_PORT to another port`
        )
        expectNoStack(consumer)
      }),
    2 * START_BUDGET_MS
  )
})

describe("each program checks and loads only what it uses", () => {
  it.scopedLive(
    "the ingest starts and accepts leads with a CRM, analyser and enrichment selected but not configured",
    () =>
      Effect.gen(function* () {
        const iso = yield* makeIsolation()
        const ingest = yield* startIngest({
          ...iso.env,
          CRM_PROVIDER: "HUBSPOT",
          ANALYZER: "BEDROCK",
          ENRICHMENT_PROVIDER: "HTTP",
          INGEST_API_KEYS: "startup-key",
          LOG_LEVEL: "Warn"
        })
        const key = { authorization: "Bearer startup-key" }
        const response = yield* Effect.promise(() =>
          fetch(`${ingest.url}/leads`, {
            method: "POST",
            headers: { "content-type": "application/json", ...key },
            body: JSON.stringify({ email: "ada@globex.com", campaignId: "startup" })
          })
        )
        expect(response.status).toBe(202)
        const initialize = (headers: Record<string, string>) =>
          Effect.promise(() =>
            fetch(`${ingest.url}/mcp`, {
              method: "POST",
              headers: {
                "content-type": "application/json",
                accept: "application/json, text/event-stream",
                ...headers
              },
              body: JSON.stringify({
                jsonrpc: "2.0",
                id: 1,
                method: "initialize",
                params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "t", version: "1" } }
              })
            })
          )
        // refused before /mcp loads anything: no API key (401), a browser page of another origin (403); neither
        // learns what /mcp would need
        const anonymous = yield* initialize({})
        expect(anonymous.status).toBe(401)
        expect(yield* Effect.promise(() => anonymous.text())).not.toContain("HUBSPOT")
        const foreign = yield* initialize({ ...key, origin: "http://evil.example" })
        expect(foreign.status).toBe(403)
        expect(foreign.headers.get("content-type")).toBe("application/problem+json")
        expect(yield* Effect.promise(() => foreign.json())).toMatchObject({
          status: 403,
          detail: expect.stringContaining("MCP_ALLOWED_ORIGINS")
        })
        // /mcp is the one route that needs the CRM: it says which settings are missing, and nothing else breaks
        const mcp = yield* initialize(key)
        expect(mcp.status).toBe(503)
        expect(mcp.headers.get("content-type")).toBe("application/problem+json")
        const problem = (yield* Effect.promise(() => mcp.json())) as { detail: string }
        expect(problem.detail).toContain("HUBSPOT_ACCESS_TOKEN")
        const again = yield* Effect.promise(() =>
          fetch(`${ingest.url}/leads`, {
            method: "POST",
            headers: { "content-type": "application/json", ...key },
            body: JSON.stringify({ email: "ada@globex.com", campaignId: "startup" })
          })
        )
        expect(again.status).toBe(200)
      }),
    START_BUDGET_MS
  )
})
