import { describe, expect, it } from "@effect/vitest"
import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import { MockCrmControl } from "../../layers/mock/CrmExecutor.js"
import { CrmTransientError } from "../../services/CrmExecutor.js"
import { expectProblem, send, sendExpectingContinue } from "../http/harness.js"
import { backends, memoryEnv } from "../support/env.js"
import {
  behaviourEnv,
  call,
  type Harness,
  leadInputs,
  leadsNeeded,
  rejection,
  steps,
  storeLeads,
  upsertArgs
} from "./behaviour.js"
import { baseUrl, connect, ingestWithMcp } from "./httpClient.js"

const apiKey = "mcp-test-key-7f3a"

// biome-ignore lint/suspicious/noExplicitAny: tool results are asserted on field by field
type AnyResult = any

describe.each(backends)("MCP over Streamable HTTP at /mcp on the ingest (%s)", (_name, makeEnv) => {
  const allowedOrigin = "https://inspector.example.com"
  const env = () =>
    makeEnv({
      env: {
        ...behaviourEnv,
        INGEST_API_KEYS: `other-key,${apiKey}`,
        MCP_ALLOWED_ORIGINS: `${allowedOrigin.toUpperCase()}`
      }
    })
  const withHarness = (body: (harness: Harness, url: string) => Effect.Effect<void, unknown, Scope.Scope>) =>
    Effect.gen(function* () {
      const url = yield* baseUrl
      const run = Math.random().toString(36).slice(2, 10)
      const leads = yield* storeLeads(leadInputs(run, leadsNeeded))
      const client = yield* connect(url, apiKey)
      const control = yield* MockCrmControl
      const crmWrites = Effect.map(control.calls, (calls) => calls.length)
      yield* body({ client, leads, crmWrites }, url)
    }).pipe(Effect.provide(ingestWithMcp.pipe(Layer.provideMerge(env()))), Effect.scoped)

  for (const [name, step] of steps) {
    it.live(name, () => withHarness((harness) => step(harness)), 30_000)
  }

  it.live("an action an agent asked for says source mcp in GET /leads/:id and in its audit view", () =>
    withHarness((harness, url) =>
      Effect.gen(function* () {
        const lead = harness.leads[1]
        if (lead === undefined) throw new Error("no lead seeded")
        const done = yield* call(harness.client, "upsert_lead", upsertArgs(lead))
        expect(done.isError, JSON.stringify(done)).toBeFalsy()
        for (const path of [`/leads/${lead.id}`, `/leads/${lead.id}/audit`]) {
          const reply = yield* send(url, "GET", path, { headers: { authorization: `Bearer ${apiKey}` } })
          expect(reply.status, reply.text).toBe(200)
          expect(reply.json.actions).toEqual([expect.objectContaining({ tool: "upsert_lead", source: "mcp" })])
        }
      })
    )
  )

  it.live("without a valid API key: 401 problem+json with a Bearer challenge, and no MCP answer", () =>
    withHarness((_harness, url) =>
      Effect.gen(function* () {
        const initialize = JSON.stringify({
          jsonrpc: "2.0",
          id: 1,
          method: "initialize",
          params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "x", version: "1" } }
        })
        const headers = { "content-type": "application/json", accept: "application/json, text/event-stream" }
        for (const auth of [{}, { authorization: "Bearer wrong-key" }, { authorization: `Basic ${apiKey}` }]) {
          const reply = yield* send(url, "POST", "/mcp", { headers: { ...headers, ...auth }, body: initialize })
          expectProblem(reply, 401)
          expect(reply.headers["www-authenticate"]).toContain("Bearer")
        }
        const refused = yield* rejection(() =>
          new Client({ name: "x", version: "1" }).connect(
            new StreamableHTTPClientTransport(new URL("/mcp", url), {
              requestInit: { headers: { authorization: "Bearer wrong-key" } }
            })
          )
        )
        expect(String(refused)).toContain("401")
        const ok = yield* send(url, "POST", "/mcp", {
          headers: { ...headers, authorization: `Bearer ${apiKey}` },
          body: initialize
        })
        expect(ok.status).toBe(200)
        expect(ok.json.result.protocolVersion).toBe("2025-11-25")

        // a client that waits for 100 Continue: refused before it sends the body, or invited to and answered
        const careful = (auth: Record<string, string>) =>
          sendExpectingContinue(url, "POST", "/mcp", {
            headers: { ...headers, ...auth, connection: "keep-alive" },
            body: initialize
          })
        const early = yield* careful({ authorization: "Bearer wrong-key" })
        expectProblem(early, 401)
        expect([early.continued, early.headers.connection]).toEqual([false, "close"])
        const invited = yield* careful({ authorization: `Bearer ${apiKey}` })
        expect([invited.continued, invited.status]).toEqual([true, 200])
        expect(invited.json.result.protocolVersion).toBe("2025-11-25")
      })
    )
  )

  it.live(
    "a browser page of an origin MCP_ALLOWED_ORIGINS does not list is 403 (DNS rebinding); a listed one is served",
    () =>
      withHarness((_harness, url) =>
        Effect.gen(function* () {
          const headers = {
            "content-type": "application/json",
            accept: "application/json, text/event-stream",
            authorization: `Bearer ${apiKey}`
          }
          const ping = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "ping" })
          for (const origin of ["http://evil.example", "null", "https://inspector.example.com:8443"]) {
            const reply = yield* send(url, "POST", "/mcp", { headers: { ...headers, origin }, body: ping })
            expectProblem(reply, 403)
            expect(reply.json.detail).toContain("MCP_ALLOWED_ORIGINS")
          }
          const listed = yield* send(url, "POST", "/mcp", {
            headers: { ...headers, origin: allowedOrigin },
            body: ping
          })
          expect(listed.status).toBe(200)
          expect(listed.json).toMatchObject({ jsonrpc: "2.0", id: 1, result: {} })
        })
      )
  )

  it.live("GET and DELETE are 405 (stateless: no stream, no session); an oversized body is the ingest's 413", () =>
    withHarness((_harness, url) =>
      Effect.gen(function* () {
        const auth = { authorization: `Bearer ${apiKey}` }
        for (const method of ["GET", "DELETE"]) {
          const reply = yield* send(url, method, "/mcp", { headers: auth })
          expectProblem(reply, 405)
          expect(reply.headers.allow).toBe("POST")
        }
        const big = yield* send(url, "POST", "/mcp", {
          headers: { ...auth, "content-type": "application/json" },
          body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "ping", params: { pad: "x".repeat(70_000) } })
        })
        expectProblem(big, 413)
      })
    )
  )

  it.live(
    "a body that is no JSON text is -32700, JSON that is no JSON-RPC message -32600 (400, id null); text the store " +
      "cannot hold reaches the guard, which names the field, for raw HTTP and the official client alike",
    () =>
      withHarness((harness, url) =>
        Effect.gen(function* () {
          const headers = {
            "content-type": "application/json",
            accept: "application/json, text/event-stream",
            authorization: `Bearer ${apiKey}`
          }
          const rpcError = (body: string | Buffer) =>
            Effect.map(send(url, "POST", "/mcp", { headers, body }), (reply) => {
              expect(reply.status, reply.text).toBe(400)
              expect(reply.headers["content-type"]).toMatch(/^application\/json/)
              expect(reply.json.jsonrpc).toBe("2.0")
              expect(reply.json.id).toBeNull()
              return reply.json.error as { code: number; message: string }
            })
          for (const body of ["{not json", '{"jsonrpc":"2.0","id":1,', Buffer.from([0x7b, 0xff, 0xfe, 0x7d])]) {
            expect((yield* rpcError(body)).code, String(body)).toBe(-32700)
          }
          for (const body of [
            '{"id":1,"method":"ping"}',
            '{"jsonrpc":"1.0","id":1,"method":"ping"}',
            '{"jsonrpc":"2.0","id":{"a":1},"method":"ping"}',
            '{"jsonrpc":"2.0","id":1,"method":"ping","id":2}',
            "42"
          ]) {
            expect((yield* rpcError(body)).code, body).toBe(-32600)
          }
          expect((yield* rpcError('{"jsonrpc":"2.0","id":1,"method":"ping","id":2}')).message).toContain('"id" twice')

          const lead = harness.leads[0]
          if (lead === undefined) throw new Error("no lead seeded")
          const writesBefore = yield* harness.crmWrites
          const task = { leadKey: lead.leadKey, email: lead.email, subject: "Call back", priority: "Low" }
          // raw: the NUL as JSON writes it (\u0000), which the ingest's intake refuses with 400 problem+json
          const raw = yield* send(url, "POST", "/mcp", {
            headers,
            body: JSON.stringify({
              jsonrpc: "2.0",
              id: 9,
              method: "tools/call",
              params: { name: "create_task", arguments: { ...task, subject: "nul\u0000here" } }
            })
          })
          expect(raw.status, raw.text).toBe(200)
          expect(raw.json).toMatchObject({
            id: 9,
            result: { isError: true, structuredContent: { error: "GuardBlocked", rule: "invalid-params" } }
          })
          expect(raw.json.result.content[0].text).toContain("subject: must not contain NUL")
          // the official client gets a tool result, not a transport error
          const surrogate: AnyResult = yield* call(harness.client, "create_task", {
            ...task,
            description: "half \ud800 of a pair"
          })
          expect(surrogate.isError).toBe(true)
          expect(surrogate.structuredContent).toMatchObject({ error: "GuardBlocked", rule: "invalid-params" })
          expect(surrogate.content[0].text).toContain("description: must not contain NUL")
          expect(yield* harness.crmWrites).toBe(writesBefore)
          // both refusals are audited (BLOCKED), whatever the store: their rows hold the text the store can keep
          const trail: AnyResult = yield* call(harness.client, "get_audit_trail", { leadId: lead.id })
          expect(trail.isError, JSON.stringify(trail)).toBeFalsy()
          expect(
            trail.structuredContent.actions
              .filter((row: { tool: string }) => row.tool === "create_task")
              .map((row: { status: string }) => row.status)
          ).toEqual(["BLOCKED", "BLOCKED"])
        })
      )
  )
})

