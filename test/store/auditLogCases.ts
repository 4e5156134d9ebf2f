import { expect } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { errorText } from "../../src/domain/redact.js"
import { AuditLog } from "../../services/AuditLog.js"
import { accept, entry, type StoreTest, UUID } from "./storeTest.js"

/** AuditLog behaviour: record, one SUCCEEDED row per action key, findSucceeded, listForLead. */
export const auditLogCases = (test: StoreTest) => {
  test("audit record returns the stored row and findSucceeded finds it", () =>
    Effect.gen(function* () {
      const audit = yield* AuditLog
      const { lead } = yield* accept()
      const sent = entry(lead.id)
      const row = yield* audit.record(sent)
      expect(row.id).toMatch(UUID)
      expect(row).toMatchObject({
        leadId: lead.id,
        actionKey: sent.actionKey,
        tool: "upsert_lead",
        provider: "MOCK",
        status: "SUCCEEDED",
        crmId: "00Q000000000001",
        durationMs: 42
      })
      expect(row.params).toStrictEqual(sent.params)
      expect(row.result).toStrictEqual(sent.result)
      expect(row.createdAt).toBeInstanceOf(Date)
      expect(row).not.toHaveProperty("error")
      expect(yield* audit.findSucceeded(sent.actionKey)).toStrictEqual(Option.some(row))
      expect(yield* audit.findSucceeded("no-such-action")).toStrictEqual(Option.none())
    }))

  test("a second SUCCEEDED row for an action key keeps the first, even when recorded concurrently", () =>
    Effect.gen(function* () {
      const audit = yield* AuditLog
      const { lead } = yield* accept()
      const first = yield* audit.record(entry(lead.id, { actionKey: "k-1", crmId: "first" }))
      const again = yield* audit.record(entry(lead.id, { actionKey: "k-1", crmId: "second", durationMs: 7 }))
      expect(again).toStrictEqual(first)
      const raced = yield* Effect.all(
        Array.from({ length: 10 }, (_, i) => audit.record(entry(lead.id, { actionKey: "k-2", crmId: `c${i}` }))),
        { concurrency: "unbounded" }
      )
      expect(new Set(raced.map((r) => r.id)).size).toBe(1)
      const rows = yield* audit.listForLead(lead.id)
      expect(rows.map((r) => r.actionKey)).toStrictEqual(["k-1", "k-2"])
      expect(rows[0]).toStrictEqual(first)
    }))

  test("FAILED and BLOCKED rows may repeat for a key; a later SUCCEEDED is found", () =>
    Effect.gen(function* () {
      const audit = yield* AuditLog
      const { lead } = yield* accept()
      const failure = { actionKey: "k-f", status: "FAILED", crmId: undefined, result: undefined } as const
      const f1 = yield* audit.record(entry(lead.id, { ...failure, error: errorText("timeout") }))
      const f2 = yield* audit.record(entry(lead.id, { ...failure, error: errorText("503 from CRM") }))
      const blocked = yield* audit.record(entry(lead.id, { ...failure, status: "BLOCKED", error: errorText("guard") }))
      expect(new Set([f1.id, f2.id, blocked.id]).size).toBe(3)
      expect(f1).toMatchObject({ status: "FAILED", error: "timeout" })
      expect(f1).not.toHaveProperty("crmId")
      expect(f1).not.toHaveProperty("result")
      expect(yield* audit.findSucceeded("k-f")).toStrictEqual(Option.none())
      const ok = yield* audit.record(entry(lead.id, { actionKey: "k-f" }))
      expect(yield* audit.findSucceeded("k-f")).toStrictEqual(Option.some(ok))
      expect((yield* audit.listForLead(lead.id)).map((r) => r.status)).toStrictEqual([
        "FAILED",
        "FAILED",
        "BLOCKED",
        "SUCCEEDED"
      ])
    }))

  test("listForLead returns only that lead's rows, oldest first", () =>
    Effect.gen(function* () {
      const audit = yield* AuditLog
      const a = (yield* accept()).lead
      const b = (yield* accept()).lead
      const tools = ["upsert_lead", "set_score", "log_activity", "create_task"]
      const rowsA = []
      for (const tool of tools) {
        rowsA.push(yield* audit.record(entry(a.id, { tool })))
        yield* audit.record(entry(b.id, { tool }))
      }
      expect(yield* audit.listForLead(a.id)).toStrictEqual(rowsA)
      expect((yield* audit.listForLead(b.id)).map((r) => r.tool)).toStrictEqual(tools)
      expect(yield* audit.listForLead(crypto.randomUUID())).toStrictEqual([])
      expect(yield* audit.listForLead("not-a-uuid")).toStrictEqual([])
    }))
}
