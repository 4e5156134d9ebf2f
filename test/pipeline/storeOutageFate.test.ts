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
import { waitUntil } from "../support/poll.js"

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

/** The store and queue of these tests: one attempt, so a permanent failure dead-letters at once. */
const sweepEnv = Layer.merge(
  MemoryLeadStore.layer,
  MemoryJobQueue.layer({ attempts: 1, backoffMs: 1, shutdownTimeoutMs: 100 })
)

/**
 * A QUEUED lead, a consumer whose job marks it PROCESSING then does `rest` (its failure's fate as the pipeline
 * decides it; a dead letter is not marked FAILED, as when the store refused that write), and the lead enqueued.
 */
const processingLead = (leadKey: string, rest: (run: number, leadId: string) => Effect.Effect<void, JobPermanent>) =>
  Effect.gen(function* () {
    const store = yield* LeadStore
    const queue = yield* JobQueue
    const { lead } = yield* store.accept({
      leadKey,
      source: "api",
      lead: Schema.decodeUnknownSync(LeadInput)(sampleLead()),
      status: "QUEUED"
    })
    const runs = { count: 0 }
    yield* queue.consume({
      concurrency: 1,
      process: (job) =>
        Effect.gen(function* () {
          runs.count++
          yield* store.transition(job.leadId, ["QUEUED", "PROCESSING"], "PROCESSING")
          yield* rest(runs.count, job.leadId)
        }).pipe(Effect.mapError(fateOf)),
      onDeadLetter: () => Effect.void
    })
    yield* queue.enqueue({ leadId: lead.id })
    return { lead, runs }
  })

describe("the sweep and a job finished while its lead could not be moved on", () => {
  it.live(
    "a PROCESSING lead whose job was dead-lettered (its FAILED mark refused) runs again at the next sweep, whatever its age",
    () =>
      Effect.gen(function* () {
        const store = yield* LeadStore
        const queue = yield* JobQueue
        const { lead, runs } = yield* processingLead("sweep-processing-1", (run, leadId) =>
          run === 1
            ? Effect.fail(new JobPermanent({ reason: "dead-lettered while the store refused writes" }))
            : store.transition(leadId, ["PROCESSING"], "SYNCED").pipe(Effect.asVoid, Effect.orDie)
        )
        yield* waitUntil(
          "the job dead-lettered",
          Effect.map(queue.stats, (stats) => stats.failed > 0)
        )
        expect((yield* store.get(lead.id)).status).toBe("PROCESSING")

        // seconds old, not SWEEP_PROCESSING_MIN_AGE_MS (10 minutes): its finished job is found and run again
        yield* sweepOnce({ minAgeMs: 0 })
        yield* waitUntil(
          "the lead run again and SYNCED",
          Effect.map(store.get(lead.id), (found) => found.status === "SYNCED"),
          { timeoutMs: 5000 }
        )
        expect(runs.count).toBe(2)
      }).pipe(Effect.scoped, Effect.provide(sweepEnv))
  )

  it.live("a PROCESSING lead whose job still runs is left alone", () =>
    Effect.gen(function* () {
      const store = yield* LeadStore
      const { lead, runs } = yield* processingLead("sweep-processing-2", () => Effect.never)
      yield* waitUntil(
        "the job running",
        Effect.map(store.get(lead.id), (found) => found.status === "PROCESSING")
      )
      expect(yield* sweepOnce({ minAgeMs: 0 })).toBe(0)
      yield* Effect.sleep(50)
      expect(runs.count).toBe(1)
    }).pipe(Effect.scoped, Effect.provide(sweepEnv))
  )
})
