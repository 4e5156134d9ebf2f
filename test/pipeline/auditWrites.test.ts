import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as MemoryAuditLog from "../../layers/memory/AuditLog.js"
import * as MemoryIdempotency from "../../layers/memory/Idempotency.js"
import { AuditLog } from "../../services/AuditLog.js"
import { signatureOf } from "../../scripts/lib/crmLedger.js"
import type { CrmRecord } from "../../scripts/lib/crmProxy.js"
import { Idempotency, IdempotencyUnavailable } from "../../services/Idempotency.js"
import { StoreUnavailable } from "../../services/LeadStore.js"
import type { FakeHubSpot } from "../fakes/hubspot.js"
import { memoryEnv, sampleLead } from "../support/env.js"
import { hubSpotBehindProxy } from "../support/hubspot.js"
import { awaitStatus, startConsumer, submit } from "../support/pipeline.js"

/**
 * When a lead's audit rows are written, seen from outside: the CRM calls (the real HubSpot executor against the fake
 * HubSpot, as the recording proxy in front of it received them), the completions Redis took and the audit log's
 * writes in the order they happened. With Redis taking each action's completion, the rows are written together
 * right after the last action, which needs no completion of its own; without Redis, each row is written before the
 * next action is sent, so a crash never leaves a completed action recorded nowhere.
 */
interface Faults {
  /** Idempotency completions fail (Redis down after the claim). */
  readonly completionsFail?: boolean
  /** The CRM refuses this tool's write (HubSpot's 400 VALIDATION_ERROR). */
  readonly refuse?: string
  /** The audit log's batch writes fail this many times. */
  readonly auditWritesFail?: number
  /** The audit log's batch writes die (a defect, not a typed failure) this many times. */
  readonly auditWritesDie?: number
}

/**
 * The tool whose write a HubSpot request is: a contact or engagement upsert carrying the action (signatureOf), or the
 * company upsert of sync_firmographics; undefined for the steps around them (reads, searches, associations).
 */
const toolOf = (request: Pick<CrmRecord, "method" | "path" | "json">) =>
  request.method === "POST" && request.path === "/crm/v3/objects/companies/batch/upsert"
    ? "sync_firmographics"
    : signatureOf({ ...request, body: "" } as unknown as CrmRecord)?.tool

const recorded = (faults: Faults) =>
  Effect.gen(function* () {
    const { fake, proxy, crm } = yield* hubSpotBehindProxy()
    if (faults.refuse !== undefined) {
      const tool = faults.refuse
      fake.failNext(
        { status: 400, body: { status: "error", message: "refused", category: "VALIDATION_ERROR" } },
        1,
        (request) => toolOf(request) === tool
      )
    }
    // what happened in this process, each with how many requests the CRM side had received by then
    const local: Array<{ readonly event: string; readonly crmSeen: number }> = []
    const note = (event: string) => local.push({ event, crmSeen: proxy.records.length })
    /** The CRM's writes (`crm <tool>`) and this process's events, in the order they happened. */
    const events = () => {
      const out: Array<string> = []
      let next = 0
      const crmUpTo = (seen: number) => {
        for (; next < seen; next++) {
          const tool = toolOf(proxy.records[next]!)
          if (tool !== undefined) out.push(`crm ${tool}`)
        }
      }
      for (const { event, crmSeen } of local) {
        crmUpTo(crmSeen)
        out.push(event)
      }
      crmUpTo(proxy.records.length)
      return out
    }
    let auditFailures = faults.auditWritesFail ?? 0
    let auditDeaths = faults.auditWritesDie ?? 0
    const audit = Layer.effect(
      AuditLog,
      Effect.map(MemoryAuditLog.make, (log) =>
        AuditLog.of({
          ...log,
          record: (entry) => {
            note(`audit ${entry.tool} ${entry.status}`)
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
              note(`audit ${entries.map((entry) => `${entry.tool} ${entry.status}`).join(", ")}`)
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
                  Effect.sync(() => note("completion")),
                  store.complete(key, result, ttlMs)
                )
        })
      )
    )
    const env = Layer.mergeAll(memoryEnv({ env: { JOB_ATTEMPTS: "3" } }), crm, audit, idempotency)
    return { events, env, fake }
  })

const highFit = () => sampleLead({ email: `ada-${Math.random().toString(36).slice(2, 8)}@globex.com` })
const plan = ["upsert_lead", "sync_firmographics", "set_lead_score", "log_activity", "create_task"]

/**
 * Every planned action sent once, each but the last (or every one, `lastCompleted`) followed by its completion, then
 * all their rows in one write; the log holds each once, with the id of the HubSpot object it wrote.
 */
