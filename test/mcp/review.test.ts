import { describe, expect, it } from "@effect/vitest"
import type { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { McpError } from "@modelcontextprotocol/sdk/types.js"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import { AuditLog } from "../../services/AuditLog.js"
import { errorText } from "../../src/domain/redact.js"
import { send } from "../http/harness.js"
import { backends } from "../support/env.js"
import { call, leadInputs, rejection, type SeededLead, storeLeads } from "./behaviour.js"
import { baseUrl, connect as connectWith, ingestWithMcp } from "./httpClient.js"

/**
 * What an outside review of the MCP server found, as an MCP client sees it: the audit trail comes a page at a time,
 * an agent repeating a refused call does not flood it, JSON-RPC errors carry their message once, malformed calls
 * and batches are invalid params / invalid request, and empty required texts are refused.
 */

const apiKey = "mcp-review-key-93b1"
const connect = (url: string) => connectWith(url, apiKey, "revenueflow-review")
const headers = {
  "content-type": "application/json",
  accept: "application/json, text/event-stream",
  authorization: `Bearer ${apiKey}`
}

/** One raw JSON-RPC POST to /mcp (what curl would send). */
const post = (url: string, body: string) => send(url, "POST", "/mcp", { headers, body })

const readJson = (client: Client, uri: string) =>
  Effect.map(
    Effect.promise(() => client.readResource({ uri })),
    (read) => JSON.parse(String((read.contents[0] as { text?: string }).text))
  )

describe.each(backends)("MCP, as the review asked it to behave (%s)", (_name, makeEnv) => {
  const withClient = (
    body: (client: Client, url: string, lead: SeededLead) => Effect.Effect<void, unknown, Scope.Scope | AuditLog>
  ) =>
    Effect.gen(function* () {
      const url = yield* baseUrl
      const [lead] = yield* storeLeads(leadInputs(Math.random().toString(36).slice(2, 10), 1))
      const client = yield* connect(url)
      yield* body(client, url, lead as SeededLead)
    }).pipe(
      Effect.provide(ingestWithMcp.pipe(Layer.provideMerge(makeEnv({ env: { INGEST_API_KEYS: apiKey } })))),
      Effect.scoped
    )

  it.live(
    "get_audit_trail and the audit resource answer a page (50 by default, 200 at most), oldest first, with remaining and nextCursor",
    () =>
      withClient((client, _url, lead) =>
        Effect.gen(function* () {
          // 260 rows, the last 110 of 4 KB each (as the review's flood made): half a megabyte at once before
          const audit = yield* AuditLog
          const rows = yield* audit.recordEach(
            Array.from({ length: 260 }, (_, i) => ({
              leadId: lead.id,
              actionKey: `review-${i}`,
              tool: "log_activity",
              provider: "MOCK",
              status: "BLOCKED" as const,
              params: { subject: `row ${i}`, description: "x".repeat(i < 150 ? 200 : 4000) },
              error: errorText(`unknown field ${i}`),
              durationMs: 0
            }))
          )
          const first = yield* call(client, "get_audit_trail", { leadId: lead.id })
          expect(first.isError, JSON.stringify(first).slice(0, 500)).toBeFalsy()
          const page1 = first.structuredContent
          expect(page1.actions).toHaveLength(50)
          expect(page1.actions.map((row: { id: string }) => row.id)).toEqual(rows.slice(0, 50).map((row) => row.id))
          expect(page1).toMatchObject({ order: "oldest first", remaining: 210, nextCursor: rows[49]?.id })
          expect(JSON.stringify(first).length).toBeLessThan(150_000)

          // the most a page holds: 200 rows, fewer when they would pass ~50 KB of JSON (never megabytes)
          const second = (yield* call(client, "get_audit_trail", {
            leadId: lead.id,
            cursor: page1.nextCursor,
            limit: 200
          })).structuredContent
          expect(second.actions.length).toBeGreaterThan(0)
          expect(second.actions.length).toBeLessThan(200)
          expect(second.actions[0].id).toBe(rows[50]?.id)
          expect(second.remaining).toBe(210 - second.actions.length)
          expect(JSON.stringify(second).length).toBeLessThan(60_000)

          // pages follow each other to the end, each row once
          const seen = [...page1.actions, ...second.actions].map((row: { id: string }) => row.id)
          let cursor: string | undefined = second.nextCursor
          while (cursor !== undefined) {
            const page = (yield* call(client, "get_audit_trail", { leadId: lead.id, cursor, limit: 200 }))
              .structuredContent
            seen.push(...page.actions.map((row: { id: string }) => row.id))
            cursor = page.nextCursor
            if (cursor === undefined) expect(page.remaining).toBe(0)
          }
          expect(seen).toEqual(rows.map((row) => row.id))

          const tooMany = yield* call(client, "get_audit_trail", { leadId: lead.id, limit: 500 })
          expect(tooMany.structuredContent).toMatchObject({ error: "InvalidArguments" })
          expect(tooMany.content[0].text).toContain("limit")
          const foreign = yield* call(client, "get_audit_trail", { leadId: lead.id, cursor: crypto.randomUUID() })
          expect(foreign.structuredContent).toMatchObject({ error: "InvalidArguments" })
          expect(foreign.content[0].text).toContain("cursor")

          // the resource: the same first page, then ?cursor= for the next
          const resource = yield* readJson(client, `revenueflow://leads/${lead.id}/audit`)
          expect(resource).toMatchObject({ remaining: 210, nextCursor: rows[49]?.id })
          expect(resource.actions).toHaveLength(50)
          const next = yield* readJson(
            client,
            `revenueflow://leads/${lead.id}/audit?cursor=${resource.nextCursor}&limit=10`
          )
          expect(next.actions.map((row: { id: string }) => row.id)).toEqual(rows.slice(50, 60).map((row) => row.id))
          expect(next.remaining).toBe(200)
          const bad = yield* rejection(() =>
            client.readResource({ uri: `revenueflow://leads/${lead.id}/audit?cursor=${crypto.randomUUID()}` })
          )
          expect((bad as McpError).code).toBe(-32602)
        })
      ),
    60_000
  )

  it.live(
    "an agent repeating the same refused call gets the refusal each time but leaves one BLOCKED row; another refusal has its own",
    () =>
      withClient((client, _url, lead) =>
        Effect.gen(function* () {
          const args = {
            leadKey: lead.leadKey,
            email: lead.email,
            subject: "Follow up",
            description: "d".repeat(3990),
            extra: "not a field"
          }
          const results = yield* Effect.forEach(Array.from({ length: 20 }), () => call(client, "log_activity", args), {
            concurrency: 5
          })
          for (const result of results) {
            expect(result.isError).toBe(true)
            expect(result.structuredContent).toMatchObject({ error: "GuardBlocked", rule: "invalid-params" })
          }
          const trail = () =>
            Effect.map(
              call(client, "get_audit_trail", { leadId: lead.id }),
              (result) => result.structuredContent.actions as ReadonlyArray<Record<string, unknown>>
            )
          const once = yield* trail()
          expect(once.map((row) => [row.status, row.tool, row.source])).toEqual([["BLOCKED", "log_activity", "mcp"]])

          // a different refused call (other arguments, another refusal) is recorded: every distinct refusal is
          yield* call(client, "log_activity", { ...args, extra: "something else" })
          yield* call(client, "create_task", { leadKey: lead.leadKey, email: lead.email, subject: "", priority: "Low" })
          const rows = yield* trail()
          expect(rows.map((row) => [row.status, row.tool])).toEqual([
            ["BLOCKED", "log_activity"],
            ["BLOCKED", "log_activity"],
            ["BLOCKED", "create_task"]
          ])
          expect(String(rows[2]?.error)).toContain("subject")
        })
      ),
    60_000
  )
})

describe.each([backends[0]])("MCP errors on the wire (%s)", (_name, makeEnv) => {
  const withUrl = (body: (client: Client, url: string) => Effect.Effect<void, unknown, Scope.Scope>) =>
    Effect.gen(function* () {
      const url = yield* baseUrl
      yield* body(yield* connect(url), url)
    }).pipe(
      Effect.provide(ingestWithMcp.pipe(Layer.provideMerge(makeEnv({ env: { INGEST_API_KEYS: apiKey } })))),
      Effect.scoped
    )

  it.live("a JSON-RPC error carries its message once: 'Unknown tool: …', 'Resource not found: …'", () =>
    withUrl((client, url) =>
      Effect.gen(function* () {
        const raw = yield* post(
          url,
          JSON.stringify({ jsonrpc: "2.0", id: 3, method: "tools/call", params: { name: "nope", arguments: {} } })
        )
        expect(raw.json.error).toEqual({ code: -32602, message: 'Unknown tool: "nope"' })
        const missing = yield* post(
          url,
          JSON.stringify({ jsonrpc: "2.0", id: 4, method: "resources/read", params: { uri: "revenueflow://leads/x" } })
        )
        expect(missing.json.error).toEqual({ code: -32002, message: 'Resource not found: "revenueflow://leads/x"' })

        // the SDK client puts "MCP error <code>: " in front, once
        const unknown = yield* rejection(() => client.callTool({ name: "nope", arguments: {} }))
        expect(unknown).toBeInstanceOf(McpError)
        expect((unknown as McpError).message).toBe('MCP error -32602: Unknown tool: "nope"')
        const notFound = yield* rejection(() => client.readResource({ uri: "revenueflow://leads/x" }))
        expect((notFound as McpError).message).toBe('MCP error -32002: Resource not found: "revenueflow://leads/x"')
      })
    )
  )

  it.live("a malformed tools/call is -32602 Invalid params naming the problem; an unknown method is still -32601", () =>
    withUrl((_client, url) =>
      Effect.gen(function* () {
        const cases: ReadonlyArray<readonly [unknown, string]> = [
          [{ name: "create_task", arguments: [1] }, "params.arguments must be a JSON object"],
          [{ name: "create_task", arguments: "x" }, "params.arguments must be a JSON object"],
          [{ arguments: {} }, "params.name must be the tool's name"],
          [{ name: 7 }, "params.name must be the tool's name"]
        ]
        for (const [params, problem] of cases) {
          const reply = yield* post(url, JSON.stringify({ jsonrpc: "2.0", id: 9, method: "tools/call", params }))
          expect(reply.json.id).toBe(9)
          expect(reply.json.error.code, JSON.stringify(params)).toBe(-32602)
          expect(reply.json.error.message).toContain(problem)
          expect(reply.json.error.message.length).toBeLessThan(120)
          expect(reply.json.error.message).not.toContain("invalid_type")
        }
        const other = yield* post(url, JSON.stringify({ jsonrpc: "2.0", id: 10, method: "foo/bar" }))
        expect(other.json.error).toEqual({ code: -32601, message: "Method not found" })
      })
    )
  )

  it.live("a JSON-RPC batch (an array) is 400 with a JSON-RPC Invalid Request error naming it; nothing is run", () =>
    withUrl((_client, url) =>
      Effect.gen(function* () {
        const ping = { jsonrpc: "2.0", id: 1, method: "ping" }
        for (const body of [[ping, { ...ping, id: 2 }], [], "x"]) {
          const reply = yield* post(url, JSON.stringify(body))
          expect(reply.status).toBe(400)
          expect(reply.headers["content-type"]).toMatch(/^application\/json/)
          expect(reply.json).toMatchObject({ jsonrpc: "2.0", id: null, error: { code: -32600 } })
        }
        const batch = yield* post(url, JSON.stringify([ping]))
        expect(batch.json.error.message).toContain("batches are not supported")
        // one message per POST is answered as before
        expect((yield* post(url, JSON.stringify(ping))).json).toMatchObject({ id: 1, result: {} })
      })
    )
  )

  it.live("required texts refuse '' by their schema; find_lead's email description names no leadKey", () =>
    withUrl((client) =>
      Effect.gen(function* () {
        const { tools } = yield* Effect.promise(() => client.listTools())
        const byName = new Map(tools.map((tool) => [tool.name, tool]))
        const property = (tool: string, field: string) =>
          ((byName.get(tool)?.inputSchema.properties ?? {}) as Record<string, Record<string, unknown>>)[field]
        expect(String(property("find_lead", "email")?.description)).not.toContain("leadKey")
        for (const [tool, field] of [
          ["create_opportunity", "name"],
          ["create_opportunity", "stage"],
          ["update_opportunity_stage", "stage"],
          ["create_task", "subject"],
          ["log_activity", "subject"],
          ["convert_lead", "convertedStatus"],
          ["upsert_lead", "campaignId"],
          ["upsert_lead", "email"],
          ["find_lead", "email"]
        ] as const) {
          expect(property(tool, field), `${tool}.${field}`).toMatchObject({ type: "string", minLength: 1 })
        }
        const empty = yield* call(client, "update_opportunity_stage", {
          leadKey: "a".repeat(64),
          email: "ada@example.com",
          opportunityId: "006000000000001",
          stage: ""
        })
        expect(empty.structuredContent).toMatchObject({ error: "GuardBlocked", rule: "invalid-params" })
        expect(empty.content[0].text).toContain("stage")
      })
    )
  )
})
