import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schedule from "effect/Schedule"
import * as MemoryAuditLog from "../../layers/memory/AuditLog.js"
import * as MemoryQueue from "../../layers/memory/JobQueue.js"
import * as MemoryLeadStore from "../../layers/memory/LeadStore.js"
import * as Metrics from "../../layers/observability/Metrics.js"
import * as RedisBreaker from "../../layers/redis/CircuitBreaker.js"
import { configFrom, liveClock, queueOptions, testEnv } from "../../layers/testing/memory.js"
import { layerRedisTest } from "../../layers/testing/redis.js"
import { testPrefix, testRedisUrl } from "../../layers/testing/servers.js"
import { RedisClient } from "../../layers/shared/RedisClient.js"
import { CircuitBreaker } from "../../services/CircuitBreaker.js"
import { LeadStore } from "../../services/LeadStore.js"
import { memoryEnv, sampleLead } from "../support/env.js"
import { errorText } from "../../src/domain/redact.js"
import { expectProblem, withApi } from "./harness.js"
import { remoteAnalyzer, remoteEnricher } from "../support/remoteStandIns.js"

const key = { "x-api-key": "k-console-1" }

/**
 * What the ingest program runs on: the stores, the queue, metrics and config, and no CRM or circuit breaker (those are
 * the consumer's).
 */
const ingestEnv = (env: Record<string, string> = {}) => {
  const all = { ...testEnv, ...env }
  return Layer.mergeAll(
    MemoryLeadStore.layer,
    MemoryAuditLog.layer,
    MemoryQueue.layer(queueOptions(all)),
    Metrics.layerTest,
    configFrom(all)
  ).pipe(Layer.provideMerge(liveClock))
}
const keyed = () => memoryEnv({ env: { INGEST_API_KEYS: "k-console-1" } })

