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
