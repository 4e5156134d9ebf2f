import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { CheckHostHeader } from "../../src/http/intakeHandlers.js"
import { memoryEnv, sampleLead } from "../support/env.js"
import { expectProblem, servings, storedLeads, withApi } from "./harness.js"

/** What a page on a name the attacker re-pointed at 127.0.0.1 sends (DNS rebinding). */
const rebound = { host: "rebind.attacker.example:3918" }

describe("DNS rebinding with no INGEST_API_KEYS (the ingest's own server: npm start, the programs)", () => {
  const served = servings[0][1]
  it.live("the routes the keys would guard are 403 for a Host that is a foreign DNS name, naming the setting", () =>
    withApi(
      memoryEnv(),
      (api) =>
        Effect.gen(function* () {
          const id = crypto.randomUUID()
          for (const path of ["/leads", `/leads/${id}`, `/leads/${id}/audit`, "/dead-letters", "/ops/state"]) {
            const reply = yield* api.get(path, rebound)
            expectProblem(reply, 403)
            expect(reply.json.detail).toContain("rebind.attacker.example")
            expect(reply.json.detail).toContain("INGEST_ALLOWED_HOSTS")
          }
          expectProblem(yield* api.send("POST", `/leads/${id}/replay`, { headers: rebound }), 403)
          const posted = yield* api.postJson("/leads", sampleLead(), rebound)
          expectProblem(posted, 403)
          expect(yield* storedLeads).toBe(0)
        }),
      served
    )
  )

  it.live("localhost, IP literals and a request without a name pass; public routes answer any Host", () =>
    withApi(
      memoryEnv(),
      (api) =>
        Effect.gen(function* () {
          for (const host of ["localhost:3000", "LOCALHOST", "127.0.0.1:3918", "[::1]:3000", "10.0.0.7"]) {
            const reply = yield* api.get("/leads", { host })
            expect(reply.status, `${host}: ${reply.text}`).toBe(200)
          }
          expect((yield* api.postJson("/leads", sampleLead(), { host: "localhost" })).status).toBe(202)
          for (const path of ["/healthz", "/readyz", "/metrics", "/openapi.json"]) {
            expect((yield* api.get(path, { host: "ingest:8080" })).status, path).toBe(200)
          }
        }),
      served
    )
  )

  it.live("another site's page is refused (a form posting a replay); the console's own origin and curl pass", () =>
    withApi(
      memoryEnv(),
      (api) =>
        Effect.gen(function* () {
          const id = crypto.randomUUID()
          const host = { host: "localhost:3000" }
          for (const foreign of [
            { origin: "https://evil.example" },
            { origin: "null" },
            { origin: "http://localhost:3001" },
            { "sec-fetch-site": "cross-site" }
          ]) {
            const replay = yield* api.send("POST", `/leads/${id}/replay`, { headers: { ...host, ...foreign } })
            expectProblem(replay, 403)
            expect(replay.json.detail).toContain("another site's page")
            expectProblem(yield* api.get("/ops/state", { ...host, ...foreign }), 403)
            // a form posting a lead from the visitor's browser: the same 403, before the body is read
            const posted = yield* api.postJson("/leads", sampleLead(), { ...host, ...foreign })
            expectProblem(posted, 403)
            expect(posted.json.detail).toContain("another site's page")
            expect(posted.headers.connection).toBe("close")
          }
          expect(yield* storedLeads).toBe(0)
          // the console's own page, and a client that is no page: the route answers (no such lead)
          for (const own of [{ origin: "http://localhost:3000", "sec-fetch-site": "same-origin" }, {}]) {
            const replay = yield* api.send("POST", `/leads/${id}/replay`, { headers: { ...host, ...own } })
            expect(replay.status, replay.text).toBe(404)
            const posted = yield* api.postJson("/leads", sampleLead(), { ...host, ...own })
            expect(posted.status, posted.text).toBe(202)
          }
        }),
      served
    )
  )

  it.live("a host INGEST_ALLOWED_HOSTS lists passes (any case, any port)", () =>
    withApi(
      memoryEnv({ env: { INGEST_ALLOWED_HOSTS: "ingest.internal, console.example.com" } }),
      (api) =>
        Effect.gen(function* () {
          // and a page on it, behind a proxy that sends its own Host
          const proxied = { host: "127.0.0.1:3000", origin: "https://console.example.com" }
          expect((yield* api.get("/ops/state", proxied)).status).toBe(200)
          expectProblem(yield* api.get("/ops/state", { ...proxied, origin: "https://evil.example" }), 403)
          expect((yield* api.get("/leads", { host: "ingest.internal:3000" })).status).toBe(200)
          expect((yield* api.get("/ops/state", { host: "Console.Example.com" })).status).toBe(200)
          expect((yield* api.postJson("/leads", sampleLead(), { host: "ingest.internal" })).status).toBe(202)
          expect((yield* api.postJson("/leads", sampleLead(), proxied)).status).toBe(202)
          expectProblem(
            yield* api.postJson("/leads", sampleLead(), { ...proxied, origin: "https://evil.example" }),
            403
          )
          expectProblem(yield* api.get("/leads", { host: "other.internal" }), 403)
        }),
      served
    )
  )

  it.live("a page whose Origin is on a host INGEST_ALLOWED_HOSTS lists passes though its browser says cross-site", () =>
    withApi(
      memoryEnv({ env: { INGEST_ALLOWED_HOSTS: "shop.example.com" } }),
      (api) =>
        Effect.gen(function* () {
          const id = crypto.randomUUID()
          const host = { host: "localhost:3000" }
          // the operator listed the site: its page (another site than the ingest's, for the browser) is vouched for
          const listed = { ...host, origin: "https://Shop.Example.com:8443", "sec-fetch-site": "cross-site" }
          expect((yield* api.get("/ops/state", listed)).status).toBe(200)
          const replay = yield* api.send("POST", `/leads/${id}/replay`, { headers: listed })
          expect(replay.status, replay.text).toBe(404)
          const posted = yield* api.postJson("/leads", sampleLead(), listed)
          expect(posted.status, posted.text).toBe(202)
          // cross-site with no Origin, or with one on a host not listed (nor its own): still refused, and the detail
          // says which pages pass (an Origin on a listed host), not just "list the host"
          for (const foreign of [
            { "sec-fetch-site": "cross-site" },
            { origin: "https://evil.example", "sec-fetch-site": "cross-site" },
            { origin: "http://localhost:3000", "sec-fetch-site": "cross-site" },
            { origin: "https://shop.example.com.evil.example", "sec-fetch-site": "cross-site" }
          ]) {
            const headers = { ...host, ...foreign }
            expectProblem(yield* api.get("/ops/state", headers), 403)
            const refused = yield* api.postJson("/leads", sampleLead(), headers)
            expectProblem(refused, 403)
            expect(refused.json.detail).toContain("pages whose Origin header names a host INGEST_ALLOWED_HOSTS lists")
          }
          expect(yield* storedLeads).toBe(1)
        }),
      served
    )
  )

  it.live("with API keys set the Host is not checked: the key decides", () =>
    withApi(
      memoryEnv({ env: { INGEST_API_KEYS: "k-rebind" } }),
      (api) =>
        Effect.gen(function* () {
          expect((yield* api.get("/leads", { ...rebound, "x-api-key": "k-rebind" })).status).toBe(200)
          expectProblem(yield* api.get("/leads", rebound), 401)
        }),
      served
    )
  )
})

