import { spawn } from "node:child_process"
import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Pglite from "../../layers/postgres/pglite.js"
import * as Stores from "../../layers/postgres/stores.js"
import { repoRoot } from "../../scripts/lib/processes.js"
import { AuditLog } from "../../services/AuditLog.js"
import { leadInputs, storeLeads } from "./behaviour.js"

/**
 * `revenueflow mcp` spoken to over raw pipes, line by line, as a host (or a buggy one) would: a line that is no
 * JSON-RPC message gets a JSON-RPC error, SIGTERM during a call still writes the call's answer before exit, and a
 * client that leaves during a call (stops reading stdout) does not hold the exit for SHUTDOWN_TIMEOUT_MS.
 */

const initialize = {
  jsonrpc: "2.0",
  id: 1,
  method: "initialize",
  params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "raw", version: "1" } }
}

/** The MCP server as a child process on the embedded default, its stdout read as JSON lines. */
const spawnMcp = (env: Record<string, string>) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const child = spawn(process.execPath, ["--import", "tsx", join("src", "programs", "cli.ts"), "mcp"], {
        cwd: repoRoot,
        env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", ...env },
        stdio: ["pipe", "pipe", "pipe"]
      })
      const messages: Array<Record<string, unknown>> = []
      const stdout: Array<string> = []
      let stderr = ""
      let buffered = ""
      child.stdout.on("data", (chunk: Buffer) => {
        buffered += chunk.toString("utf8")
        let newline = buffered.indexOf("\n")
        while (newline >= 0) {
          const line = buffered.slice(0, newline)
          buffered = buffered.slice(newline + 1)
          stdout.push(line)
          messages.push(JSON.parse(line))
          newline = buffered.indexOf("\n")
        }
      })
      child.stderr.on("data", (chunk: Buffer) => {
        stderr += chunk.toString("utf8")
      })
      const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)))
      const write = (line: string) => child.stdin.write(`${line}\n`)
      /** The first of `found()` that is not undefined, waiting for it as long as `timeoutMs`. */
      const waitFor = <A>(what: string, found: () => A | undefined, timeoutMs: number) =>
        Effect.promise(async () => {
          const until = Date.now() + timeoutMs
          while (Date.now() < until) {
            const value = found()
            if (value !== undefined) return value
            await new Promise((resolve) => setTimeout(resolve, 50))
          }
          throw new Error(`no such ${what}; stdout: ${stdout.join("\n")}\nstderr: ${stderr}`)
        })
      /** The first message `match` accepts, waiting for it as long as `timeoutMs`. */
      const next = (match: (message: Record<string, unknown>) => boolean, timeoutMs = 120_000) =>
        waitFor("message", () => messages.find(match), timeoutMs)
      /** The first stderr line (a log line) containing every one of `parts`. */
      const logLine = (parts: ReadonlyArray<string>, timeoutMs = 120_000) =>
        waitFor(
          "log line",
          () => stderr.split("\n").find((line) => parts.every((part) => line.includes(part))),
          timeoutMs
        )
      return { child, write, next, logLine, exited, messages, stderr: () => stderr }
    }),
    ({ child }) => Effect.sync(() => child.exitCode === null && child.kill("SIGKILL"))
  )

const withDataDir = Effect.acquireRelease(
  Effect.promise(() => mkdtemp(join(tmpdir(), "rf-mcp-lines-"))),
  (dir) => Effect.promise(() => rm(dir, { recursive: true, force: true }))
)

/**
 * A data directory holding one stored lead, and `revenueflow mcp` on it, initialized: its mock CRM takes 3 s a call
 * (so a call is in flight long enough to be interrupted), Debug logs name each request received.
 */
