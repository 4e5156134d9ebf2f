import { describe, expect, it } from "@effect/vitest"
import type { Client } from "@modelcontextprotocol/sdk/client/index.js"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import * as MemoryIdempotency from "../../layers/memory/Idempotency.js"
import * as MemoryLeadStore from "../../layers/memory/LeadStore.js"
import { MockCrmControl } from "../../layers/mock/CrmExecutor.js"
import { CrmTransientError } from "../../services/CrmExecutor.js"
import { Idempotency, IdempotencyUnavailable } from "../../services/Idempotency.js"
import { AuditLog } from "../../services/AuditLog.js"
import { LeadStore, STATUS_COUNT_UP_TO, StoreUnavailable } from "../../services/LeadStore.js"
import type { RecordedRequest } from "../fakes/crmFakeServer.js"
import { sampleAnalysis, sampleLead } from "../store/fixtures.js"
import { memoryEnv } from "../support/env.js"
import { hubSpotAgainstFake } from "../support/hubspot.js"
import { makeLogCapture } from "../support/logCapture.js"
import { call, leadInputs, type SeededLead, storeLeads, upsertArgs } from "./behaviour.js"
import { baseUrl, connect, ingestWithMcp } from "./httpClient.js"

/** Refusals as an MCP client sees them: a CRM's text quoting the lead's names, a dependency that does not answer. */

const apiKey = "mcp-refusals-key-40d2"

/** The official client over Streamable HTTP to the ingest's /mcp, with one stored lead. */
const withClient = <R>(
  env: Layer.Layer<R, unknown>,
  body: (client: Client, lead: SeededLead) => Effect.Effect<void, unknown, Scope.Scope | NoInfer<R>>
) =>
  Effect.gen(function* () {
    const url = yield* baseUrl
    const [lead] = yield* storeLeads(leadInputs(Math.random().toString(36).slice(2, 10), 1))
    const client = yield* connect(url, apiKey, "revenueflow-refusals")
    yield* body(client, lead as SeededLead)
  }).pipe(Effect.provide(ingestWithMcp.pipe(Layer.provideMerge(env))), Effect.scoped)

const quotesTheLead = /\bada\b|lovelace|analytical engines/i
const contactWrite = (request: RecordedRequest) => request.method === "POST" && request.path.includes("/contacts")
const notesWrite = (request: RecordedRequest) => request.method === "POST" && request.path.includes("/notes")
const refusalQuoting = (message: string) => ({
  status: 400,
  body: { status: "error", category: "VALIDATION_ERROR", correlationId: "0", message }
})

describe("MCP: a CRM refusal quoting the lead's names (HubSpot)", () => {
  it.scopedLive("the tool result, its audit row as get_audit_trail serves it and the log line hold them masked", () => {
    const logs = makeLogCapture()
    return Effect.gen(function* () {
      const { fake, crm } = yield* hubSpotAgainstFake()
      const env = Layer.merge(memoryEnv({ env: { INGEST_API_KEYS: apiKey } }), crm)
      yield* withClient(env, (client, lead) =>
        Effect.gen(function* () {
          // names the call carries (upsert_lead's firstName, lastName, company), in another case
          fake.failNext(
            refusalQuoting(
              'Property values were not valid: {"email":"ada@x.io","firstname":"ADA","lastname":"lovelace",' +
                '"company":"ANALYTICAL ENGINES"} for Ada Lovelace'
            ),
            1,
            contactWrite
          )
          const upsert = yield* call(client, "upsert_lead", { ...upsertArgs(lead), company: "Analytical Engines" })
          expect(upsert.isError).toBe(true)
          expect(upsert.structuredContent).toMatchObject({ error: "CrmRejected" })
          expect(upsert.content[0].text).toContain("Property values were not valid")
          expect(upsert.content[0].text).toContain("for *** ***")
          // names the call does not carry (log_activity): the stored lead's own are masked all the same
          fake.failNext(refusalQuoting("Note refused: contact Ada Lovelace is archived"), 1, notesWrite)
          const note = yield* call(client, "log_activity", {
            leadKey: lead.leadKey,
            email: lead.email,
            subject: "Call",
            description: "Spoke"
          })
          expect(note.structuredContent).toMatchObject({ error: "CrmRejected" })
          expect(note.content[0].text).toContain("contact *** *** is archived")

          const trail = yield* call(client, "get_audit_trail", { leadId: lead.id })
          const failed = trail.structuredContent.actions.filter((row: { status: string }) => row.status === "FAILED")
          expect(failed).toHaveLength(2)
          const logged = logs.lines.filter((line) => line.includes('message="CRM call failed"'))
          expect(logged).toHaveLength(2)
          const errors = failed.map((row: { error: string }) => row.error)
          for (const text of [JSON.stringify(upsert), JSON.stringify(note), ...errors, ...logged]) {
            expect(text).not.toMatch(quotesTheLead)
          }
          // the rows' params mask names by key as ever (a company is no personal data there, as in find_lead)
          expect(JSON.stringify(trail)).not.toMatch(/\bada\b|lovelace/i)
        })
      )
    }).pipe(Effect.provide(logs.layer))
  })
})