describe("the HttpApi served elsewhere (an embedding, the Lambda handlers behind API Gateway)", () => {
  const served = servings[1][1]

  it.live("checks the Host only where CheckHostHeader is on", () =>
    Effect.gen(function* () {
      yield* withApi(
        memoryEnv(),
        (api) =>
          Effect.gen(function* () {
            expect((yield* api.get("/leads", rebound)).status).toBe(200)
            expect((yield* api.postJson("/leads", sampleLead(), rebound)).status).toBe(202)
            // nor the page a request came from (API Gateway's public API: any site may post)
            const crossSite = { origin: "https://evil.example", "sec-fetch-site": "cross-site" }
            expect((yield* api.postJson("/leads", sampleLead(), crossSite)).status).toBe(202)
          }),
        served
      )
      yield* withApi(
        Layer.merge(memoryEnv(), Layer.succeed(CheckHostHeader, true)),
        (api) =>
          Effect.gen(function* () {
            expectProblem(yield* api.get("/leads", rebound), 403)
            expectProblem(yield* api.postJson("/leads", sampleLead(), rebound), 403)
            expect((yield* api.get("/leads", { host: "localhost" })).status).toBe(200)
            const crossSite = { host: "localhost", "sec-fetch-site": "cross-site" }
            expectProblem(yield* api.postJson("/leads", sampleLead(), crossSite), 403)
            expect((yield* api.postJson("/leads", sampleLead(), { host: "localhost" })).status).toBe(202)
          }),
        served
      )
    })
  )
})
