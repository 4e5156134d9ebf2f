import type * as HttpServer from "@effect/platform/HttpServer"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import * as IngestServer from "../../src/http/intake.js"
import * as McpEndpoint from "../../src/mcp/endpoint.js"
import { type Reply, send } from "../http/harness.js"
import { memoryEnv } from "../support/env.js"
import { baseUrl, ingestWithMcp } from "./httpClient.js"

/** Every answer on the ingest's own server is uncached and unsniffed, /mcp's as the routes' (README). */

const apiKey = "mcp-headers-key-9b1e"
const allowedOrigin = "https://inspector.example.com"
const rpc = { "content-type": "application/json", accept: "application/json, text/event-stream" }
const keyed = { ...rpc, authorization: `Bearer ${apiKey}` }
const ping = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "ping" })

const expectUnsniffedUncached = (reply: Reply, what: string) => {
  expect(reply.headers["cache-control"], `${what}: ${reply.status} ${reply.text}`).toBe("no-store")
  expect(reply.headers["x-content-type-options"], what).toBe("nosniff")
}

const withUrl = (
  served: Layer.Layer<HttpServer.HttpServer, unknown>,
  body: (url: string) => Effect.Effect<void, Error, Scope.Scope>
) => Effect.flatMap(baseUrl, body).pipe(Effect.provide(served), Effect.scoped)

describe("/mcp's answers carry Cache-Control: no-store and X-Content-Type-Options: nosniff", () => {
  const env = memoryEnv({ env: { INGEST_API_KEYS: apiKey, MCP_ALLOWED_ORIGINS: allowedOrigin } })

  it.live(
    "its refusals (a foreign Origin quoted back, a wrong method, no key), its JSON-RPC errors and the SDK's own",
    () =>
      withUrl(ingestWithMcp.pipe(Layer.provideMerge(env)), (url) =>
        Effect.gen(function* () {
          const foreign = yield* send(url, "POST", "/mcp", {
            headers: { ...keyed, origin: "http://<script>.evil.example" },
            body: ping
          })
          expect(foreign.status).toBe(403)
          expectUnsniffedUncached(foreign, "foreign Origin")
          for (const method of ["GET", "DELETE"]) {
            const wrong = yield* send(url, method, "/mcp", { headers: { authorization: `Bearer ${apiKey}` } })
            expect(wrong.status).toBe(405)
            expectUnsniffedUncached(wrong, method)
          }
          const unkeyed = yield* send(url, "POST", "/mcp", { headers: rpc, body: ping })
          expect(unkeyed.status).toBe(401)
          expectUnsniffedUncached(unkeyed, "no key")
          const notJson = yield* send(url, "POST", "/mcp", { headers: keyed, body: "{not json" })
          expect(notJson.status).toBe(400)
          expectUnsniffedUncached(notJson, "-32700")
          // the transport's own answer (the SDK writes it)
          const answered = yield* send(url, "POST", "/mcp", {
            headers: { ...keyed, origin: allowedOrigin },
            body: ping
          })
          expect(answered.status).toBe(200)
          expect(answered.json).toMatchObject({ jsonrpc: "2.0", id: 1, result: {} })
          expectUnsniffedUncached(answered, "ping")
          const notification = yield* send(url, "POST", "/mcp", {
            headers: keyed,
            body: JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" })
          })
          expect(notification.status).toBe(202)
          expectUnsniffedUncached(notification, "notification")
        })
      )
  )

  it.live("its 503 when the MCP endpoint could not load", () => {
    const broken = McpEndpoint.layerDeferred(() => Promise.resolve(Layer.fail(new Error("no CRM for this test"))))
    const served = IngestServer.layer({ port: 0, host: "127.0.0.1" }).pipe(
      Layer.provide(broken),
      Layer.provideMerge(env)
    )
    return withUrl(served, (url) =>
      Effect.gen(function* () {
        const reply = yield* send(url, "POST", "/mcp", { headers: keyed, body: ping })
        expect(reply.status, reply.text).toBe(503)
        expectUnsniffedUncached(reply, "unavailable")
      })
    )
  })
})
