import { describe, expect, it } from "@effect/vitest"
import type { Client } from "@modelcontextprotocol/sdk/client/index.js"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as MemoryAuditLog from "../../layers/memory/AuditLog.js"
import { MockCrmControl } from "../../layers/mock/CrmExecutor.js"
import { AuditLog } from "../../services/AuditLog.js"
import { type CrmCall, CrmTransientError } from "../../services/CrmExecutor.js"
import { LeadStore, StoreUnavailable } from "../../services/LeadStore.js"
import type { McpServices } from "../../src/mcp/results.js"
import { runAction } from "../../src/pipeline/execute.js"
import { backends, memoryEnv } from "../support/env.js"
import { call, leadInputs, type SeededLead, storeLeads } from "./behaviour.js"
import { baseUrl, connect as connectWith, ingestWithMcp } from "./httpClient.js"

/**
 * MCP calls of the tools that set a record's state (a status, a stage, a score), as an agent sees them through the
 * official client: a value set back after another is written again, while the very same call repeated (a retry,
 * concurrent duplicates) is written once and says so (`executed`). And an agent acts on its lead's own records only:
 * an opportunity or account another lead's trail holds is refused.
 */

const apiKey = "mcp-setting-key-5d21"
// room for the sequences below on one lead (the behaviour suite's limit is three per lead)
const settings = { INGEST_API_KEYS: apiKey, RATE_LIMIT_PER_LEAD: "50", RATE_LIMIT_WINDOW_MS: "60000" }
const connect = (url: string) => connectWith(url, apiKey, "revenueflow-setting")

/** What a test gets: a client on the ingest's /mcp, `count` stored leads, and the mock CRM's calls of a lead. */
const withClient = (
  env: ReturnType<(typeof backends)[number][1]>,
  count: number,
  body: (
    client: Client,
    leads: ReadonlyArray<SeededLead>,
    applied: (lead: SeededLead) => Effect.Effect<ReadonlyArray<CrmCall>>
  ) => Effect.Effect<void, unknown, Scope.Scope | McpServices | MockCrmControl>
) =>
  Effect.gen(function* () {
    const url = yield* baseUrl
    const leads = yield* storeLeads(leadInputs(Math.random().toString(36).slice(2, 10), count))
    const client = yield* connect(url)
    const control = yield* MockCrmControl
    const applied = (lead: SeededLead) =>
      Effect.map(control.applied, (calls) => calls.filter((c) => c.params.leadKey === lead.leadKey))
    yield* body(client, leads, applied)
  }).pipe(Effect.provide(ingestWithMcp.pipe(Layer.provideMerge(env))), Effect.scoped)

const ok = (result: { structuredContent: Record<string, unknown>; isError?: boolean }, executed: boolean) => {
  expect(result.isError, JSON.stringify(result)).toBeFalsy()
  expect(result.structuredContent).toMatchObject({ status: "SUCCEEDED", executed })
  return result.structuredContent
}

const trail = (client: Client, lead: SeededLead) =>
  Effect.map(
    call(client, "get_audit_trail", { leadId: lead.id }),
    (result) => result.structuredContent.actions as ReadonlyArray<Record<string, unknown>>
  )