describe("MCP: a dependency that does not answer", () => {
  it.live("the database down: Unavailable naming Postgres, with retryAfterSeconds", () => {
    const store = Layer.effect(
      LeadStore,
      Effect.map(MemoryLeadStore.make, (service) =>
        LeadStore.of({
          ...service,
          findByKey: () => Effect.fail(new StoreUnavailable({ message: "connect ECONNREFUSED 127.0.0.1:5432" }))
        })
      )
    )
    return withClient(Layer.merge(memoryEnv({ env: { INGEST_API_KEYS: apiKey } }), store), (client, lead) =>
      Effect.gen(function* () {
        for (const [tool, args] of [
          ["upsert_lead", upsertArgs(lead)],
          ["find_lead", { email: lead.email, campaignId: lead.campaignId }]
        ] as const) {
          const result = yield* call(client, tool, args)
          expect(result.isError).toBe(true)
          expect(result.structuredContent).toMatchObject({ error: "Unavailable", retryAfterSeconds: 5 })
          expect(result.content[0].text).toContain("database (Postgres)")
          expect(result.content[0].text).toContain("Retry after 5 s")
          expect(result.content[0].text).not.toContain("Store")
        }
      })
    )
  })

  it.live(
    "Redis down (idempotency): Unavailable naming Redis; a CRM outage: CrmUnavailable, both with retryAfterSeconds",
    () => {
      let redisDown = true
      const idempotency = Layer.effect(
        Idempotency,
        Effect.map(MemoryIdempotency.make, (service) =>
          Idempotency.of({
            ...service,
            beginEach: (keys, ttl, options) =>
              redisDown
                ? Effect.fail(new IdempotencyUnavailable({ message: "Connection is closed." }))
                : service.beginEach(keys, ttl, options)
          })
        )
      )
      return withClient(Layer.merge(memoryEnv({ env: { INGEST_API_KEYS: apiKey } }), idempotency), (client, lead) =>
        Effect.gen(function* () {
          const args = { leadKey: lead.leadKey, email: lead.email, status: "Working" }
          const redis = yield* call(client, "update_lead_status", args)
          expect(redis.structuredContent).toMatchObject({ error: "Unavailable", retryAfterSeconds: 5 })
          expect(redis.content[0].text).toContain("Redis")
          expect(redis.content[0].text).not.toContain("Idempotency")
          redisDown = false
          const control = yield* MockCrmControl
          yield* control.failNext(new CrmTransientError({ provider: "mock", message: "503" }), 1)
          const crm = yield* call(client, "update_lead_status", args)
          expect(crm.structuredContent).toMatchObject({ error: "CrmUnavailable" })
          expect(crm.structuredContent.retryAfterSeconds).toBeGreaterThanOrEqual(1)
        })
      )
    }
  )
})

describe("MCP: what an agent reads of a lead", () => {
  it.live(
    "get_lead and get_audit_trail mask the lead's own names, email and phone in the analysis and audit rows",
    () =>
      withClient(memoryEnv({ env: { INGEST_API_KEYS: apiKey } }), (client, lead) =>
        Effect.gen(function* () {
          const store = yield* LeadStore
          const analysis = {
            ...sampleAnalysis,
            reasoning: "Ada Lovelace (ada.lovelace0@acct0.example.com, +44 20 7946 0958) asked for a demo."
          }
          yield* store.saveAnalysis(lead.id, analysis, { outcome: "VALID", reasons: [], analysis })
          const read = yield* call(client, "get_lead", { leadId: lead.id })
          const text = JSON.stringify(read.structuredContent)
          expect(text).toContain("asked for a demo")
          for (const personal of ["Ada", "Lovelace", "7946 0958"]) expect(text, personal).not.toContain(personal)
          const audit = yield* AuditLog
          yield* audit.record({
            leadId: lead.id,
            actionKey: `mcp-mask-${lead.id}`,
            tool: "create_task",
            provider: "MOCK",
            status: "SUCCEEDED",
            params: { subject: "Call Ada Lovelace back about the demo" },
            crmId: "task-1",
            result: { id: "task-1" },
            durationMs: 3
          })
          const trail = yield* call(client, "get_audit_trail", { leadId: lead.id })
          const rows = JSON.stringify(trail.structuredContent)
          expect(rows).toContain("back about the demo")
          for (const personal of ["Ada", "Lovelace"]) expect(rows, personal).not.toContain(personal)
        })
      )
  )
})

