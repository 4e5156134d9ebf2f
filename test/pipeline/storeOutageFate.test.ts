import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import * as MemoryJobQueue from "../../layers/memory/JobQueue.js"
import * as MemoryLeadStore from "../../layers/memory/LeadStore.js"
import { LeadInput } from "../../src/domain/lead.js"
import { fateOf, STORE_WAIT_MS, STORE_WAIT_REASON } from "../../src/pipeline/fate.js"
import { sweepOnce } from "../../src/pipeline/sweeper.js"
import { JobDelay, JobPermanent, JobQueue, JobRetry } from "../../services/JobQueue.js"
import { LeadStore, StoreUnavailable } from "../../services/LeadStore.js"
import { sampleLead } from "../support/env.js"

describe("a lead store that cannot take writes", () => {
  it("delays the job without spending an attempt: unreachable, read-only, a standby, a full disk", () => {
    for (const failure of [
      new StoreUnavailable({ message: "connect ECONNREFUSED 127.0.0.1:5432" }),
      new StoreUnavailable({ message: "cannot execute UPDATE in a read-only transaction", sqlState: "25006" }),
      new StoreUnavailable({ message: "could not extend file: No space left on device", sqlState: "53100" }),
      new StoreUnavailable({ message: "terminating connection due to administrator command", sqlState: "57P01" })
    ]) {
      const fate = fateOf(failure)
      expect(fate).toBeInstanceOf(JobDelay)
      expect((fate as JobDelay).delayMs).toBe(STORE_WAIT_MS)
      expect((fate as JobDelay).reason.startsWith(STORE_WAIT_REASON)).toBe(true)
    }
  })

  it("a statement the store refuses for its data still spends attempts (waiting changes nothing)", () => {
    for (const sqlState of ["22P05", "23505", "42P01"]) {
      expect(fateOf(new StoreUnavailable({ message: "refused", sqlState }))).toBeInstanceOf(JobRetry)
    }
  })
})

describe("the sweep and a job finished while its lead could not be moved on", () => {
  it.live(
    "a PROCESSING lead whose job was dead-lettered (its FAILED mark refused) runs again at the next sweep, whatever its age",
    () =>
      Effect.gen(function* () {
        const store = yield* LeadStore
        const queue = yield* JobQueue
        const { lead } = yield* store.accept({
          leadKey: "sweep-processing-1",
          source: "api",
          lead: Schema.decodeUnknownSync(LeadInput)(sampleLead()),
          status: "QUEUED"
        })
        let runs = 0
        yield* queue.consume({
          concurrency: 1,
          process: (job) =>
            Effect.gen(function* () {
              runs++
              yield* store.transition(job.leadId, ["QUEUED", "PROCESSING"], "PROCESSING")
              if (runs === 1) return yield* new JobPermanent({ reason: "dead-lettered while the store refused writes" })
              yield* store.transition(job.leadId, ["PROCESSING"], "SYNCED")
            }).pipe(Effect.mapError(fateOf)),
          // the FAILED mark did not land (the store refused writes): the lead stays PROCESSING
          onDeadLetter: () => Effect.void
        })
        yield* queue.enqueue({ leadId: lead.id })
        while ((yield* queue.stats).failed === 0) yield* Effect.sleep(10)
        expect((yield* store.get(lead.id)).status).toBe("PROCESSING")

        // seconds old, not SWEEP_PROCESSING_MIN_AGE_MS (10 minutes): its finished job is found and run again
        yield* sweepOnce({ minAgeMs: 0 })
        const started = Date.now()
        while ((yield* store.get(lead.id)).status !== "SYNCED") {
          if (Date.now() - started > 5000) throw new Error("the lead was not run again")
          yield* Effect.sleep(10)
        }
        expect(runs).toBe(2)
      }).pipe(
        Effect.scoped,
        Effect.provide(
          Layer.merge(
            MemoryLeadStore.layer,
            MemoryJobQueue.layer({ attempts: 1, backoffMs: 1, shutdownTimeoutMs: 100 })
          )
        )
      )
  )

  it.live("a PROCESSING lead whose job still runs is left alone", () =>
    Effect.gen(function* () {
      const store = yield* LeadStore
      const queue = yield* JobQueue
      const { lead } = yield* store.accept({
        leadKey: "sweep-processing-2",
        source: "api",
        lead: Schema.decodeUnknownSync(LeadInput)(sampleLead()),
        status: "QUEUED"
      })
      let runs = 0
      yield* queue.consume({
        concurrency: 1,
        process: (job) =>
          Effect.gen(function* () {
            runs++
            yield* store.transition(job.leadId, ["QUEUED", "PROCESSING"], "PROCESSING")
            yield* Effect.never
          }).pipe(Effect.mapError(fateOf)),
        onDeadLetter: () => Effect.void
      })
      yield* queue.enqueue({ leadId: lead.id })
      while ((yield* store.get(lead.id)).status !== "PROCESSING") yield* Effect.sleep(10)
      expect(yield* sweepOnce({ minAgeMs: 0 })).toBe(0)
      yield* Effect.sleep(50)
      expect(runs).toBe(1)
    }).pipe(
      Effect.scoped,
      Effect.provide(
        Layer.merge(MemoryLeadStore.layer, MemoryJobQueue.layer({ attempts: 1, backoffMs: 1, shutdownTimeoutMs: 100 }))
      )
    )
  )
})