describe.each(backends)("MCP calls that set state (%s)", (_name, makeEnv) => {
  const env = () => makeEnv({ env: settings, crmLatencyMs: 150 })

  it.live("a status set back after another is sent each time and the CRM ends where the agent left it", () =>
    withClient(env(), 1, (client, [lead], applied) =>
      Effect.gen(function* () {
        if (lead === undefined) throw new Error("no lead seeded")
        const ref = { leadKey: lead.leadKey, email: lead.email }
        // the consumer's own action first (no source): an agent's call equal to it is answered from it
        const store = yield* LeadStore
        const record = Option.getOrThrow(yield* store.findByKey(lead.leadKey))
        const consumer = yield* runAction(record, { tool: "update_lead_status", params: { ...ref, status: "Nurture" } })
        expect(consumer.executed).toBe(true)
        ok(yield* call(client, "update_lead_status", { ...ref, status: "Nurture" }), false)

        for (const status of ["Working", "Nurture", "Working"]) {
          ok(yield* call(client, "update_lead_status", { ...ref, status }), true)
        }
        const statuses = (yield* applied(lead)).map((c) => (c.params as { status: string }).status)
        expect(statuses).toEqual(["Nurture", "Working", "Nurture", "Working"])

        const rows = yield* trail(client, lead)
        expect(rows.map((row) => [row.source ?? "consumer", (row.params as { status: string }).status])).toEqual([
          ["consumer", "Nurture"],
          ["mcp", "Working"],
          ["mcp", "Nurture"],
          ["mcp", "Working"]
        ])
      })
    )
  )

  it.live(
    "after a write of another value failed (it may have landed), a call equal to the latest success is sent",
    () =>
      withClient(env(), 1, (client, [lead], applied) =>
        Effect.gen(function* () {
          if (lead === undefined) throw new Error("no lead seeded")
          const ref = { leadKey: lead.leadKey, email: lead.email }
          ok(yield* call(client, "update_lead_status", { ...ref, status: "Working" }), true)
          const control = yield* MockCrmControl
          yield* control.failNext(new CrmTransientError({ provider: "mock", message: "timeout" }), 1)
          const failed = yield* call(client, "update_lead_status", { ...ref, status: "Nurture" })
          expect(failed.structuredContent).toMatchObject({ error: "CrmUnavailable" })
          // the CRM may hold Nurture now: Working is sent again, not answered from its first row
          ok(yield* call(client, "update_lead_status", { ...ref, status: "Working" }), true)
          // and that call repeated (a retry) is still one write
          ok(yield* call(client, "update_lead_status", { ...ref, status: "Working" }), false)
          const statuses = (yield* applied(lead)).map((c) => (c.params as { status: string }).status)
          expect(statuses).toEqual(["Working", "Working"])
        })
      )
  )

  it.live("a stage set back on the lead's own opportunity, and a score set back, are sent each time", () =>
    withClient(env(), 1, (client, [lead], applied) =>
      Effect.gen(function* () {
        if (lead === undefined) throw new Error("no lead seeded")
        const ref = { leadKey: lead.leadKey, email: lead.email }
        const created = ok(
          yield* call(client, "create_opportunity", {
            ...ref,
            name: "Engine",
            stage: "Prospecting",
            closeDate: "2031-01-31"
          }),
          true
        )
        const opportunityId = created.crmId as string
        for (const stage of ["Negotiation", "Prospecting", "Negotiation"]) {
          ok(yield* call(client, "update_opportunity_stage", { ...ref, opportunityId, stage }), true)
        }
        for (const score of [50, 70, 50]) {
          ok(yield* call(client, "set_lead_score", { ...ref, score, intent: "Medium Fit", decision: "Nurture" }), true)
        }
        const sent = (yield* applied(lead)).map((c) =>
          c.tool === "update_opportunity_stage"
            ? `${c.params.opportunityId} ${c.params.stage}`
            : c.tool === "set_lead_score"
              ? `score ${c.params.score}`
              : c.tool
        )
        expect(sent).toEqual([
          "create_opportunity",
          `${opportunityId} Negotiation`,
          `${opportunityId} Prospecting`,
          `${opportunityId} Negotiation`,
          "score 50",
          "score 70",
          "score 50"
        ])
      })
    )
  )

  it.live(
    "the very same call repeated, or sent concurrently, is written once; each later answer says executed false",
    () =>
      withClient(env(), 1, (client, [lead], applied) =>
        Effect.gen(function* () {
          if (lead === undefined) throw new Error("no lead seeded")
          const ref = { leadKey: lead.leadKey, email: lead.email }
          ok(yield* call(client, "update_lead_status", { ...ref, status: "Working" }), true)
          // six agents at once, while the CRM takes 150 ms per call: one is sent, the others wait for it or are told so
          const results = yield* Effect.forEach(
            Array.from({ length: 6 }),
            () => call(client, "update_lead_status", { ...ref, status: "Nurture" }),
            { concurrency: "unbounded" }
          )
          for (const result of results) {
            if (result.isError) expect(result.structuredContent).toMatchObject({ error: "InProgress" })
            else expect(result.structuredContent).toMatchObject({ status: "SUCCEEDED" })
          }
          expect(
            results.filter((r: { structuredContent: { executed?: boolean } }) => r.structuredContent.executed)
          ).toHaveLength(1)
          const again = ok(yield* call(client, "update_lead_status", { ...ref, status: "Nurture" }), false)
          const first = results.find((r: { structuredContent: { executed?: boolean } }) => r.structuredContent.executed)
          expect(again).toEqual({ ...first.structuredContent, executed: false })
          ok(yield* call(client, "update_lead_status", { ...ref, status: "Nurture" }), false)
          const statuses = (yield* applied(lead)).map((c) => (c.params as { status: string }).status)
          expect(statuses).toEqual(["Working", "Nurture"])
        })
      )
  )

  it.live(
    "while another write of the record is in flight (an agent's, or the pipeline's), a setting call is refused InProgress",
    () =>
      withClient(makeEnv({ env: settings, crmLatencyMs: 1500 }), 1, (client, [lead], applied) =>
        Effect.gen(function* () {
          if (lead === undefined) throw new Error("no lead seeded")
          const ref = { leadKey: lead.leadKey, email: lead.email }
          ok(yield* call(client, "update_lead_status", { ...ref, status: "Working" }), true)
          // Nurture is being written (the CRM takes 1.5 s); Working asked meanwhile is no repeat of the latest write:
          // the CRM is about to hold Nurture
          const nurture = yield* Effect.fork(call(client, "update_lead_status", { ...ref, status: "Nurture" }))
          yield* Effect.sleep("300 millis")
          const meanwhile = yield* call(client, "update_lead_status", { ...ref, status: "Working" })
          expect(meanwhile.isError).toBe(true)
          expect(meanwhile.structuredContent).toMatchObject({ error: "InProgress", retryAfterSeconds: 1 })
          ok(yield* Fiber.join(nurture), true)
          // asked again once it landed: decided against Nurture, so sent
          ok(yield* call(client, "update_lead_status", { ...ref, status: "Working" }), true)
          const statuses = (yield* applied(lead)).map((c) => (c.params as { status: string }).status)
          expect(statuses).toEqual(["Working", "Nurture", "Working"])

          // the pipeline holding the lead (PROCESSING): its own writes may be in flight
          const store = yield* LeadStore
          const record = Option.getOrThrow(yield* store.findByKey(lead.leadKey))
          yield* store.transition(record.id, [record.status], "PROCESSING")
          const processing = yield* call(client, "update_lead_status", { ...ref, status: "Working" })
          expect(processing.structuredContent).toMatchObject({ error: "InProgress" })
          expect(processing.structuredContent.message).toContain("processing this lead")
        })
      )
  )

  it.live(
    "an opportunity or account of another lead is refused (a BLOCKED row, no CRM call); the lead's own are used",
    () =>
      withClient(env(), 2, (client, [lead, other], applied) =>
        Effect.gen(function* () {
          if (lead === undefined || other === undefined) throw new Error("no leads seeded")
          const ref = { leadKey: lead.leadKey, email: lead.email }
          const otherRef = { leadKey: other.leadKey, email: other.email }
          const theirs = ok(
            yield* call(client, "create_opportunity", {
              ...otherRef,
              name: "Theirs",
              stage: "Prospecting",
              closeDate: "2031-01-31"
            }),
            true
          ).crmId as string
          const theirAccount = ok(
            yield* call(client, "match_account", { ...otherRef, domain: "theirs.example.com" }),
            true
          ).crmId as string

          const refusedCalls: ReadonlyArray<readonly [string, Record<string, unknown>, string]> = [
            [
              "update_opportunity_stage",
              { ...ref, opportunityId: theirs, stage: "Closed Lost" },
              `opportunityId ${theirs}`
            ],
            ["create_contact", { ...ref, accountId: theirAccount }, `accountId ${theirAccount}`],
            [
              "create_opportunity",
              { ...ref, name: "Mine", stage: "Prospecting", closeDate: "2031-01-31", accountId: theirAccount },
              `accountId ${theirAccount}`
            ],
            [
              "convert_lead",
              { ...ref, convertedStatus: "Closed - Converted", createOpportunity: false, accountId: theirAccount },
              `accountId ${theirAccount}`
            ]
          ]
          for (const [tool, args, named] of refusedCalls) {
            const refused = yield* call(client, tool, args)
            expect(refused.isError, tool).toBe(true)
            expect(refused.structuredContent, tool).toMatchObject({ error: "GuardBlocked", rule: "not-this-lead" })
            expect(refused.content[0].text).toContain(`${named} is no`)
          }
          expect(yield* applied(lead)).toEqual([])
          const blocked = yield* trail(client, lead)
          expect(blocked.map((row) => [row.tool, row.status])).toEqual(refusedCalls.map(([tool]) => [tool, "BLOCKED"]))
          expect(String(blocked[0]?.error)).toContain(theirs)

          // the lead's own: an opportunity it created, an account its match found
          const mine = ok(
            yield* call(client, "create_opportunity", {
              ...ref,
              name: "Mine",
              stage: "Prospecting",
              closeDate: "2031-01-31"
            }),
            true
          ).crmId as string
          ok(
            yield* call(client, "update_opportunity_stage", { ...ref, opportunityId: mine, stage: "Closed Won" }),
            true
          )
          const account = ok(yield* call(client, "match_account", { ...ref, domain: "mine.example.com" }), true)
            .crmId as string
          ok(yield* call(client, "create_contact", { ...ref, accountId: account }), true)
          ok(
            yield* call(client, "create_opportunity", {
              ...ref,
              name: "Second",
              stage: "Prospecting",
              closeDate: "2031-01-31",
              accountId: account
            }),
            true
          )
          expect((yield* applied(lead)).map((c) => c.tool)).toEqual([
            "create_opportunity",
            "update_opportunity_stage",
            "match_account",
            "create_contact",
            "create_opportunity"
          ])
          // the other lead's deal was never touched
          expect((yield* applied(other)).map((c) => c.tool)).toEqual(["create_opportunity", "match_account"])
        })
      )
  )
})

