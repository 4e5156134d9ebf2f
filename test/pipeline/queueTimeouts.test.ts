import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import * as MemoryLeadStore from "../../layers/memory/LeadStore.js"
import * as Metrics from "../../layers/observability/Metrics.js"
import { acceptLead } from "../../src/pipeline/accept.js"
import { sweepOnce } from "../../src/pipeline/sweeper.js"
import { LeadInput } from "../../src/domain/lead.js"
import { JobQueue, type LeadJob, QueueUnavailable } from "../../services/JobQueue.js"
import { LeadStore } from "../../services/LeadStore.js"
import { sampleLead } from "../support/env.js"

const decode = Schema.decodeUnknownSync(LeadInput)

/** A queue that answers nothing: each enqueue waits out its deadline, then fails (a frozen Redis connection). */
const frozenQueue = (state: { frozen: boolean; calls: number; jobs: Array<LeadJob> }, deadlineMs: number) =>
  Layer.succeed(
    JobQueue,
    JobQueue.of({
      enqueue: (job) =>
        Effect.suspend(() => {
          state.calls++
          return state.frozen
            ? Effect.zipRight(
                Effect.sleep(deadlineMs),
                Effect.fail(new QueueUnavailable({ message: `enqueue failed: timed out after ${deadlineMs} ms` }))
              )
            : Effect.sync(() => void state.jobs.push(job))
        }),
      stats: Effect.die("unused"),
      deadLetters: () => Effect.succeed([]),
      replay: () => Effect.succeed(false),
      consume: () => Effect.void
    })
  )

describe("ingest while the queue keeps timing out", () => {
  it.live(
    "does not wait the queue's deadline per lead: leads are stored RECEIVED at once and the sweeper enqueues them",
    () => {
      const state = { frozen: true, calls: 0, jobs: [] as Array<LeadJob> }
      const deadlineMs = 400
      return Effect.gen(function* () {
        const store = yield* LeadStore
        const started = Date.now()
        const accepted = []
        for (let i = 0; i < 10; i++) {
          accepted.push(yield* acceptLead(decode(sampleLead({ email: `lead${i}@globex.com` })), "api"))
        }
        const elapsed = Date.now() - started
        // the first lead meets the timeout; the next ones, within the skip window, do not wait for it again
        expect(elapsed).toBeLessThan(deadlineMs * 2)
        expect(state.calls).toBe(1)
        for (const { lead, created } of accepted) {
          expect(created).toBe(true)
          expect(lead.status).toBe("RECEIVED")
          // acknowledged only when durable: it is in the store, where the sweeper finds it
          expect((yield* store.get(lead.id)).status).toBe("RECEIVED")
        }

        // the queue is back: the sweep enqueues every one of them, and a new lead goes to the queue again at once
        state.frozen = false
        expect(yield* sweepOnce({ minAgeMs: 0 })).toBe(10)
        expect(new Set(state.jobs.map((job) => job.leadId))).toEqual(new Set(accepted.map(({ lead }) => lead.id)))
        yield* Effect.sleep("1100 millis")
        const later = yield* acceptLead(decode(sampleLead({ email: "later@globex.com" })), "api")
        expect(later.lead.status).toBe("QUEUED")
        expect(state.jobs.map((job) => job.leadId)).toContain(later.lead.id)
      }).pipe(Effect.provide(Layer.mergeAll(MemoryLeadStore.layer, Metrics.layerTest, frozenQueue(state, deadlineMs))))
    }
  )
})