describe("MCP over Streamable HTTP: CRM failures (memory)", () => {
  const env = memoryEnv({
    env: { INGEST_API_KEYS: apiKey },
    breaker: { consecutiveFailures: 2, probeSchedule: Schedule.spaced("30 seconds") }
  })

  it.live(
    "a CRM outage is a tool error; once the breaker opens, CircuitOpen with the retry-after and no CRM call",
    () =>
      Effect.gen(function* () {
        const url = yield* baseUrl
        const [lead] = yield* storeLeads(leadInputs(Math.random().toString(36).slice(2, 10), 1))
        const client = yield* connect(url, apiKey)
        const control = yield* MockCrmControl
        const ref = { leadKey: lead?.leadKey, email: lead?.email }
        yield* control.failNext(new CrmTransientError({ provider: "mock", message: "503 Service Unavailable" }), 2)
        for (const status of ["Working", "Nurture"]) {
          const failed: AnyResult = yield* Effect.promise(() =>
            client.callTool({ name: "update_lead_status", arguments: { ...ref, status } })
          )
          expect(failed.isError).toBe(true)
          expect(failed.structuredContent).toMatchObject({ error: "CrmUnavailable" })
          expect(JSON.stringify(failed)).not.toContain("503 Service Unavailable")
        }
        const callsBefore = (yield* control.calls).length
        const open: AnyResult = yield* Effect.promise(() =>
          client.callTool({ name: "update_lead_status", arguments: { ...ref, status: "Unqualified" } })
        )
        expect(open.isError).toBe(true)
        expect(open.structuredContent).toMatchObject({ error: "CircuitOpen" })
        expect(open.structuredContent.retryAfterSeconds).toBeGreaterThanOrEqual(1)
        expect(open.structuredContent.retryAfterSeconds).toBeLessThanOrEqual(30)
        expect((yield* control.calls).length).toBe(callsBefore)
      }).pipe(Effect.provide(ingestWithMcp.pipe(Layer.provideMerge(env))), Effect.scoped)
  )
})