describe("the console's routes", () => {
  it.live("are behind INGEST_API_KEYS when keys are set: 401 problem without a key, 200 with one", () =>
    withApi(keyed(), (api) =>
      Effect.gen(function* () {
        const posted = yield* api.postJson("/leads", sampleLead(), key)
        const id = posted.json.id
        for (const path of ["/leads", `/leads/${id}/audit`, "/dead-letters", "/ops/state"]) {
          expectProblem(yield* api.get(path), 401)
          expect((yield* api.get(path, { "x-api-key": "wrong" })).status).toBe(401)
          expect((yield* api.get(path, key)).status, path).toBe(200)
        }
        expectProblem(yield* api.send("POST", `/leads/${id}/replay`), 401)
        // the pages themselves hold no data: they load, and ask for a key when the routes answer 401
        expect((yield* api.get("/console")).status).toBe(200)
      })
    )
  )

  it.live("the pages say what a browser may do: no framing by another site, scripts from this server only", () =>
    withApi(memoryEnv(), (api) =>
      Effect.gen(function* () {
        for (const path of ["/console", "/docs"]) {
          const page = yield* api.get(path)
          expect(page.status, path).toBe(200)
          expect(page.headers["content-type"], path).toBe("text/html; charset=utf-8")
          expect(page.headers["x-content-type-options"], path).toBe("nosniff")
          expect(page.headers["x-frame-options"], path).toBe("DENY")
          const policy = String(page.headers["content-security-policy"])
          expect(policy, path).toContain("frame-ancestors 'none'")
          expect(policy, path).toMatch(/script-src 'self'( 'sha256-[A-Za-z0-9+/=]+')?;/)
          expect(policy, path).not.toMatch(/script-src[^;]*unsafe-inline/)
        }
      })
    )
  )

  it.live(
    "the console's page and files are checked with the server on every load (no-cache + ETag, 304 while unchanged), so a browser never runs a page of one release with the script of another",
    () =>
      withApi(memoryEnv(), (api) =>
        Effect.gen(function* () {
          for (const path of [
            "/console",
            "/console/console.js",
            "/console/console.css",
            "/docs/assets/swagger-ui-bundle.js",
            "/docs/assets/swagger-ui.css"
          ]) {
            const first = yield* api.get(path)
            expect(first.status, path).toBe(200)
            expect(first.headers["cache-control"], path).toBe("no-cache")
            const etag = String(first.headers.etag)
            expect(etag, path).toMatch(/^"[A-Za-z0-9_-]+"$/)
            // the browser's revalidation: unchanged, no body; another release's tag (or none), the file itself
            const unchanged = yield* api.get(path, { "if-none-match": etag })
            expect(unchanged.status, path).toBe(304)
            expect(unchanged.text, path).toBe("")
            expect(unchanged.headers.etag, path).toBe(etag)
            expect((yield* api.get(path, { "if-none-match": `W/${etag}` })).status, path).toBe(304)
            const older = yield* api.get(path, { "if-none-match": '"an-earlier-release"' })
            expect(older.status, path).toBe(200)
            expect(older.text, path).toBe(first.text)
          }
          // the console's page keeps its policy on a 304 as on a 200
          const page = yield* api.get("/console")
          const revalidated = yield* api.get("/console", { "if-none-match": String(page.headers.etag) })
          expect(revalidated.headers["content-security-policy"]).toBe(page.headers["content-security-policy"])
          expect(revalidated.headers["x-frame-options"]).toBe("DENY")
        })
      )
  )

  it.live("GET /leads and /leads/:id/audit mask PII (email to its domain, names and phone)", () =>
    withApi(memoryEnv(), (api) =>
      Effect.gen(function* () {
        const lead = sampleLead({ email: "ada.lovelace@globex.com", phone: "+44 20 7946 0958", company: "Globex" })
        const id = (yield* api.postJson("/leads", lead)).json.id
        const list = yield* api.get("/leads?limit=10")
        expect(list.json.leads).toEqual([
          expect.objectContaining({ id, email: "***@globex.com", company: "Globex", campaignId: "spring-launch" })
        ])
        const audit = yield* api.get(`/leads/${id}/audit`)
        expect(audit.status).toBe(200)
        expect(audit.json.input).toMatchObject({ email: "***@globex.com", firstName: "***", lastName: "***" })
        for (const secret of ["ada.lovelace", "Lovelace", "7946"]) expect(audit.text).not.toContain(secret)
        // a bad limit, whichever way it is bad, is named with what it must be
        for (const limit of [
          "0",
          "abc",
          "1.5",
          "1e8",
          "-1",
          "0x10",
          "1e1",
          "%2B5",
          "1.0",
          "%201",
          "5%20",
          "0000",
          "501"
        ]) {
          const refused = yield* api.get(`/leads?limit=${limit}`)
          expectProblem(refused, 400)
          expect(refused.json.errors, limit).toEqual([
            { field: "limit", message: "must be a whole number from 1 to 500" }
          ])
          expect(refused.json.detail).toBe(
            "The request could not be decoded: limit: must be a whole number from 1 to 500"
          )
        }
        expectProblem(yield* api.get("/leads/not-a-uuid/audit"), 404)
        // a parameter the lists do not take is named, not silently ignored (a filter that seemed to apply)
        for (const path of ["/leads?cursor=abc", "/dead-letters?limit=5&status=FAILED", "/ops/state?status=FAILED"]) {
          const unknown = yield* api.get(path)
          expectProblem(unknown, 400)
          expect(unknown.json.detail, path).toMatch(/(status|cursor): is unexpected/)
        }
      })
    )
  )

  it.live("GET /leads filters by status and pages with next / after, each lead once, newest first", () =>
    withApi(memoryEnv(), (api) =>
      Effect.gen(function* () {
        const store = yield* LeadStore
        const ids: Array<string> = []
        for (let i = 0; i < 7; i++) {
          ids.push((yield* api.postJson("/leads", sampleLead({ email: `p${i}@globex.com` }))).json.id)
          yield* Effect.sleep("2 millis")
        }
        for (const id of [ids[1]!, ids[3]!, ids[5]!]) {
          yield* store.transition(id, ["QUEUED"], "FAILED", { error: errorText("CRM rejected the request") })
          yield* Effect.sleep("2 millis")
        }
        const pages = (query: string) =>
          Effect.gen(function* () {
            const seen: Array<Array<string>> = []
            let answer = yield* api.get(`/leads?${query}`)
            for (;;) {
              expect(answer.status, answer.text).toBe(200)
              seen.push(answer.json.leads.map((l: { id: string }) => l.id))
              if (answer.json.next === undefined) return seen
              expect(answer.json.next).toMatch(/^[0-9]+\.[0-9a-f-]{36}$/)
              answer = yield* api.get(`/leads?${query}&after=${encodeURIComponent(answer.json.next)}`)
            }
          })
        // the three FAILED were updated last, newest first; then the others, newest first
        const newestFirst = [ids[5]!, ids[3]!, ids[1]!, ids[6]!, ids[4]!, ids[2]!, ids[0]!]
        expect(yield* pages("limit=3")).toEqual([
          newestFirst.slice(0, 3),
          newestFirst.slice(3, 6),
          newestFirst.slice(6)
        ])
        expect(yield* pages("limit=2&status=FAILED")).toEqual([[ids[5], ids[3]], [ids[1]]])
        expect(yield* pages("limit=50&status=QUEUED,FAILED")).toEqual([newestFirst])
        expect(yield* pages("status=SYNCED")).toEqual([[]])
        for (const [query, field, message] of [
          [
            "status=failed,SYNCED",
            "status",
            "must be one or more of RECEIVED, QUEUED, PROCESSING, SYNCED, REJECTED, FAILED, comma-separated"
          ],
          [
            "status=",
            "status",
            "must be one or more of RECEIVED, QUEUED, PROCESSING, SYNCED, REJECTED, FAILED, comma-separated"
          ],
          ["after=12.not-a-lead", "after", "must be the `next` of an earlier page of GET /leads"]
        ] as const) {
          const refused = yield* api.get(`/leads?${query}`)
          expectProblem(refused, 400)
          expect(refused.json.errors, query).toEqual([{ field, message }])
        }
      })
    )
  )

  it.live("an email or phone number written into a campaign or company is masked in the lists too", () =>
    withApi(memoryEnv(), (api) =>
      Effect.gen(function* () {
        const lead = sampleLead({
          email: "jane.doe@gmail.com",
          campaignId: "jane.doe@gmail.com +1 415 555 0100",
          company: "Jane Doe jane.doe@gmail.com +1 415 555 0100"
        })
        const id = (yield* api.postJson("/leads", lead)).json.id
        const list = yield* api.get("/leads?limit=1")
        expect(list.json.leads[0]).toMatchObject({ id, campaignId: "***@gmail.com [phone]" })
        expect(list.json.leads[0].company).toContain("***@gmail.com [phone]")
        const store = yield* LeadStore
        yield* store.transition(id, ["QUEUED"], "FAILED", { error: errorText("CRM rejected the request") })
        const dead = yield* api.get("/dead-letters")
        expect(dead.json.deadLetters[0]).toMatchObject({ id, campaignId: "***@gmail.com [phone]" })
        for (const text of [list.text, dead.text]) {
          expect(text).not.toContain("jane.doe")
          expect(text).not.toContain("555 0100")
        }
      })
    )
  )

  it.live("POST /leads/:id/replay: 202 and QUEUED for a FAILED lead, 409 for any other, 404 for no lead", () =>
    withApi(memoryEnv(), (api) =>
      Effect.gen(function* () {
        const id = (yield* api.postJson("/leads", sampleLead())).json.id
        const notFailed = yield* api.send("POST", `/leads/${id}/replay`)
        expectProblem(notFailed, 409)
        expect(notFailed.json.detail).toContain("QUEUED")
        const store = yield* LeadStore
        yield* store.transition(id, ["QUEUED"], "FAILED", { error: errorText("CRM rejected the request") })
        const dead = yield* api.get("/dead-letters")
        expect(dead.json.deadLetters).toEqual([expect.objectContaining({ id, error: "CRM rejected the request" })])
        const replayed = yield* api.send("POST", `/leads/${id}/replay`)
        expect(replayed.status).toBe(202)
        expect(replayed.json).toEqual({ leadId: id, status: "QUEUED" })
        expect((yield* store.get(id)).status).toBe("QUEUED")
        expect((yield* api.get("/dead-letters")).json.deadLetters).toEqual([])
        expectProblem(yield* api.send("POST", "/leads/0b9f8a52-3c1e-4c57-9d7b-2f8e6d1a4c30/replay"), 404)
      })
    )
  )

  it.live("GET /ops/state reports backends, queue counts, leads per status, breakers and rate-limit tiers", () =>
    withApi(memoryEnv(), (api) =>
      Effect.gen(function* () {
        yield* api.postJson("/leads", sampleLead())
        const state = (yield* api.get("/ops/state")).json
        expect(state.backends.queue).toContain("in-memory")
        expect(state.queue).toMatchObject({ waiting: 1 })
        expect(state.leads).toMatchObject({ QUEUED: 1, SYNCED: 0 })
        expect(state.leadsCountedUpTo).toBe(10_000)
        expect(state.breakers).toEqual([{ name: "mock", state: "closed" }])
        expect(state.breakerSource).toBe("process")
        expect(state.rateLimits.map((t: { tier: string }) => t.tier)).toEqual(["lead", "account", "crm"])
      })
    )
  )

  it.live(
    "GET /ops/state reports every breaker this process runs: the CRM's, the remote enrichment provider's and Bedrock's",
    () =>
      withApi(
        Layer.merge(memoryEnv({ breaker: { consecutiveFailures: 1 } }), Layer.merge(remoteEnricher, remoteAnalyzer)),
        (api) =>
          Effect.gen(function* () {
            const breaker = yield* CircuitBreaker
            yield* Effect.ignore(breaker.protect("bedrock", Effect.fail("Bedrock 503")))
            const state = (yield* api.get("/ops/state")).json
            expect(state.breakers).toEqual([
              { name: "mock", state: "closed" },
              { name: "enrichment", state: "closed" },
              { name: "bedrock", state: "open" }
            ])
            expect(state.breakerSource).toBe("process")
          })
      )
  )

  it.live("on an ingest with one breaker per consumer (CIRCUIT_BREAKER=MEMORY), /ops/state says it cannot see it", () =>
    withApi(ingestEnv({ CIRCUIT_BREAKER: "MEMORY" }), (api) =>
      Effect.gen(function* () {
        const state = (yield* api.get("/ops/state")).json
        expect(state.breakers).toEqual([])
        expect(state.breakerSource).toBe("consumer")
      })
    )
  )

  it.live(
    "on an ingest with the shared breaker (CIRCUIT_BREAKER=REDIS), /ops/state reads its state from Redis, writing nothing",
    () => {
      const prefix = testPrefix()
      const env = {
        CIRCUIT_BREAKER: "REDIS",
        REDIS_URL: testRedisUrl(),
        REDIS_KEY_PREFIX: prefix,
        CRM_PROVIDER: "MOCK"
      }
      // a consumer's breaker on the same Redis and prefix (its keys are deleted after the test)
      const consumerBreaker = Layer.effect(
        CircuitBreaker,
        RedisBreaker.make({ consecutiveFailures: 1, probeSchedule: Schedule.spaced("10 minutes") })
      ).pipe(Layer.provideMerge(layerRedisTest(prefix)))
      return withApi(ingestEnv(env), (api) =>
        Effect.gen(function* () {
          const before = (yield* api.get("/ops/state")).json
          expect(before.breakers).toEqual([{ name: "mock", state: "closed" }])
          expect(before.breakerSource).toBe("redis")
          // reading wrote nothing: a closed breaker is no key at all
          const redis = yield* RedisClient
          expect(yield* Effect.promise(() => redis.client.keys(`${prefix}:*`))).toEqual([])
          const breaker = yield* CircuitBreaker
          yield* Effect.ignore(breaker.protect("mock", Effect.fail("CRM down")))
          expect(yield* breaker.state("mock")).toBe("open")
          const after = (yield* api.get("/ops/state")).json
          expect(after.breakers).toEqual([{ name: "mock", state: "open" }])
          expect(after.breakerSource).toBe("redis")
        }).pipe(Effect.provide(consumerBreaker))
      )
    }
  )

  it.live(
    "on an ingest with the shared breaker, /ops/state reads Bedrock's (ANALYZER=BEDROCK) and the HTTP enrichment provider's (ENRICHMENT_PROVIDER=HTTP) too",
    () => {
      const prefix = testPrefix()
      const env = {
        CIRCUIT_BREAKER: "REDIS",
        REDIS_URL: testRedisUrl(),
        REDIS_KEY_PREFIX: prefix,
        CRM_PROVIDER: "MOCK",
        ANALYZER: "BEDROCK",
        ENRICHMENT_PROVIDER: "HTTP"
      }
      const consumerBreaker = Layer.effect(
        CircuitBreaker,
        RedisBreaker.make({ consecutiveFailures: 1, probeSchedule: Schedule.spaced("10 minutes") })
      ).pipe(Layer.provideMerge(layerRedisTest(prefix)))
      return withApi(ingestEnv(env), (api) =>
        Effect.gen(function* () {
          const breaker = yield* CircuitBreaker
          yield* Effect.ignore(breaker.protect("enrichment", Effect.fail("enrichment provider down")))
          const state = (yield* api.get("/ops/state")).json
          expect(state.breakers).toEqual([
            { name: "mock", state: "closed" },
            { name: "enrichment", state: "open" },
            { name: "bedrock", state: "closed" }
          ])
          expect(state.breakerSource).toBe("redis")
        }).pipe(Effect.provide(consumerBreaker))
      )
    }
  )

  it.live(
    "on an ingest with the shared breaker, a Redis that does not answer makes the breakers null, not closed",
    () =>
      withApi(ingestEnv({ CIRCUIT_BREAKER: "REDIS", REDIS_URL: "redis://127.0.0.1:1" }), (api) =>
        Effect.gen(function* () {
          const state = (yield* api.get("/ops/state")).json
          expect(state.breakers).toBeNull()
          expect(state.breakerSource).toBe("redis")
          expect(state.leads).not.toBeNull()
        })
      )
  )
})

