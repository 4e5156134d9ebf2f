import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { AuditLog } from "../../../services/AuditLog.js"
import { memoryEnv, sampleLead } from "../../support/env.js"
import { awaitStatus, startConsumer, submit } from "../../support/pipeline.js"
import { hubSpotAgainstFake } from "../../support/hubspot.js"

const domains = ["acme.com", "globex.com", "initech.com", "hooli.com"]

describe("HubSpot's burst limit counts HTTP calls", () => {
  it.scopedLive(
    "a burst of leads against 20 calls per rolling second: no 429, every lead SYNCED, nothing twice",
    () =>
      Effect.gen(function* () {
        const { fake, crm } = yield* hubSpotAgainstFake(
          { burstLimit: 20, burstIntervalMs: 1000 },
          { burst: { limit: 20, intervalMs: 1000 } }
        )
        const env = Layer.merge(memoryEnv({ env: { WORKER_CONCURRENCY: "5" } }), crm)
        const rows = yield* Effect.gen(function* () {
          // each lead makes 11-14 HTTP calls (contact, company, score, note, task or status): ~100 in all
          const leads = yield* Effect.forEach(Array.from({ length: 8 }), (_, i) =>
            submit(sampleLead({ email: `burst${i}@${domains[i % domains.length]}` }))
          )
          yield* startConsumer
          const done = yield* Effect.forEach(leads, ({ lead }) => awaitStatus(lead.id, ["SYNCED", "FAILED"], 40_000), {
            concurrency: "unbounded"
          })
          expect(done.map((lead) => lead.status)).toEqual(leads.map(() => "SYNCED"))
          const audit = yield* AuditLog
          return (yield* Effect.forEach(done, (lead) => audit.listForLead(lead.id))).flat()
        }).pipe(Effect.provide(env))

        expect(fake.throttled()).toBe(0)
        expect(fake.requests.length).toBeGreaterThan(80)
        // nothing written twice: one contact per lead, one company per domain, one task / note per action
        expect(fake.records.contacts).toHaveLength(8)
        expect((fake.records.companies ?? []).map((c) => c.properties.domain).sort()).toEqual([...domains].sort())
        const succeeded = rows.filter((row) => row.status === "SUCCEEDED")
        expect(new Set(succeeded.map((row) => row.actionKey)).size).toBe(succeeded.length)
        expect(fake.records.notes).toHaveLength(succeeded.filter((row) => row.tool === "log_activity").length)
        expect(fake.records.tasks ?? []).toHaveLength(succeeded.filter((row) => row.tool === "create_task").length)
      }),
    60_000
  )
})