describe("MCP: a tool that takes no arguments", () => {
  it.live("queue_stats refuses each argument it is given by name, as list_dead_letters does; none is served", () =>
    withClient(memoryEnv({ env: { INGEST_API_KEYS: apiKey } }), (client, lead) =>
      Effect.gen(function* () {
        const extra = yield* call(client, "queue_stats", { a: 1, leadKey: lead.leadKey })
        expect(extra.isError).toBe(true)
        expect(extra.structuredContent).toMatchObject({ error: "InvalidArguments" })
        expect(extra.content[0].text).toContain("a: is unexpected")
        expect(extra.content[0].text).toContain("leadKey: is unexpected")
        expect(extra.content[0].text).not.toContain(lead.leadKey)
        const dead = yield* call(client, "list_dead_letters", { x: 1 })
        expect(dead.structuredContent).toMatchObject({ error: "InvalidArguments" })
        expect(dead.content[0].text).toContain("x: is unexpected")
        const stats = yield* call(client, "queue_stats", {})
        expect(stats.isError, JSON.stringify(stats)).toBeFalsy()
        expect(stats.structuredContent).toHaveProperty("queue")
        expect(stats.structuredContent).toHaveProperty("leads")
      })
    )
  )

  it.live("queue_stats counts each status up to a bound it names, as /ops/state does, not every lead ever taken", () =>
    withClient(memoryEnv({ env: { INGEST_API_KEYS: apiKey } }), (client) =>
      Effect.gen(function* () {
        const store = yield* LeadStore
        for (let i = 0; i <= STATUS_COUNT_UP_TO; i++) {
          yield* store.accept({ leadKey: `bound-${i}`, source: "api", lead: sampleLead({ email: `p${i}@acme.com` }) })
        }
        const stats = yield* call(client, "queue_stats", {})
        expect(stats.isError, JSON.stringify(stats)).toBeFalsy()
        // the seeded lead and the 10,001 just accepted, all RECEIVED: the count stops at the bound
        expect(stats.structuredContent.leadsCountedUpTo).toBe(STATUS_COUNT_UP_TO)
        expect(stats.structuredContent.leads.RECEIVED).toBe(STATUS_COUNT_UP_TO)
      })
    )
  )
})

describe("MCP: text a CRM user would not see", () => {
  it.live("a bidi override, zero-width space or tag character is refused naming the field; nothing is written", () =>
    withClient(memoryEnv({ env: { INGEST_API_KEYS: apiKey } }), (client, lead) =>
      Effect.gen(function* () {
        const sent = [
          ["subject", "Invoice \u202Egnp.exe\u202C", "U+202E"],
          ["description", "Call\u200Bback", "U+200B"],
          ["description", `Note${String.fromCodePoint(0xe0041, 0xe0042)}`, "U+E0041"]
        ] as const
        for (const [field, text, code] of sent) {
          const args = {
            leadKey: lead.leadKey,
            email: lead.email,
            subject: "Call",
            description: "Spoke",
            priority: "Normal",
            [field]: text
          }
          const refused = yield* call(client, "create_task", args)
          expect(refused.isError, field).toBe(true)
          expect(refused.structuredContent).toMatchObject({ error: "GuardBlocked", rule: "hidden-text" })
          expect(refused.content[0].text).toContain(
            `${field} holds an invisible or direction-changing character (${code})`
          )
        }
        // what intake keeps passes: direction marks, ZWJ in an emoji, line breaks
        const kept = yield* call(client, "create_task", {
          leadKey: lead.leadKey,
          email: lead.email,
          subject: "Call \u200Fback",
          description: "Team 👩\u200D💻\nnext week",
          priority: "Normal"
        })
        expect(kept.isError, JSON.stringify(kept.structuredContent)).toBeFalsy()
        const control = yield* MockCrmControl
        const tasks = (yield* control.calls).filter((made) => made.tool === "create_task")
        expect(tasks).toHaveLength(1)
        const rows = yield* Effect.flatMap(AuditLog, (audit) => audit.listForLead(lead.id))
        expect(rows.map((row) => row.status).sort()).toEqual(["BLOCKED", "BLOCKED", "BLOCKED", "SUCCEEDED"])
      })
    )
  )
})
