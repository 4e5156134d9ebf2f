import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import { MockCrmControl } from "../../layers/mock/CrmExecutor.js"
import { AuditLog } from "../../services/AuditLog.js"
import { Idempotency } from "../../services/Idempotency.js"
import { LeadStore } from "../../services/LeadStore.js"
import { processLead } from "../../src/pipeline/process.js"
import { backends, sampleLead } from "../support/env.js"
import { submit } from "../support/pipeline.js"

// A run longer than IDEMPOTENCY_IN_PROGRESS_TTL_MS: each CRM call well inside CRM_TIMEOUT_MS, but the lead's five
// actions one after another take ~3.5 s against a 1.5 s claim. The claims were taken once, for every action, and
// lapsed while the run went on: a second delivery of the job (SQS's at-least-once, a BullMQ lock lost in a Redis
// failover, a stalled worker) claimed the later actions and sent them too.
const slowCrm = {
  crmLatencyMs: 700,
  env: { IDEMPOTENCY_IN_PROGRESS_TTL_MS: "1500", CRM_TIMEOUT_MS: "1000" }
}

describe.each(backends)("a run longer than its claims' TTL, on %s", (_name, makeEnv) => {
  it.live(
    "keeps them while it works: a second delivery meanwhile sends nothing, and each action is written once",
    () =>
      Effect.gen(function* () {
        const { lead } = yield* submit(
          sampleLead({ email: `ada-${Math.random().toString(36).slice(2, 8)}@globex.com` })
        )
        const job = { leadId: lead.id, attemptsMade: 0, maxAttempts: 3 }
        const first = yield* Effect.fork(Effect.exit(processLead(job)))
        // past the claims' TTL, with the first run still sending
        yield* Effect.sleep("1600 millis")
        const second = yield* Effect.exit(processLead(job))
        expect(Exit.isSuccess(yield* Fiber.join(first))).toBe(true)
        // the second delivery found the actions held (a delay, "in progress elsewhere") or the lead done
        expect(Exit.isFailure(second)).toBe(true)

        const applied = yield* Effect.flatMap(MockCrmControl, (crm) => crm.applied)
        const times = new Map<string, number>()
        for (const call of applied) times.set(call.actionKey, (times.get(call.actionKey) ?? 0) + 1)
        expect(applied.length).toBeGreaterThanOrEqual(4)
        expect(
          [...times.values()].every((n) => n === 1),
          `written more than once: ${applied.map((c) => c.tool)}`
        ).toBe(true)
        const rows = yield* Effect.flatMap(AuditLog, (audit) => audit.listForLead(lead.id))
        expect(rows.filter((row) => row.status === "SUCCEEDED")).toHaveLength(applied.length)
        expect((yield* Effect.flatMap(LeadStore, (store) => store.get(lead.id))).status).toBe("SYNCED")
      }).pipe(Effect.scoped, Effect.provide(makeEnv(slowCrm))),
    20_000
  )

  it.live(
    "lets go of its claims when it ends: none is held for the life of the process",
    () =>
      Effect.gen(function* () {
        const { lead } = yield* submit(
          sampleLead({ email: `ada-${Math.random().toString(36).slice(2, 8)}@globex.com` })
        )
        yield* processLead({ leadId: lead.id, attemptsMade: 0, maxAttempts: 3 })
        const rows = yield* Effect.flatMap(AuditLog, (audit) => audit.listForLead(lead.id))
        expect(rows.length).toBeGreaterThanOrEqual(4)
        // the last action's claim is recorded by its audit row, not completed: it must lapse as a claim does
        yield* Effect.sleep("2 seconds")
        const idempotency = yield* Idempotency
        const claims = yield* idempotency.beginEach(
          rows.map((row) => row.actionKey),
          60_000
        )
        expect(claims.filter((claim) => claim._tag === "InProgress")).toEqual([])
      }).pipe(
        Effect.scoped,
        Effect.provide(makeEnv({ env: { IDEMPOTENCY_IN_PROGRESS_TTL_MS: "1500", CRM_TIMEOUT_MS: "1000" } }))
      ),
    20_000
  )
})