describe("MCP over Streamable HTTP: a client that goes away (memory)", () => {
  const env = memoryEnv({ env: { INGEST_API_KEYS: apiKey }, crmLatencyMs: 1_000 })

  it.live(
    "its call runs to its end, CRM write and audit row; the repeat answers with that result, writing nothing",
    () =>
      Effect.gen(function* () {
        const url = yield* baseUrl
        const [lead] = yield* storeLeads(leadInputs(Math.random().toString(36).slice(2, 10), 1))
        const control = yield* MockCrmControl
        const args = { leadKey: lead?.leadKey, email: lead?.email, status: "Working" }
        // connected first: /mcp has loaded, so the cut call below is at the CRM when its connection goes
        const client = yield* connect(url, apiKey)
        // a tools/call whose connection is cut 300 ms in, while the CRM (1 s) is still at it
        const abort = new AbortController()
        setTimeout(() => abort.abort(), 300)
        const cut = yield* Effect.promise(() =>
          fetch(`${url}/mcp`, {
            method: "POST",
            headers: {
              "content-type": "application/json",
              accept: "application/json, text/event-stream",
              authorization: `Bearer ${apiKey}`
            },
            body: JSON.stringify({
              jsonrpc: "2.0",
              id: 7,
              method: "tools/call",
              params: { name: "update_lead_status", arguments: args }
            }),
            signal: abort.signal
          }).then(
            () => "answered",
            () => "cut"
          )
        )
        expect(cut).toBe("cut")
        yield* Effect.sleep("1500 millis")
        expect((yield* control.applied).length).toBe(1)
        const again: AnyResult = yield* Effect.promise(() =>
          client.callTool({ name: "update_lead_status", arguments: args })
        )
        expect(again.structuredContent).toMatchObject({ tool: "update_lead_status", status: "SUCCEEDED" })
        expect((yield* control.applied).length).toBe(1)
        const trail: AnyResult = yield* Effect.promise(() =>
          client.callTool({ name: "get_audit_trail", arguments: { leadId: lead?.id } })
        )
        expect(trail.structuredContent.actions.map((row: { status: string }) => row.status)).toEqual(["SUCCEEDED"])
      }).pipe(Effect.provide(ingestWithMcp.pipe(Layer.provideMerge(env))), Effect.scoped)
  )
})
