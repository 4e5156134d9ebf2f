import { expect } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { errorText } from "../../src/domain/redact.js"
import { AuditLog } from "../../services/AuditLog.js"
import { accept, entry, type StoreTest, UUID } from "./storeTest.js"

/** AuditLog behaviour: record, recordEach, one SUCCEEDED row per action key, findSucceeded, listForLead. */
export const auditLogCases = (test: StoreTest, options: { readonly checksLeadIds: boolean }) => {
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

  test("recordEach appends rows in the given order and answers each as record would", () =>
    Effect.gen(function* () {
      const audit = yield* AuditLog
      const { lead } = yield* accept()
      expect(yield* audit.recordEach([])).toStrictEqual([])
      const earlier = yield* audit.record(entry(lead.id, { actionKey: "k-done", crmId: "earlier" }))
      const failed = {
        status: "FAILED",
        crmId: undefined,
        result: undefined,
        error: errorText("503 from CRM")
      } as const
      const batch = [
        entry(lead.id, { actionKey: "k-a", tool: "upsert_lead", result: undefined, source: "mcp" }),
        entry(lead.id, { actionKey: "k-done", tool: "set_score", crmId: "later" }),
        entry(lead.id, { actionKey: "k-b", tool: "log_activity", ...failed }),
        entry(lead.id, { actionKey: "k-b", tool: "log_activity", ...failed }),
        entry(lead.id, { actionKey: "k-c", tool: "create_task", durationMs: 7.6 }),
        entry(lead.id, { actionKey: "k-c", tool: "create_task", crmId: "second in the batch" })
      ]
      const rows = yield* audit.recordEach(batch)
      expect(rows.map((row) => [row.actionKey, row.status])).toStrictEqual([
        ["k-a", "SUCCEEDED"],
        ["k-done", "SUCCEEDED"],
        ["k-b", "FAILED"],
        ["k-b", "FAILED"],
        ["k-c", "SUCCEEDED"],
        ["k-c", "SUCCEEDED"]
      ])
      // a key that already had its SUCCEEDED row keeps it, in the batch as outside it
      expect(rows[1]).toStrictEqual(earlier)
      expect(rows[5]).toStrictEqual(rows[4])
      expect(rows[4]).toMatchObject({ crmId: "00Q000000000001", durationMs: 8 })
      expect(rows[0]).toMatchObject({ source: "mcp", params: batch[0]!.params })
      expect(rows[0]).not.toHaveProperty("result")
      expect(rows[2]).toMatchObject({ error: "503 from CRM" })
      expect(rows[2]).not.toHaveProperty("crmId")
      expect(rows[2]!.id).not.toBe(rows[3]!.id)
      // the log holds each row once, in order after what was there
      const listed = yield* audit.listForLead(lead.id)
      expect(listed.map((row) => row.id)).toStrictEqual([
        earlier.id,
        rows[0]!.id,
        rows[2]!.id,
        rows[3]!.id,
        rows[4]!.id
      ])
      expect(yield* audit.findSucceeded("k-c")).toStrictEqual(Option.some(rows[4]))
    }))

  if (options.checksLeadIds)
    test("recordEach writes nothing when one of its rows is refused", () =>
      Effect.gen(function* () {
        const audit = yield* AuditLog
        const { lead } = yield* accept()
        const refused = yield* audit
          .recordEach([entry(lead.id, { actionKey: "k-1" }), entry(crypto.randomUUID(), { actionKey: "k-2" })])
          .pipe(Effect.flip)
        expect(refused._tag).toBe("StoreUnavailable")
        expect(yield* audit.listForLead(lead.id)).toStrictEqual([])
        expect(yield* audit.findSucceeded("k-1")).toStrictEqual(Option.none())
      }))
}