describe("the console's lead view masks what it shows of the lead's own data", () => {
  it.live(
    "GET /leads/:id/audit masks the analysis, grounding reasons and audit rows with the lead's names, email, phone",
    () =>
      withApi(memoryEnv(), (api) =>
        Effect.gen(function* () {
          const lead = sampleLead({
            email: "grace.hopper@globex.com",
            firstName: "Grace",
            lastName: "Hopper",
            phone: "+1 415 555 0100",
            company: "Grace Hopper Consulting",
            utmTerm: "Grace Hopper"
          })
          const id = (yield* api.postJson("/leads", lead)).json.id
          const store = yield* LeadStore
          const analysis = {
            fitScore: 80,
            intent: "High Fit" as const,
            decision: "Route to SDR" as const,
            reasoning: "Grace Hopper (grace.hopper@globex.com, 4155550100) asked for a demo",
            evidence: [
              {
                source: "MARKETING",
                fieldPath: "email",
                value: "grace.hopper@globex.com",
                claimType: "BEHAVIOR" as const
              },
              { source: "MARKETING", fieldPath: "lastName", value: "Hopper", claimType: "BEHAVIOR" as const }
            ]
          }
          yield* store.saveAnalysis(id, analysis, {
            outcome: "REJECTED",
            reasons: ['evidence[0]: claimed "https://admin:pw@10.1.2.3:8443/crm" for Grace (415) 555.0100'],
            analysis
          })
          // imported here: this block is added at the end of the file, the imports above are another change's
          const { AuditLog: AuditLogTag } = yield* Effect.promise(() => import("../../services/AuditLog.js"))
          const audit = yield* Effect.flatMap(AuditLogTag, (log) =>
            log.record({
              leadId: id,
              actionKey: "k1",
              tool: "create_task",
              provider: "mock",
              params: { subject: "Call Grace back on 4155550100" },
              status: "SUCCEEDED",
              durationMs: 1
            })
          )
          expect(audit.leadId).toBe(id)
          const view = yield* api.get(`/leads/${id}/audit`)
          expect(view.status).toBe(200)
          for (const secret of ["Grace", "Hopper", "grace.hopper", "4155550100", "555.0100", ":pw@"]) {
            expect(view.text, secret).not.toContain(secret)
          }
          expect(view.json.analysis.evidence[0].value).toBe("***@globex.com")
          expect(view.json.grounding.reasons[0]).toContain("https://admin:***@10.1.2.3:8443/crm")
          expect(view.json.actions[0].params).toEqual({ subject: "Call *** back on [phone]" })
          const list = yield* api.get("/leads?limit=1")
          expect(list.json.leads[0]).toMatchObject({ id, company: "*** *** Consulting" })
        })
      )
  )
})
