import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Schedule from "effect/Schedule"
import { startTcpProxy } from "../../scripts/lib/tcpProxy.js"
import { JobQueue } from "../../services/JobQueue.js"
import * as MemoryLeadStore from "../../layers/memory/LeadStore.js"
import { layerPostgres } from "../../layers/postgres/stores.js"
import { LeadStore } from "../../services/LeadStore.js"
import { memoryEnv, sampleLead } from "../support/env.js"
import { testDatabaseUrl, testSchema } from "../store/fixtures.js"
import { testDatabaseAddress, throughProxy } from "../support/servers.js"
import { expectProblem, storedLeads, withApi } from "./harness.js"

const DEADLINE_MS = 500
/** Loose: the deadline plus the time a loaded 2-core machine may take to answer. */
const ANSWERED_WITHIN_MS = DEADLINE_MS + 1500

describe("Postgres stops answering (blackholed, not refused)", () => {
  it.scopedLive(
    "every POST is a 503 + Retry-After within INGEST_STORE_TIMEOUT_MS; once it is back, new leads are 202 again",
    () =>
      Effect.gen(function* () {
        const proxy = yield* startTcpProxy(testDatabaseAddress())
        const schema = yield* testSchema
        const store = layerPostgres({
          url: Redacted.make(throughProxy(testDatabaseUrl, proxy.port)),
          schema,
          statementTimeoutMs: 1000,
          connectTimeoutMs: 1000
        }).pipe(Layer.orDie)
        const env = Layer.merge(memoryEnv({ env: { INGEST_STORE_TIMEOUT_MS: String(DEADLINE_MS) } }), store)
        yield* withApi(env, (api) =>
          Effect.gen(function* () {
            expect((yield* api.postJson("/leads", sampleLead())).status).toBe(202)
            // a few at once so the pool holds several connections when they go silent
            const before = yield* Effect.forEach([1, 2, 3, 4], () => api.postJson("/leads", sampleLead()), {
              concurrency: 4
            })
            expect(before.map((reply) => reply.status)).toEqual([202, 202, 202, 202])
            yield* proxy.blackhole

            const refusedBodies = [1, 2, 3, 4, 5, 6].map(() => sampleLead())
            const replies = yield* Effect.forEach(
              refusedBodies,
              (body) =>
                Effect.gen(function* () {
                  const started = Date.now()
                  const reply = yield* api.postJson("/leads", body)
                  return { reply, ms: Date.now() - started }
                }),
              { concurrency: 6 }
            )
            for (const { reply, ms } of replies) {
              expectProblem(reply, 503)
              expect(reply.headers["retry-after"]).toMatch(/^[1-9][0-9]*$/)
              expect(ms).toBeLessThan(ANSWERED_WITHIN_MS)
            }
            // nothing of the refused leads reached the queue
            expect((yield* Effect.flatMap(JobQueue, (queue) => queue.stats)).waiting).toBe(5)

            yield* proxy.up
            // the connections cut off stay silent: the pool must give up on them and open new ones
            // A client retrying after each 503: an insert that committed after its deadline is found as a duplicate
            // (200, the same lead), never stored twice.
            const fresh = sampleLead()
            const accepted = yield* api.postJson("/leads", fresh).pipe(
              Effect.filterOrFail(
                (reply) => reply.status === 202 || reply.status === 200,
                (reply) => new Error(`still ${reply.status}: ${reply.text}`)
              ),
              Effect.retry(Schedule.spaced("200 millis").pipe(Schedule.upTo("15 seconds")))
            )
            expect(accepted.json.status).toBe("QUEUED")
            const again = yield* api.postJson("/leads", fresh)
            expect([again.status, again.json.id]).toEqual([200, accepted.json.id])
            expect((yield* api.postJson("/leads", sampleLead())).status).toBe(202)
            // the refused leads were not stored: each retry is a new lead (202), nothing half-written
            for (const body of refusedBodies) {
              const retried = yield* api.postJson("/leads", body)
              expect(retried.status, retried.text).toBe(202)
            }
            expect(yield* storedLeads).toBe(5 + 2 + refusedBodies.length)
          })
        )
      }),
    60_000
  )
})

describe("an insert that commits after its deadline", () => {
  // The memory store, except that the first insert takes 600 ms to commit and is not abandoned when its caller
  // gives up (as a batch already sent to Postgres).
  const slowStore = Layer.effect(
    LeadStore,
    Effect.map(MemoryLeadStore.make, (inner) => {
      let first = true
      return LeadStore.of({
        ...inner,
        accept: (input) =>
          Effect.suspend(() => {
            const delay = first ? 600 : 0
            first = false
            return Effect.uninterruptible(Effect.zipRight(Effect.sleep(delay), inner.accept(input)))
          })
      })
    })
  )

  it.live("the client got 503; its retry gets 200 with that lead: not lost, not stored twice", () =>
    withApi(Layer.merge(memoryEnv({ env: { INGEST_STORE_TIMEOUT_MS: "200" } }), slowStore), (api) =>
      Effect.gen(function* () {
        const body = sampleLead()
        const refused = yield* api.postJson("/leads", body)
        expectProblem(refused, 503)
        expect(refused.headers["retry-after"]).toMatch(/^[1-9][0-9]*$/)
        yield* Effect.sleep("800 millis")
        const retried = yield* api.postJson("/leads", body)
        expect(retried.status, retried.text).toBe(200)
        expect(retried.json.lead.email).toBe(body.email)
        expect(yield* storedLeads).toBe(1)
      })
    )
  )
})
