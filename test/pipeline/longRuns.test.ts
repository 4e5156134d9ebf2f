import { describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import { Redis } from "ioredis"
import { MockCrmControl } from "../../layers/mock/CrmExecutor.js"
import { AuditLog } from "../../services/AuditLog.js"
import { type CrmCall, CrmExecutor } from "../../services/CrmExecutor.js"
import { Idempotency } from "../../services/Idempotency.js"
import { LeadStore } from "../../services/LeadStore.js"
import { processLead } from "../../src/pipeline/process.js"
import { backends, productionEnv, sampleLead } from "../support/env.js"
import { makeLogCapture, withMessage } from "../support/logCapture.js"
import { submit } from "../support/pipeline.js"
import { redisUrl } from "../support/redis.js"

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

describe("a run whose claims were taken from it, on postgres + redis + bullmq", () => {
  it.live(
    "stops before sending the next action: only the claims' new holder sends them",
    () => {
      const redis = new Redis(Redacted.value(redisUrl))
      const sent: Array<CrmCall> = []
      /**
       * While the lead's first action is at the CRM, its other claims are lost and taken by another worker: deleted
       * (a Redis failover that lost them) and set again with that worker's marker, as its own claim would be.
       */
      const takeTheOthers = (first: CrmCall) =>
        Effect.promise(async () => {
          const [mine] = await redis.keys(`rf-test-*:idem:${first.actionKey}`)
          const prefix = mine!.slice(0, -first.actionKey.length)
          for (const key of await redis.keys(`${prefix}*`)) {
            if (key !== mine) await redis.set(key, "inprogress:another-worker.1", "PX", 60_000)
          }
        })
      const crm = Layer.succeed(
        CrmExecutor,
        CrmExecutor.of({
          provider: "mock",
          execute: (call) =>
            Effect.suspend(() => {
              sent.push(call)
              return Effect.zipRight(
                sent.length === 1 ? takeTheOthers(call) : Effect.void,
                Effect.as(Effect.sleep("2 seconds"), { crmId: `id-${sent.length}` })
              )
            })
        })
      )
      const logs = makeLogCapture()
      return Effect.gen(function* () {
        const { lead } = yield* submit(
          sampleLead({ email: `ada-${Math.random().toString(36).slice(2, 8)}@globex.com` })
        )
        const exit = yield* Effect.exit(processLead({ leadId: lead.id, attemptsMade: 0, maxAttempts: 3 }))
        // the renewal a third of the way into the 3 s TTL (1 s in) found them taken, a second before the first
        // action's answer: the run stopped after that action
        expect(sent.map((call) => call.tool)).toHaveLength(1)
        const delay = Exit.isFailure(exit) ? Option.getOrUndefined(Cause.failureOption(exit.cause)) : undefined
        expect(delay).toMatchObject({ _tag: "JobDelay", delayMs: 5_000 })
        expect(withMessage(logs.lines, "CRM action's claim was lost before it was sent; job delayed 5 s")).toHaveLength(
          1
        )
        // the first action is recorded as done; the lead waits for the other holder (or its claims' expiry)
        const rows = yield* Effect.flatMap(AuditLog, (audit) => audit.listForLead(lead.id))
        expect(rows.filter((row) => row.status === "SUCCEEDED").map((row) => row.actionKey)).toEqual([
          sent[0]!.actionKey
        ])
        expect((yield* Effect.flatMap(LeadStore, (store) => store.get(lead.id))).status).not.toBe("SYNCED")
      }).pipe(
        Effect.scoped,
        Effect.provide(
          Layer.merge(productionEnv({ env: { IDEMPOTENCY_IN_PROGRESS_TTL_MS: "3000", CRM_TIMEOUT_MS: "2500" } }), crm)
        ),
        Effect.provide(logs.layer),
        Effect.ensuring(Effect.promise(() => redis.quit()))
      )
    },
    20_000
  )
})
