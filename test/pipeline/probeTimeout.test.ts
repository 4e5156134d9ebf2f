import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Schedule from "effect/Schedule"
import { processLead } from "../../src/pipeline/process.js"
import { AuditLog } from "../../services/AuditLog.js"
import { type CrmCall, CrmExecutor, CrmTransientError } from "../../services/CrmExecutor.js"
import { LeadStore } from "../../services/LeadStore.js"
import { memoryEnv, sampleLead } from "../support/env.js"
import { makeLogCapture, withMessage } from "../support/logCapture.js"
import { submit } from "../support/pipeline.js"

/**
 * The half-open probe is the lead's real CRM write. When the CRM answers it only after the probe timeout, the breaker
 * reopens at the deadline, but the write has gone out and lands: the pipeline must hear that it did (its result, its
 * SUCCEEDED row, its idempotency completion), or the job's next run sends the action a second time.
 */
const PROBE_TIMEOUT_MS = 300
const OPEN_MS = 200
/** A wait longer than a slow answer's lateness (PROBE_TIMEOUT_MS + 200 ms): the late answer comes within it. */
const LONG_OPEN_MS = 1_000

/** A CRM that fails with 503 while `down`, else makes the write at once and answers `answerAfterMs` later. */
const slowCrm = () => {
  const applied: Array<CrmCall> = []
  const crm = { down: true, answerAfterMs: 0 }
  const layer = Layer.succeed(
    CrmExecutor,
    CrmExecutor.of({
      provider: "mock",
      execute: (call) =>
        Effect.suspend(() => {
          if (crm.down) return Effect.fail(new CrmTransientError({ provider: "mock", message: "503", status: 503 }))
          applied.push(call)
          return Effect.as(Effect.sleep(crm.answerAfterMs), { crmId: `id-${call.actionKey.slice(0, 8)}` })
        })
    })
  )
  return { applied, crm, layer }
}

/** The pipeline in memory on `slowCrm`, its breaker opening at the first failure and probing each `openMs`. */
const slowCrmEnv = (openMs: number) => {
  const { applied, crm, layer } = slowCrm()
  const env = Layer.merge(
    memoryEnv({
      breaker: { consecutiveFailures: 1, probeSchedule: Schedule.spaced(openMs), probeTimeoutMs: PROBE_TIMEOUT_MS }
    }),
    layer
  )
  return { applied, crm, env, logs: makeLogCapture() }
}

describe("a half-open probe the CRM answers after the probe timeout", () => {
  it.live("each action lands at the CRM once, with one SUCCEEDED row, over the lead's runs", () => {
    const { applied, crm, env, logs } = slowCrmEnv(OPEN_MS)
    return Effect.gen(function* () {
      const { lead } = yield* submit(sampleLead())
      const job = { leadId: lead.id, attemptsMade: 0, maxAttempts: 5 }
      const audit = yield* AuditLog
      const succeeded = Effect.map(audit.listForLead(lead.id), (rows) =>
        rows.filter((row) => row.status === "SUCCEEDED")
      )

      // run 1: the CRM is down, the first action fails and the breaker opens
      expect(Exit.isFailure(yield* Effect.exit(processLead(job)))).toBe(true)
      expect(applied).toHaveLength(0)

      // the CRM recovers but answers slower than the probe timeout (well within its own deadline)
      crm.down = false
      crm.answerAfterMs = PROBE_TIMEOUT_MS + 200
      yield* Effect.sleep(OPEN_MS + 50)
      // run 2: its first action is the half-open probe, answered after the breaker already reopened at the deadline
      yield* Effect.exit(processLead(job))
      const afterProbe = yield* succeeded
      // the breaker did not wait for the slow answer: it reopened at the probe deadline
      expect(
        withMessage(logs.lines, "circuit breaker opened").filter((line) =>
          line.includes(`the half-open probe got no answer within ${PROBE_TIMEOUT_MS} ms`)
        ).length
      ).toBeGreaterThanOrEqual(1)
      expect(applied.length).toBeGreaterThanOrEqual(1)
      const probed = applied[0]!

      // the CRM answers at once again: the job's next runs finish the lead
      crm.answerAfterMs = 0
      let done = false
      for (let run = 0; run < 5 && !done; run++) {
        yield* Effect.sleep(OPEN_MS + 50)
        done = Exit.isSuccess(yield* Effect.exit(processLead(job)))
      }
      expect(done, "the lead's runs did not finish").toBe(true)
      expect((yield* Effect.flatMap(LeadStore, (store) => store.get(lead.id))).status).toBe("SYNCED")

      // each action landed at the CRM exactly once
      const landed = new Map<string, number>()
      for (const call of applied)
        landed.set(`${call.tool} ${call.actionKey}`, (landed.get(`${call.tool} ${call.actionKey}`) ?? 0) + 1)
      expect(
        [...landed].filter(([, n]) => n !== 1),
        "actions sent to the CRM more than once"
      ).toEqual([])

      // one SUCCEEDED row per action, for exactly the actions that landed
      const rows = yield* succeeded
      expect(rows.map((row) => row.actionKey).sort()).toEqual(
        [...new Set(applied.map((call) => call.actionKey))].sort()
      )
      expect(new Set(rows.map((row) => row.tool)).size).toBe(rows.length)

      // the probe's own outcome reached the pipeline in run 2: its write is recorded as SUCCEEDED there
      expect(afterProbe.map((row) => row.actionKey)).toContain(probed.actionKey)
    }).pipe(Effect.provide(env), Effect.provide(logs.layer))
  })
  it.live(
    "a CRM that stays slower than the probe timeout: the late answer closes the breaker, the lead finishes",
    () => {
      const { applied, crm, env, logs } = slowCrmEnv(LONG_OPEN_MS)
      return Effect.gen(function* () {
        const { lead } = yield* submit(sampleLead())
        const job = { leadId: lead.id, attemptsMade: 0, maxAttempts: 5 }
        // run 1: the CRM is down, the breaker opens
        expect(Exit.isFailure(yield* Effect.exit(processLead(job)))).toBe(true)
        // it comes back, and from now on every answer takes longer than the probe timeout (within its own deadline)
        crm.down = false
        crm.answerAfterMs = PROBE_TIMEOUT_MS + 200
        yield* Effect.sleep(LONG_OPEN_MS + 50)
        // run 2: the probe is answered late, within the breaker's next wait; that answer closed the breaker, so the
        // run's later actions went through (each slow, each answered): the lead is done in this run
        const second = yield* Effect.exit(processLead(job))
        expect(Exit.isSuccess(second), "run 2 did not finish the lead").toBe(true)
        expect(withMessage(logs.lines, "circuit breaker closed")).toHaveLength(1)
        expect((yield* Effect.flatMap(LeadStore, (store) => store.get(lead.id))).status).toBe("SYNCED")
        expect(applied.length, "the lead has more than one action").toBeGreaterThan(1)
        expect(new Set(applied.map((call) => call.actionKey)).size).toBe(applied.length)
      }).pipe(Effect.provide(env), Effect.provide(logs.layer))
    }
  )
})