describe("MCP calls that set state: the audit row lost after the CRM call (memory)", () => {
  // the audit log refuses the next writes of a SUCCEEDED update_lead_status row (the database down right then): the
  // run's three (right after the call, at the run's end, on its failure), so the call fails with its row unwritten
  let statusRowFailures = 0
  const audit = Layer.effect(
    AuditLog,
    Effect.map(MemoryAuditLog.make, (log) =>
      AuditLog.of({
        ...log,
        recordEach: (entries) =>
          Effect.suspend(() => {
            if (
              statusRowFailures > 0 &&
              entries.some((e) => e.tool === "update_lead_status" && e.status === "SUCCEEDED")
            ) {
              statusRowFailures--
              return Effect.fail(new StoreUnavailable({ message: "database down" }))
            }
            return log.recordEach(entries)
          })
      })
    )
  )

  it.live("the retry finds the completion and writes the row, sending nothing; setting the value back is sent", () =>
    withClient(Layer.merge(memoryEnv({ env: settings }), audit), 1, (client, [lead], applied) =>
      Effect.gen(function* () {
        if (lead === undefined) throw new Error("no lead seeded")
        const ref = { leadKey: lead.leadKey, email: lead.email }
        ok(yield* call(client, "update_lead_status", { ...ref, status: "Working" }), true)
        statusRowFailures = 3
        const lost = yield* call(client, "update_lead_status", { ...ref, status: "Nurture" })
        expect(lost.structuredContent).toMatchObject({ error: "Unavailable" })
        expect((yield* applied(lead)).length).toBe(2)
        // the retry: the same history, so the same key, which the idempotency store holds as completed
        const retried = ok(yield* call(client, "update_lead_status", { ...ref, status: "Nurture" }), false)
        expect(retried).toMatchObject({ tool: "update_lead_status" })
        ok(yield* call(client, "update_lead_status", { ...ref, status: "Working" }), true)
        const statuses = (yield* applied(lead)).map((c) => (c.params as { status: string }).status)
        expect(statuses).toEqual(["Working", "Nurture", "Working"])
        const rows = yield* trail(client, lead)
        expect(rows.map((row) => [row.status, (row.params as { status: string }).status])).toEqual([
          ["SUCCEEDED", "Working"],
          ["SUCCEEDED", "Nurture"],
          ["SUCCEEDED", "Working"]
        ])
      })
    )
  )
})