const expectSentOnceAndWrittenTogether = (
  events: ReadonlyArray<string>,
  leadId: string,
  fake: FakeHubSpot,
  lastCompleted = false
) =>
  Effect.gen(function* () {
    expect(events).toEqual([
      ...plan.flatMap((tool, n) =>
        n < plan.length - 1 || lastCompleted ? [`crm ${tool}`, "completion"] : [`crm ${tool}`]
      ),
      `audit ${plan.map((t) => `${t} SUCCEEDED`).join(", ")}`
    ])
    const rows = yield* Effect.flatMap(AuditLog, (log) => log.listForLead(leadId))
    expect(rows.map((row) => [row.tool, row.status, row.crmId])).toEqual(
      plan.map((tool) => [tool, "SUCCEEDED", crmIdOf(fake, tool)])
    )
  })

/** The id of the one object the fake holds for a tool's write (one lead per test: one contact, company, note, task). */
const crmIdOf = (fake: FakeHubSpot, tool: string) => {
  const type = objectTypeOf[tool] ?? ""
  const objects = fake.records[type] ?? []
  expect(objects, type).toHaveLength(1)
  return objects[0]?.id
}
const objectTypeOf: Record<string, string> = {
  upsert_lead: "contacts",
  sync_firmographics: "companies",
  set_lead_score: "contacts",
  log_activity: "notes",
  create_task: "tasks"
}

/** A new lead submitted and the consumer started: the lead once it reaches one of `statuses`. */
const processed = (statuses: ReadonlyArray<"SYNCED" | "FAILED">) =>
  Effect.gen(function* () {
    const { lead } = yield* submit(highFit())
    yield* startConsumer
    return yield* awaitStatus(lead.id, statuses)
  })

describe("audit rows of a lead's CRM actions", () => {
  it.scopedLive("are written together right after the last action, while Redis holds each earlier completion", () =>
    Effect.gen(function* () {
      const { events, env, fake } = yield* recorded({})
      yield* Effect.gen(function* () {
        const lead = yield* processed(["SYNCED"])
        yield* expectSentOnceAndWrittenTogether(events(), lead.id, fake)
      }).pipe(Effect.scoped, Effect.provide(env))
    })
  )

  it.scopedLive("are written one by one, each before the next action is sent, when Redis cannot take completions", () =>
    Effect.gen(function* () {
      const { events, env } = yield* recorded({ completionsFail: true })
      yield* Effect.gen(function* () {
        yield* processed(["SYNCED"])
        expect(events()).toEqual(plan.flatMap((tool) => [`crm ${tool}`, `audit ${tool} SUCCEEDED`]))
      }).pipe(Effect.scoped, Effect.provide(env))
    })
  )

  it.scopedLive(
    "of an action neither Redis nor the database takes at first are written once one does, nothing sent again",
    () =>
      Effect.gen(function* () {
        // Redis down, and the database's first two writes fail: the run keeps trying to record what the CRM did
        // before it sends anything else (it failed, the row lost, and its retry sent the action again)
        const { events, env } = yield* recorded({ completionsFail: true, auditWritesFail: 2 })
        yield* Effect.gen(function* () {
          yield* processed(["SYNCED"])
          expect(events()).toEqual(plan.flatMap((tool) => [`crm ${tool}`, `audit ${tool} SUCCEEDED`]))
        }).pipe(Effect.scoped, Effect.provide(env))
      })
  )

  it.scopedLive("of a run that fails midway are written, in order, with the failure's row", () =>
    Effect.gen(function* () {
      const { events, env } = yield* recorded({ refuse: "set_lead_score" })
      yield* Effect.gen(function* () {
        const failed = yield* processed(["FAILED"])
        expect(failed.error).toContain("refused")
        expect(events()).toEqual([
          "crm upsert_lead",
          "completion",
          "crm sync_firmographics",
          "completion",
          "crm set_lead_score",
          "audit upsert_lead SUCCEEDED, sync_firmographics SUCCEEDED, set_lead_score FAILED"
        ])
      }).pipe(Effect.scoped, Effect.provide(env))
    })
  )

  // The first attempt did every action and could not write their rows, so the last action's completion went to
  // Redis after all (on any end of the write but success, a defect too); the retry wrote every row from Redis.
  const lost: ReadonlyArray<readonly [string, Faults]> = [
    ["a database outage", { auditWritesFail: 1 }],
    ["a defect in their write", { auditWritesDie: 1 }]
  ]
  for (const [cause, faults] of lost) {
    it.scopedLive(`lost to ${cause} are rebuilt from Redis by the retry, with no action sent again`, () =>
      Effect.gen(function* () {
        const { events, env, fake } = yield* recorded(faults)
        yield* Effect.gen(function* () {
          const lead = yield* processed(["SYNCED"])
          yield* expectSentOnceAndWrittenTogether(events(), lead.id, fake, true)
        }).pipe(Effect.scoped, Effect.provide(env))
      })
    )
  }
})
