import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import type { CrmAction } from "../../src/domain/tools.js"
import { runAction } from "../../src/pipeline/execute.js"
import { AuditLog } from "../../services/AuditLog.js"
import { memoryEnv, sampleLead } from "../support/env.js"
import { submit } from "../support/pipeline.js"

/**
 * An MCP tool call's audit rows (crm_actions.params) hold the lead's own names, email and phone masked wherever the
 * call's text quotes them, in any spelling: masking by key and by email/phone shape alone kept them.
 */
describe("audit rows of a call whose text quotes the lead", () => {
  const person = {
    firstName: "Mohammed",
    lastName: "Al-Sayed",
    email: "m.alsayed@initech.com",
    phone: "+1 415 555 0100",
    company: "Initech"
  }
  const subject = "Call Mohammed back on 4155550100 or 612 345 678"
  const description = "Al-Sayed (m.alsayed%40initech.com, (415) 555.0100) asked for pricing at Initech"

  it.live("SUCCEEDED and BLOCKED rows keep the call's facts and mask the person", () =>
    Effect.gen(function* () {
      const { lead } = yield* submit(sampleLead(person))
      const task = {
        tool: "create_task",
        params: { leadKey: lead.leadKey, email: lead.input.email, subject, description, priority: "High" }
      } as CrmAction
      yield* runAction(lead, task, { source: "mcp" })
      // an empty subject is refused by the guard: its BLOCKED row is recorded with the same parameters
      const refused = {
        tool: "log_activity",
        params: { leadKey: lead.leadKey, email: lead.input.email, subject: "", description }
      } as CrmAction
      expect((yield* Effect.flip(runAction(lead, refused, { source: "mcp" })))._tag).toBe("GuardBlocked")
      const rows = yield* Effect.flatMap(AuditLog, (audit) => audit.listForLead(lead.id))
      expect(rows.map((row) => row.status)).toEqual(["SUCCEEDED", "BLOCKED"])
      expect(rows[0]?.params).toMatchObject({
        email: "***@initech.com",
        subject: "Call *** back on [phone] or [phone]",
        description: "*** (***@initech.com, [phone]) asked for pricing at Initech",
        priority: "High"
      })
      expect(rows[1]?.params).toMatchObject({
        description: "*** (***@initech.com, [phone]) asked for pricing at Initech"
      })
      const stored = JSON.stringify(rows)
      for (const secret of ["Mohammed", "Al-Sayed", "alsayed", "4155550100", "555.0100", "345 678"]) {
        expect(stored, secret).not.toContain(secret)
      }
    }).pipe(Effect.provide(memoryEnv()))
  )
})

/**
 * A refused call's size is the caller's choice (an MCP line holds 10 MB): its BLOCKED row keeps an excerpt of the
 * arguments and of the reason, every cut marked, so a loop of ever-different oversized calls cannot fill the audit log.
 */
describe("the audit row of a refused oversized call", () => {
  it.live("keeps a bounded excerpt of the arguments and the reason", () =>
    Effect.gen(function* () {
      const { lead } = yield* submit(sampleLead({ firstName: "Grace", email: "grace@initech.com" }))
      // an emoji straddles the cut: its halves must stay together (jsonb refuses a lone surrogate)
      const subject = `${"s".repeat(255)}😀${"x".repeat(200_000)}`
      const params = JSON.parse(
        JSON.stringify({
          leadKey: lead.leadKey,
          email: lead.input.email,
          subject,
          description: "Grace asked",
          extra: Array.from({ length: 50 }, (_, i) => ({ n: i }))
        })
      )
      const refused = { tool: "create_task", params } as CrmAction
      const error = yield* Effect.flip(runAction(lead, refused, { source: "mcp" }))
      expect(error._tag).toBe("GuardBlocked")
      const [row] = yield* Effect.flatMap(AuditLog, (audit) => audit.listForLead(lead.id))
      expect(row?.status).toBe("BLOCKED")
      const kept = row?.params as Record<string, unknown>
      expect(kept.subject).toBe(`${"s".repeat(255)}… (200002 more characters)`)
      expect(kept.description).toBe("*** asked")
      expect(kept.extra).toHaveLength(21)
      expect((kept.extra as Array<unknown>)[20]).toBe("… (30 more items)")
      expect(row?.error).toContain("subject: Expected a string at most 255 character(s) long")
      expect(row?.error).toMatch(/… \(\d+ more characters\)$/)
      expect(row?.error?.length).toBeLessThan(1_100)
      expect(JSON.stringify(row).length).toBeLessThan(4_000)
    }).pipe(Effect.provide(memoryEnv()))
  )
})