const initializedWithLead = (shutdownTimeoutMs: string) =>
  Effect.gen(function* () {
    const dataDir = yield* withDataDir
    const [lead] = yield* storeLeads(leadInputs(Math.random().toString(36).slice(2, 10), 1)).pipe(
      Effect.provide(Stores.layerStores.pipe(Layer.provide(Pglite.layer(join(dataDir, "pglite"))))),
      Effect.scoped
    )
    const mcp = yield* spawnMcp({
      DATA_DIR: dataDir,
      MOCK_CRM_LATENCY_MS: "3000",
      SHUTDOWN_TIMEOUT_MS: shutdownTimeoutMs,
      LOG_LEVEL: "Debug"
    })
    mcp.write(JSON.stringify(initialize))
    yield* mcp.next((message) => message.id === 1)
    mcp.write(JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" }))
    return { dataDir, lead: lead!, mcp }
  })

describe("MCP over stdio, line by line", () => {
  it.scopedLive(
    "a line that is not JSON is -32700 and a batch is -32600 (id null), each logged on stderr; SIGTERM mid-call still writes its answer",
    () =>
      Effect.gen(function* () {
        // the CRM takes 3 s: SIGTERM arrives while the call is at the CRM (LOG_LEVEL=Debug logs each request received)
        const { lead, mcp } = yield* initializedWithLead("10000")

        mcp.write("this is not json")
        const parse = yield* mcp.next((message) => (message.error as { code?: number } | undefined)?.code === -32700)
        expect(parse).toMatchObject({ jsonrpc: "2.0", id: null, error: { code: -32700 } })
        mcp.write(JSON.stringify([{ jsonrpc: "2.0", id: 5, method: "ping" }]))
        const batch = yield* mcp.next((message) => (message.error as { code?: number } | undefined)?.code === -32600)
        expect(batch).toMatchObject({ jsonrpc: "2.0", id: null, error: { code: -32600 } })
        expect(String((batch.error as { message: string }).message)).toContain("batches are not supported")
        expect(mcp.messages.some((message) => message.id === 5)).toBe(false)
        // the session goes on
        mcp.write(JSON.stringify({ jsonrpc: "2.0", id: 6, method: "ping" }))
        expect(yield* mcp.next((message) => message.id === 6)).toMatchObject({ result: {} })
        const warnings = mcp
          .stderr()
          .split("\n")
          .filter((line) => line.includes("no JSON-RPC message"))
        expect(warnings).toHaveLength(2)

        mcp.write(
          JSON.stringify({
            jsonrpc: "2.0",
            id: 2,
            method: "tools/call",
            params: {
              name: "update_lead_status",
              arguments: { leadKey: lead?.leadKey, email: lead?.email, status: "Working" }
            }
          })
        )
        // the server has received the call (which spends 3 s at the CRM) and has not answered it
        yield* mcp.logLine(["MCP request received", "tools/call"])
        expect(mcp.messages.some((message) => message.id === 2)).toBe(false)
        mcp.child.kill("SIGTERM")
        const code = yield* Effect.promise(() => mcp.exited)
        const answer = mcp.messages.find((message) => message.id === 2)
        expect(answer, mcp.stderr()).toMatchObject({
          result: { structuredContent: { tool: "update_lead_status", status: "SUCCEEDED" } }
        })
        expect(code).toBe(0)
      }),
    180_000
  )

  it.scopedLive(
    "a client that stops reading stdout and closes stdin mid-call: the call finishes, and the exit does not wait out SHUTDOWN_TIMEOUT_MS for an answer no one can read",
    () =>
      Effect.gen(function* () {
        const { dataDir, lead, mcp } = yield* initializedWithLead("60000")
        mcp.write(
          JSON.stringify({
            jsonrpc: "2.0",
            id: 2,
            method: "tools/call",
            params: {
              name: "update_lead_status",
              arguments: { leadKey: lead?.leadKey, email: lead?.email, status: "Working" }
            }
          })
        )
        yield* mcp.logLine(["MCP request received", "tools/call"])
        // the client leaves: its end of stdout closed (the answer's write fails with EPIPE), then stdin
        mcp.child.stdout.destroy()
        const left = Date.now()
        mcp.child.stdin.end()
        const code = yield* Effect.promise(() => mcp.exited)
        const waited = Date.now() - left
        expect(code, mcp.stderr()).toBe(0)
        // the call's 3 s at the CRM and the shutdown, not the 60 s SHUTDOWN_TIMEOUT_MS
        expect(waited, mcp.stderr()).toBeLessThan(30_000)
        expect(mcp.stderr()).toContain("MCP client stopped reading stdout")
        expect(mcp.stderr()).not.toContain("answers still unwritten")
        // the call itself ran to its end: the lead's status was written to the CRM and audited
        const audit = yield* Effect.flatMap(AuditLog, (log) => log.listForLead(lead.id)).pipe(
          Effect.provide(Stores.layerStores.pipe(Layer.provide(Pglite.layer(join(dataDir, "pglite"))))),
          Effect.scoped
        )
        expect(audit.map((row) => [row.tool, row.status])).toContainEqual(["update_lead_status", "SUCCEEDED"])
      }),
    180_000
  )

  it.scopedLive(
    "a NUL or an unpaired surrogate in a text argument is refused by the guard naming the field, never sent, and " +
      "its BLOCKED row is stored (no 'database unavailable' loop)",
    () =>
      Effect.gen(function* () {
        const { dataDir, lead, mcp } = yield* initializedWithLead("10000")
        const task = { leadKey: lead.leadKey, email: lead.email, subject: "Call back", priority: "Low" }
        const calls = [
          [2, { ...task, subject: "nul\u0000here" }, "subject"],
          [3, { ...task, description: "half \ud800 of a pair" }, "description"],
          [4, { ...task, subject: "\udc00 low half" }, "subject"]
        ] as const
        for (const [id, args] of calls) {
          // JSON.stringify writes both as escapes (\u0000, \ud800), as a host's JSON encoder does
          mcp.write(
            JSON.stringify({
              jsonrpc: "2.0",
              id,
              method: "tools/call",
              params: { name: "create_task", arguments: args }
            })
          )
        }
        for (const [id, , field] of calls) {
          const answer = yield* mcp.next((message) => message.id === id)
          expect(answer, mcp.stderr()).toMatchObject({
            result: { isError: true, structuredContent: { error: "GuardBlocked", rule: "invalid-params" } }
          })
          const text = (answer.result as { content: Array<{ text: string }> }).content[0]?.text
          expect(text).toContain(`${field}: must not contain NUL`)
        }
        mcp.child.stdin.end()
        expect(yield* Effect.promise(() => mcp.exited)).toBe(0)
        expect(mcp.stderr()).not.toContain("StoreUnavailable")
        const audit = yield* Effect.flatMap(AuditLog, (log) => log.listForLead(lead.id)).pipe(
          Effect.provide(Stores.layerStores.pipe(Layer.provide(Pglite.layer(join(dataDir, "pglite"))))),
          Effect.scoped
        )
        // refused before the CRM: no SUCCEEDED row; each refusal audited, its text stored with U+FFFD
        expect(audit.map((row) => [row.tool, row.status])).toEqual([
          ["create_task", "BLOCKED"],
          ["create_task", "BLOCKED"],
          ["create_task", "BLOCKED"]
        ])
        expect(JSON.stringify(audit.map((row) => row.params))).toContain("nul\ufffdhere")
      }),
    180_000
  )
})
