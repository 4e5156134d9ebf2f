import { describe, expect, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as Ref from "effect/Ref"
import * as MemoryLeadStore from "../../layers/memory/LeadStore.js"
import { LeadStore } from "../../services/LeadStore.js"
import { HttpServerLive } from "../../src/http/serverLive.js"
import { memoryEnv, sampleLead } from "../support/env.js"
import { expectProblem, send, withApi } from "./harness.js"

describe("ops endpoints", () => {
  it.live("/healthz and /readyz are 200 with their checks", () =>
    withApi(memoryEnv(), (api) =>
      Effect.gen(function* () {
        const health = yield* api.get("/healthz")
        expect(health.status).toBe(200)
        expect(health.json).toEqual({ status: "ok" })
        const ready = yield* api.get("/readyz")
        expect(ready.status).toBe(200)
        expect(ready.json).toEqual({ status: "ready", checks: { store: "ok", queue: "ok" } })
      })
    )
  )

  it.live("/metrics counts ingested leads by source and outcome", () =>
    withApi(memoryEnv(), (api) =>
      Effect.gen(function* () {
        const body = sampleLead()
        expect((yield* api.postJson("/leads", body)).status).toBe(202)
        expect((yield* api.postJson("/leads", body)).status).toBe(200)
        expect((yield* api.postJson("/leads", { email: "nope" })).status).toBe(400)
        const metrics = yield* api.get("/metrics")
        expect(metrics.status).toBe(200)
        expect(metrics.headers["content-type"]).toMatch(/^text\/plain/)
        expect(metrics.text).toContain("# TYPE revenueflow_leads_ingested_total counter")
        expect(metrics.text).toMatch(/^revenueflow_leads_ingested_total\{source="api",outcome="accepted"\} 1$/m)
        expect(metrics.text).toMatch(/^revenueflow_leads_ingested_total\{source="api",outcome="duplicate"\} 1$/m)
        expect(metrics.text).toMatch(/^revenueflow_leads_ingested_total\{source="api",outcome="invalid"\} 1$/m)
      })
    )
  )

  it.live("/openapi.json is an OpenAPI document listing the lead and webhook routes; /docs is HTML", () =>
    withApi(memoryEnv(), (api) =>
      Effect.gen(function* () {
        const spec = yield* api.get("/openapi.json")
        expect(spec.status).toBe(200)
        expect(spec.json.openapi).toMatch(/^3\./)
        expect(spec.json.info.title).toBe("RevenueFlow ingest")
        expect(Object.keys(spec.json.paths)).toEqual(
          expect.arrayContaining(["/leads", "/leads/{id}", "/webhooks/marketo", "/webhooks/hubspot", "/healthz"])
        )
        expect(Object.keys(spec.json.paths["/leads"].post.responses)).toEqual(
          expect.arrayContaining(["202", "400", "401", "413", "415", "503"])
        )
        const docs = yield* api.get("/docs")
        expect(docs.status).toBe(200)
        expect(docs.headers["content-type"]).toMatch(/^text\/html/)
        expect(docs.text).toMatch(/<html/i)
      })
    )
  )

  it.live("HttpServerLive serves on PORT / HOST from AppConfig (port 0 picks a free one)", () =>
    Effect.gen(function* () {
      const lines = yield* Ref.make<ReadonlyArray<string>>([])
      const capture = Logger.replace(
        Logger.defaultLogger,
        Logger.make(({ message }) => Ref.update(lines, (all) => [...all, String(message)]).pipe(Effect.runSync))
      )
      yield* Layer.build(HttpServerLive.pipe(Layer.provide(Layer.merge(memoryEnv(), capture))))
      const listening = (yield* Ref.get(lines)).find((line) => line.includes("Listening on"))
      const base = listening?.match(/http:\/\/127\.0\.0\.1:(\d+)/)?.[0]
      expect(base, String(listening)).toBeDefined()
      expect(base).not.toMatch(/:0$/)
      const health = yield* send(base as string, "GET", "/healthz")
      expect(health.status).toBe(200)
      expectProblem(yield* send(base as string, "GET", "/no-such-route"), 404)
    }).pipe(Effect.scoped)
  )

  describe("the checks /readyz and /metrics run are shared", () => {
    /** The memory store, counting the readiness reads (each held 100 ms, as a busy pool would). */
    const counted = () => {
      let reads = 0
      const layer = Layer.effectContext(
        Effect.map(MemoryLeadStore.make, (inner) =>
          Context.make(
            LeadStore,
            LeadStore.of({
              ...inner,
              listByStatus: (options) =>
                Effect.suspend(() => {
                  reads += 1
                  return Effect.zipRight(Effect.sleep("100 millis"), inner.listByStatus(options))
                })
            })
          )
        )
      )
      return { layer, reads: () => reads }
    }

    it.live("concurrent requests share one check in flight, and its outcome answers for a second after it", () => {
      const store = counted()
      return withApi(Layer.merge(memoryEnv(), store.layer), (api) =>
        Effect.gen(function* () {
          const replies = yield* Effect.all(
            Array.from({ length: 30 }, (_, i) => api.get(i % 2 === 0 ? "/metrics" : "/readyz")),
            { concurrency: "unbounded" }
          )
          expect(replies.map((reply) => reply.status)).toEqual(replies.map(() => 200))
          expect(store.reads()).toBe(1)
          // within the second after it: the same outcome, no new read
          expect((yield* api.get("/readyz")).json).toEqual({ status: "ready", checks: { store: "ok", queue: "ok" } })
          expect(store.reads()).toBe(1)
          yield* Effect.sleep("1100 millis")
          expect((yield* api.get("/metrics")).status).toBe(200)
          expect(store.reads()).toBe(2)
        })
      )
    })
  })
})
