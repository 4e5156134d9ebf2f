import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as MemoryAuditLog from "../../layers/memory/AuditLog.js"
import * as MemoryIdempotency from "../../layers/memory/Idempotency.js"
import { AuditLog } from "../../services/AuditLog.js"
import { CrmExecutor, CrmPermanentError } from "../../services/CrmExecutor.js"
import { Idempotency, IdempotencyUnavailable } from "../../services/Idempotency.js"
import { StoreUnavailable } from "../../services/LeadStore.js"
import { memoryEnv, sampleLead } from "../support/env.js"
import { awaitStatus, startConsumer, submit } from "../support/pipeline.js"

/**
 * When a lead's audit rows are written, seen from outside: the CRM calls, the completions Redis took and the audit
 * log's writes in the order they happened. With Redis taking each action's completion, the rows are written together
 * right after the last action, which needs no completion of its own; without Redis, each row is written before the
 * next action is sent, so a crash never leaves a completed action recorded nowhere.
 */
interface Faults {
  /** Idempotency completions fail (Redis down after the claim). */
  readonly completionsFail?: boolean
  /** The CRM refuses this tool (400). */
  readonly refuse?: string
  /** The audit log's batch writes fail this many times. */
  readonly auditWritesFail?: number
  /** The audit log's batch writes die (a defect, not a typed failure) this many times. */
  readonly auditWritesDie?: number
}

const recorded = (faults: Faults) => {
  const events: Array<string> = []
  let auditFailures = faults.auditWritesFail ?? 0
  let auditDeaths = faults.auditWritesDie ?? 0
  const crm = Layer.succeed(
    CrmExecutor,
    CrmExecutor.of({
      provider: "recording",
      execute: (call) =>
        Effect.suspend(() => {
          events.push(`crm ${call.tool}`)
          return call.tool === faults.refuse
            ? Effect.fail(new CrmPermanentError({ provider: "recording", status: 400, message: "refused" }))
            : Effect.succeed({ crmId: `id-${call.tool}` })
        })
    })
  )
  const audit = Layer.effect(
    AuditLog,
    Effect.map(MemoryAuditLog.make, (log) =>
      AuditLog.of({
        ...log,
        record: (entry) => {
          events.push(`audit ${entry.tool} ${entry.status}`)
          return log.record(entry)
        },
        recordEach: (entries) =>
          Effect.suspend(() => {
            if (auditFailures > 0) {
              auditFailures--
              return Effect.fail(new StoreUnavailable({ message: "database down" }))
            }
            if (auditDeaths > 0) {
              auditDeaths--
              return Effect.die(new Error("driver bug"))
            }
            events.push(`audit ${entries.map((entry) => `${entry.tool} ${entry.status}`).join(", ")}`)
            return log.recordEach(entries)
          })
      })
    )
  )
  const idempotency = Layer.effect(
    Idempotency,
    Effect.map(MemoryIdempotency.make, (store) =>
      Idempotency.of({
        ...store,
        complete: (key, result, ttlMs) =>
          faults.completionsFail
            ? Effect.fail(new IdempotencyUnavailable({ message: "Redis down" }))
            : Effect.zipRight(
                Effect.sync(() => events.push("completion")),
                store.complete(key, result, ttlMs)
              )
      })
    )
  )
  const env = Layer.mergeAll(memoryEnv({ env: { JOB_ATTEMPTS: "3" } }), crm, audit, idempotency)
  return { events, env }
}

const highFit = () => sampleLead({ email: `ada-${Math.random().toString(36).slice(2, 8)}@globex.com` })
const plan = ["upsert_lead", "sync_firmographics", "set_lead_score", "log_activity", "create_task"]

/**
 * Every planned action sent once, each but the last (or every one, `lastCompleted`) followed by its completion, then
 * all their rows in one write; the log holds each once, with its CRM id.
 */
const expectSentOnceAndWrittenTogether = (events: ReadonlyArray<string>, leadId: string, lastCompleted = false) =>
  Effect.gen(function* () {
    expect(events).toEqual([
      ...plan.flatMap((tool, n) =>
        n < plan.length - 1 || lastCompleted ? [`crm ${tool}`, "completion"] : [`crm ${tool}`]
      ),
      `audit ${plan.map((t) => `${t} SUCCEEDED`).join(", ")}`
    ])
    const rows = yield* Effect.flatMap(AuditLog, (log) => log.listForLead(leadId))
    expect(rows.map((row) => [row.tool, row.status, row.crmId])).toEqual(
      plan.map((tool) => [tool, "SUCCEEDED", `id-${tool}`])
    )
  })

/** A new lead submitted and the consumer started: the lead once it reaches one of `statuses`. */
const processed = (statuses: ReadonlyArray<"SYNCED" | "FAILED">) =>
  Effect.gen(function* () {
    const { lead } = yield* submit(highFit())
    yield* startConsumer
    return yield* awaitStatus(lead.id, statuses)
  })

describe("audit rows of a lead's CRM actions", () => {
  it.live("are written together right after the last action, while Redis holds each earlier completion", () => {
    const { events, env } = recorded({})
    return Effect.gen(function* () {
      const lead = yield* processed(["SYNCED"])
      yield* expectSentOnceAndWrittenTogether(events, lead.id)
    }).pipe(Effect.scoped, Effect.provide(env))
  })

  it.live("are written one by one, each before the next action is sent, when Redis cannot take completions", () => {
    const { events, env } = recorded({ completionsFail: true })
    return Effect.gen(function* () {
      yield* processed(["SYNCED"])
      expect(events).toEqual(plan.flatMap((tool) => [`crm ${tool}`, `audit ${tool} SUCCEEDED`]))
    }).pipe(Effect.scoped, Effect.provide(env))
  })

  it.live("of a run that fails midway are written, in order, with the failure's row", () => {
    const { events, env } = recorded({ refuse: "set_lead_score" })
    return Effect.gen(function* () {
      const failed = yield* processed(["FAILED"])
      expect(failed.error).toContain("refused")
      expect(events).toEqual([
        "crm upsert_lead",
        "completion",
        "crm sync_firmographics",
        "completion",
        "crm set_lead_score",
        "audit upsert_lead SUCCEEDED, sync_firmographics SUCCEEDED, set_lead_score FAILED"
      ])
    }).pipe(Effect.scoped, Effect.provide(env))
  })

  // The first attempt did every action and could not write their rows, so the last action's completion went to
  // Redis after all (on any end of the write but success, a defect too); the retry wrote every row from Redis.
  const lost: ReadonlyArray<readonly [string, Faults]> = [
    ["a database outage", { auditWritesFail: 1 }],
    ["a defect in their write", { auditWritesDie: 1 }]
  ]
  for (const [cause, faults] of lost) {
    it.live(`lost to ${cause} are rebuilt from Redis by the retry, with no action sent again`, () => {
      const { events, env } = recorded(faults)
      return Effect.gen(function* () {
        const lead = yield* processed(["SYNCED"])
        yield* expectSentOnceAndWrittenTogether(events, lead.id, true)
      }).pipe(Effect.scoped, Effect.provide(env))
    })
  }
})
