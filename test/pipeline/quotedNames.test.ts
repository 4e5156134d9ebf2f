import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { runAction } from "../../src/pipeline/execute.js"
import type { CrmAction } from "../../src/domain/tools.js"
import { AuditLog } from "../../services/AuditLog.js"
import { LeadStore } from "../../services/LeadStore.js"
import type { RecordedRequest } from "../fakes/crmFakeServer.js"
import { memoryEnv, sampleLead } from "../support/env.js"
import { hubSpotAgainstFake } from "../support/hubspot.js"
import { makeLogCapture } from "../support/logCapture.js"
import { awaitStatus, startConsumer, submit } from "../support/pipeline.js"

/** The lead's names and company in any case, as words: what must never be stored or logged from a CRM's text. */
const quotesTheLead = /\bada\b|lovelace|analytical engines/i

/** HubSpot's 400 for a contact write, quoting the contact's values as HubSpot's validation messages do. */
const quotingRefusal = {
  status: 400,
  body: {
    status: "error",
    category: "VALIDATION_ERROR",
    correlationId: "00000000-0000-0000-0000-000000000000",
    message:
      'Property values were not valid: [{"isValid":false,"message":"Contact ADA lovelace (Analytical Engines) ' +
      'already exists","error":"INVALID_OPTION","name":"firstname","propertyValue":"Ada"},' +
      '{"firstname":"Ada","lastname":"Lovelace","company":"analytical engines"}]'
  }
}
const contactWrite = (request: RecordedRequest) => request.method === "POST" && request.path.includes("/contacts")

describe("a CRM refusal quoting the lead's names (HubSpot through @hubspot/api-client)", () => {
  it.scopedLive("the FAILED audit row, leads.error and the 'CRM call failed' log line hold them masked", () => {
    const logs = makeLogCapture()
    return Effect.gen(function* () {
      const { fake, crm } = yield* hubSpotAgainstFake()
      fake.failNext(quotingRefusal, 5, contactWrite)
      yield* Effect.gen(function* () {
        const { lead } = yield* submit(sampleLead({ company: "Analytical Engines" }))
        yield* startConsumer
        yield* awaitStatus(lead.id, ["FAILED"], 15_000)
        const failed = yield* Effect.flatMap(LeadStore, (store) => store.get(lead.id))
        const rows = yield* Effect.flatMap(AuditLog, (audit) => audit.listForLead(lead.id))
        const row = rows.find((r) => r.status === "FAILED")
        expect(row?.error).toContain("Property values were not valid")
        expect(row?.error).toContain('"firstname":"***"')
        expect(failed.error).toContain("CRM rejected the request")
        const logged = logs.lines.filter((line) => line.includes('message="CRM call failed"'))
        expect(logged.length).toBeGreaterThan(0)
        for (const text of [row?.error ?? "", failed.error ?? "", ...logged]) {
          expect(text).not.toMatch(quotesTheLead)
        }
        // "name":"firstname" names a property, not a person: kept
        expect(row?.error).toContain('"name":"firstname"')
      }).pipe(Effect.provide(Layer.merge(memoryEnv({ env: { JOB_ATTEMPTS: "1" } }), crm)))
    }).pipe(Effect.provide(logs.layer))
  })
})

describe("BLOCKED rows of a repeated refusal", () => {
  const blocked = (leadKey: string, email: string): CrmAction =>
    ({
      tool: "log_activity",
      params: { leadKey, email, subject: "", description: "Ada Lovelace said no" }
    }) as CrmAction

  it.live("the consumer's runs record every refusal; with blockedOncePerMs the same refusal is recorded once", () =>
    Effect.gen(function* () {
      const { lead } = yield* submit(sampleLead())
      const action = blocked(lead.leadKey, lead.input.email)
      const audit = yield* AuditLog
      const statuses = Effect.map(audit.listForLead(lead.id), (rows) => rows.map((row) => row.status))
      for (let i = 0; i < 3; i++) expect((yield* Effect.flip(runAction(lead, action)))._tag).toBe("GuardBlocked")
      expect(yield* statuses).toEqual(["BLOCKED", "BLOCKED", "BLOCKED"])
      const options = { source: "mcp", blockedOncePerMs: 60_000 }
      for (let i = 0; i < 3; i++) yield* Effect.flip(runAction(lead, action, options))
      expect(yield* statuses).toHaveLength(4)
      // another refusal (other parameters: another action key) is its own row
      const other = { ...action, params: { ...action.params, subject: "", description: "other" } } as CrmAction
      yield* Effect.flip(runAction(lead, other, options))
      const rows = yield* audit.listForLead(lead.id)
      expect(rows).toHaveLength(5)
      for (const row of rows) expect(row.error).toContain("subject")
    }).pipe(Effect.provide(memoryEnv()))
  )
})
