import { expect } from "@effect/vitest"
import type { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { McpError } from "@modelcontextprotocol/sdk/types.js"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { LeadInput } from "../../src/domain/lead.js"
import { leadKey } from "../../src/domain/leadKey.js"
import { toolNames } from "../../src/domain/tools.js"
import { LeadStore } from "../../services/LeadStore.js"

/**
 * The MCP behaviour every transport and backend must show, written once: each step gets a connected official MCP
 * client, leads stored beforehand (as the ingest would have accepted them) and the count of writes the CRM saw.
 */

/** A lead stored before the server started. */
export interface SeededLead {
  readonly id: string
  readonly email: string
  readonly campaignId: string
  readonly leadKey: string
}

export interface Harness {
  readonly client: Client
  /** Leads stored for the steps, one per step (index = step number). */
  readonly leads: ReadonlyArray<SeededLead>
  /** CRM writes seen so far, counted where the CRM (mock or fake server) received them. */
  readonly crmWrites: Effect.Effect<number>
}

/** The environment every harness sets: three CRM calls per lead per window, so the fourth is rate limited. */
export const behaviourEnv = { RATE_LIMIT_PER_LEAD: "3", RATE_LIMIT_WINDOW_MS: "60000" }

/**
 * Waits, if need be, for the next fixed window of `windowMs` (the rate limiter's: epoch multiples), so that at least
 * `roomMs` of the current one is left: calls meant to share a window cannot then straddle two.
 */
const awaitWindowRoom = (windowMs: number, roomMs: number) =>
  Effect.suspend(() => {
    const left = windowMs - (Date.now() % windowMs)
    return left >= roomMs ? Effect.void : Effect.sleep(left + 50)
  })

/** `count` lead inputs unique to a run (own account domain each, so only the per-lead tier can bite). */
export const leadInputs = (run: string, count: number) =>
  Array.from({ length: count }, (_, i) => ({
    email: `Ada.Lovelace${i}@acct${i}-${run}.example.com`,
    campaignId: `mcp-${run}`,
    firstName: "Ada",
    lastName: "Lovelace",
    title: "VP Engineering"
  }))

/** A stored lead as the steps know it. */
export const seeded = (id: string, input: { readonly email: string; readonly campaignId: string }): SeededLead => ({
  id,
  email: input.email,
  campaignId: input.campaignId,
  leadKey: leadKey(input.email, input.campaignId)
})

// biome-ignore lint/suspicious/noExplicitAny: tool results are asserted on field by field
type AnyResult = any

export const call = (client: Client, name: string, args: Record<string, unknown>) =>
  Effect.promise((): Promise<AnyResult> => client.callTool({ name, arguments: args }))

/** What the promise was rejected with; a promise that resolves fails the test. */
export const rejection = (promise: () => Promise<unknown>) =>
  Effect.promise(() =>
    promise().then(
      (value) => {
        throw new Error(`expected a rejection, got ${JSON.stringify(value)}`)
      },
      (error: unknown) => error
    )
  )

export const upsertArgs = (lead: SeededLead) => ({
  leadKey: lead.leadKey,
  email: lead.email,
  campaignId: lead.campaignId,
  firstName: "Ada",
  lastName: "Lovelace",
  company: "Analytical Engines"
})

const auditTrail = (client: Client, lead: SeededLead) =>
  Effect.map(call(client, "get_audit_trail", { leadId: lead.id }), (result) => {
    expect(result.isError, JSON.stringify(result)).toBeFalsy()
    return result.structuredContent.actions as ReadonlyArray<Record<string, unknown>>
  })

/** The steps, in the order a spawned server runs them one after the other. */
export const steps: ReadonlyArray<readonly [string, (h: Harness) => Effect.Effect<void>]> = [
  [
    "lists the twelve CRM tools with input schemas generated from their parameter schemas, and the read-only tools",
    ({ client }) =>
      Effect.gen(function* () {
        const { tools } = yield* Effect.promise(() => client.listTools())
        const byName = new Map(tools.map((tool) => [tool.name, tool]))
        for (const name of toolNames) {
          const tool = byName.get(name)
          expect(tool, name).toBeDefined()
          expect(tool?.inputSchema.type).toBe("object")
          expect(tool?.inputSchema.required).toEqual(expect.arrayContaining(["leadKey", "email"]))
          expect(tool?.inputSchema).toHaveProperty("additionalProperties", false)
          expect(tool?.description).toContain("find_lead")
          // MCP's destructiveHint false: additive updates only; an update or a conversion overwrites or cannot be undone
          const additive = name.startsWith("create_") || name === "log_activity" || name === "match_account"
          expect(tool?.annotations?.destructiveHint, name).toBe(!additive)
        }
        for (const name of ["find_lead", "get_lead", "get_audit_trail", "list_dead_letters", "queue_stats"]) {
          expect(byName.get(name)?.annotations?.readOnlyHint, name).toBe(true)
        }
        expect(tools).toHaveLength(toolNames.length + 5)
        const score = byName.get("set_lead_score")?.inputSchema.properties as Record<string, Record<string, unknown>>
        expect(score.score).toMatchObject({ type: "integer", minimum: 0, maximum: 100 })
        expect(score.intent?.enum).toEqual(["Low Fit", "Medium Fit", "High Fit", "Manual Review"])
        expect(score.leadKey).toMatchObject({ type: "string", pattern: "^[0-9a-f]{64}$" })
        const task = byName.get("create_task")?.inputSchema as Record<string, unknown>
        expect(task.required).toEqual(["leadKey", "email", "subject", "priority"])
        expect(JSON.stringify(task)).not.toContain("$ref")
      })
  ],
  [
    "upsert_lead twice with the same arguments: one CRM write, the same answer, one audit row with source mcp",
    ({ client, leads, crmWrites }) =>
      Effect.gen(function* () {
        const lead = leads[1] as SeededLead
        const found = yield* call(client, "find_lead", { email: lead.email, campaignId: lead.campaignId })
        expect(found.isError, JSON.stringify(found)).toBeFalsy()
        expect(found.structuredContent).toMatchObject({ id: lead.id, leadKey: lead.leadKey })
        expect(JSON.stringify(found)).not.toContain("Ada.Lovelace") // PII masked

        const before = yield* crmWrites
        const first = yield* call(client, "upsert_lead", upsertArgs(lead))
        expect(first.isError, JSON.stringify(first)).toBeFalsy()
        expect(first.structuredContent).toMatchObject({
          tool: "upsert_lead",
          status: "SUCCEEDED",
          executed: true,
          leadId: lead.id
        })
        const written = yield* crmWrites
        expect(written).toBe(before + 1)
        // same arguments, keys in another order: the canonical parameters make it the same action; the answer is the
        // first call's, saying this call wrote nothing
        const again = yield* call(client, "upsert_lead", Object.fromEntries(Object.entries(upsertArgs(lead)).reverse()))
        expect(again.structuredContent).toEqual({ ...first.structuredContent, executed: false })
        // the lead's email in another case, with spaces: still the lead's own, so still the same action
        const shouted = yield* call(client, "upsert_lead", {
          ...upsertArgs(lead),
          email: ` ${lead.email.toUpperCase()} `
        })
        expect(shouted.structuredContent).toEqual({ ...first.structuredContent, executed: false })
        expect(yield* crmWrites).toBe(written)

        const rows = yield* auditTrail(client, lead)
        expect(rows).toHaveLength(1)
        expect(rows[0]).toMatchObject({ tool: "upsert_lead", status: "SUCCEEDED", source: "mcp" })
        expect(JSON.stringify(rows)).not.toContain("Ada.Lovelace")
      })
  ],
  [
    "a call the guard blocks is a tool error with the reason: nothing written to the CRM, a BLOCKED audit row",
    ({ client, leads, crmWrites }) =>
      Effect.gen(function* () {
        const lead = leads[2] as SeededLead
        const before = yield* crmWrites
        const result = yield* call(client, "upsert_lead", { ...upsertArgs(lead), "{{firstName}}": "x" })
        expect(result.isError).toBe(true)
        expect(result.structuredContent).toMatchObject({ error: "GuardBlocked", rule: "template-key" })
        expect(result.content[0].text).toContain("contains template syntax")
        expect(yield* crmWrites).toBe(before)
        const rows = yield* auditTrail(client, lead)
        expect(rows.map((row) => [row.status, row.source])).toEqual([["BLOCKED", "mcp"]])
      })
  ],
  [
    "a rate-limited call is a tool error with the tier and the retry-after, and writes nothing",
    ({ client, leads, crmWrites }) =>
      Effect.gen(function* () {
        const lead = leads[3] as SeededLead
        const ref = { leadKey: lead.leadKey, email: lead.email }
        // the limiter's windows are fixed (epoch multiples of RATE_LIMIT_WINDOW_MS): the four calls must fall in one
        yield* awaitWindowRoom(Number(behaviourEnv.RATE_LIMIT_WINDOW_MS), 15_000)
        const before = yield* crmWrites
        const score = yield* call(client, "set_lead_score", {
          ...ref,
          score: 72,
          intent: "Medium Fit",
          decision: "Nurture"
        })
        expect(score.isError, JSON.stringify(score)).toBeFalsy()
        const status = yield* call(client, "update_lead_status", { ...ref, status: "Working" })
        expect(status.isError, JSON.stringify(status)).toBeFalsy()
        const note = yield* call(client, "log_activity", { ...ref, subject: "Called Ada", description: "" })
        expect(note.isError, JSON.stringify(note)).toBeFalsy()
        const written = yield* crmWrites
        expect(written).toBeGreaterThanOrEqual(before + 3)
        const limited = yield* call(client, "create_task", { ...ref, subject: "Call Ada", priority: "High" })
        expect(limited.isError).toBe(true)
        expect(limited.structuredContent).toMatchObject({ error: "RateLimited", tier: "lead" })
        const retryAfter = limited.structuredContent.retryAfterSeconds
        expect(retryAfter).toBeGreaterThanOrEqual(1)
        expect(retryAfter).toBeLessThanOrEqual(60)
        expect(limited.content[0].text).toContain(`Retry after ${retryAfter} s`)
        expect(yield* crmWrites).toBe(written)
      })
  ],
  [
    "an unknown tool is a JSON-RPC invalid-params error; bad arguments are a tool error naming every bad field",
    ({ client, leads, crmWrites }) =>
      Effect.gen(function* () {
        const lead = leads[4] as SeededLead
        const before = yield* crmWrites
        for (const name of ["delete_lead", "no_such_tool"]) {
          const error = yield* rejection(() => client.callTool({ name, arguments: {} }))
          expect(error).toBeInstanceOf(McpError)
          expect((error as McpError).code).toBe(-32602)
          expect((error as McpError).message).toContain(`Unknown tool: "${name}"`)
        }
        const bad = yield* call(client, "set_lead_score", {
          leadKey: lead.leadKey,
          email: lead.email,
          score: 200,
          decision: "Nurture"
        })
        expect(bad.isError).toBe(true)
        expect(bad.structuredContent).toMatchObject({ error: "GuardBlocked", rule: "invalid-params" })
        expect(bad.content[0].text).toMatch(/score: .*between 0 and 100/)
        expect(bad.content[0].text).toContain("intent: is missing")
        const noLead = yield* call(client, "upsert_lead", { leadKey: "f".repeat(64), email: "x@y.io", campaignId: "c" })
        expect(noLead.structuredContent).toMatchObject({ error: "LeadNotFound" })
        const otherEmail = yield* call(client, "upsert_lead", { ...upsertArgs(lead), email: "someone@else.io" })
        expect(otherEmail.structuredContent).toMatchObject({ error: "LeadMismatch" })
        expect(yield* crmWrites).toBe(before)
      })
  ],
  [
    "resources: the lead by id with personal data masked, queue stats; an unknown lead is resource-not-found",
    ({ client, leads }) =>
      Effect.gen(function* () {
        const lead = leads[5] as SeededLead
        const read = yield* Effect.promise(() => client.readResource({ uri: `revenueflow://leads/${lead.id}` }))
        const text = String((read.contents[0] as { text?: string }).text)
        expect(JSON.parse(text)).toMatchObject({ id: lead.id, input: { email: expect.stringMatching(/^\*\*\*@/) } })
        expect(text).not.toContain("Ada.Lovelace")
        // nor its key (sha256 of the email and campaign id: a dictionary of names would give the masked email back)
        expect(text).not.toContain(lead.leadKey)
        const byId = yield* call(client, "get_lead", { leadId: lead.id })
        expect(JSON.stringify(byId)).not.toContain(lead.leadKey)
        yield* call(client, "upsert_lead", upsertArgs(lead))
        expect(JSON.stringify(yield* auditTrail(client, lead))).not.toContain(lead.leadKey)
        const stats = yield* Effect.promise(() => client.readResource({ uri: "revenueflow://queue/stats" }))
        expect(JSON.parse(String((stats.contents[0] as { text?: string }).text))).toHaveProperty("leads")
        const missing = yield* rejection(() =>
          client.readResource({ uri: "revenueflow://leads/00000000-0000-4000-8000-000000000000" })
        )
        expect((missing as McpError).code).toBe(-32002)
      })
  ],
  [
    "a status set back after another is written again (A, B, A: three writes); the very same call again writes nothing",
    ({ client, leads, crmWrites }) =>
      Effect.gen(function* () {
        const lead = leads[6] as SeededLead
        const ref = { leadKey: lead.leadKey, email: lead.email }
        const answers: Array<Record<string, unknown>> = []
        for (const status of ["Working", "Nurture", "Working"]) {
          const before = yield* crmWrites
          const result = yield* call(client, "update_lead_status", { ...ref, status })
          expect(result.structuredContent, JSON.stringify(result)).toMatchObject({
            tool: "update_lead_status",
            status: "SUCCEEDED",
            executed: true
          })
          expect(yield* crmWrites, status).toBeGreaterThan(before)
          answers.push(result.structuredContent)
        }
        // a retry of the last call (a timeout, a second agent): the CRM holds it already
        const before = yield* crmWrites
        const again = yield* call(client, "update_lead_status", { ...ref, status: "Working" })
        expect(again.structuredContent).toEqual({ ...answers[2], executed: false })
        expect(yield* crmWrites).toBe(before)
        const rows = yield* auditTrail(client, lead)
        expect(rows.map((row) => [row.status, (row.params as { status?: unknown }).status])).toEqual([
          ["SUCCEEDED", "Working"],
          ["SUCCEEDED", "Nurture"],
          ["SUCCEEDED", "Working"]
        ])
      })
  ],
  [
    "an opportunity or account the lead's trail does not hold is refused, audited and not written; its own is moved",
    ({ client, leads, crmWrites }) =>
      Effect.gen(function* () {
        const lead = leads[7] as SeededLead
        const ref = { leadKey: lead.leadKey, email: lead.email }
        const created = yield* call(client, "create_opportunity", {
          ...ref,
          name: "Analytical Engine",
          stage: "appointmentscheduled",
          closeDate: "2031-03-01"
        })
        expect(created.structuredContent, JSON.stringify(created)).toMatchObject({ executed: true })
        const opportunityId = created.structuredContent.crmId
        expect(typeof opportunityId).toBe("string")

        const before = yield* crmWrites
        const deal = yield* call(client, "update_opportunity_stage", {
          ...ref,
          opportunityId: "006000000000001AAA",
          stage: "closedlost"
        })
        expect(deal.isError).toBe(true)
        expect(deal.structuredContent).toMatchObject({ error: "GuardBlocked", rule: "not-this-lead" })
        expect(deal.content[0].text).toContain("opportunityId 006000000000001AAA is no opportunity of this lead")
        const account = yield* call(client, "create_contact", { ...ref, accountId: "001000000000001AAA" })
        expect(account.structuredContent).toMatchObject({ error: "GuardBlocked", rule: "not-this-lead" })
        expect(account.content[0].text).toContain("accountId 001000000000001AAA is no account of this lead")
        expect(yield* crmWrites).toBe(before)

        const moved = yield* call(client, "update_opportunity_stage", {
          ...ref,
          opportunityId,
          stage: "qualifiedtobuy"
        })
        expect(moved.structuredContent, JSON.stringify(moved)).toMatchObject({ status: "SUCCEEDED", executed: true })
        expect(yield* crmWrites).toBeGreaterThan(before)
        const rows = yield* auditTrail(client, lead)
        expect(rows.map((row) => [row.tool, row.status, row.source])).toEqual([
          ["create_opportunity", "SUCCEEDED", "mcp"],
          ["update_opportunity_stage", "BLOCKED", "mcp"],
          ["create_contact", "BLOCKED", "mcp"],
          ["update_opportunity_stage", "SUCCEEDED", "mcp"]
        ])
        expect(String(rows[1]?.error)).toContain("006000000000001AAA")
      })
  ],
  [
    "a firmographics sync naming another company's domain is refused, audited and not written; its own is written",
    ({ client, leads, crmWrites }) =>
      Effect.gen(function* () {
        const lead = leads[8] as SeededLead
        const ref = { leadKey: lead.leadKey, email: lead.email }
        const before = yield* crmWrites
        // HubSpot writes the company found by the domain, and ties the lead's contact to it: any company of the CRM
        const foreign = yield* call(client, "sync_firmographics", { ...ref, domain: "bigcustomer.com", employees: 1 })
        expect(foreign.isError).toBe(true)
        expect(foreign.structuredContent).toMatchObject({ error: "GuardBlocked", rule: "not-this-lead" })
        expect(foreign.content[0].text).toContain("domain bigcustomer.com is not this lead's company")
        expect(yield* crmWrites).toBe(before)
        const ownDomain = lead.email.slice(lead.email.indexOf("@") + 1)
        const own = yield* call(client, "sync_firmographics", { ...ref, domain: `www.${ownDomain}`, employees: 120 })
        expect(own.structuredContent, JSON.stringify(own)).toMatchObject({ status: "SUCCEEDED", executed: true })
        expect(yield* crmWrites).toBeGreaterThan(before)
        const rows = yield* auditTrail(client, lead)
        expect(rows.map((row) => [row.tool, row.status])).toEqual([
          ["sync_firmographics", "BLOCKED"],
          ["sync_firmographics", "SUCCEEDED"]
        ])
      })
  ]
]

/** How many leads a harness must store: one per step. */
export const leadsNeeded = steps.length

/** Store the leads as the ingest would have accepted them (decoded, keyed); their ids. */
export const storeLeads = (inputs: ReadonlyArray<Record<string, unknown>>) =>
  Effect.flatMap(LeadStore, (store) =>
    Effect.forEach(inputs, (raw) => {
      const lead = Schema.decodeUnknownSync(LeadInput)(raw)
      return Effect.map(
        store.accept({ leadKey: leadKey(lead.email, lead.campaignId), source: "api", lead }),
        (accepted) => seeded(accepted.lead.id, lead)
      )
    })
  )
