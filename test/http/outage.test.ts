import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schedule from "effect/Schedule"
import { runConsumer } from "../../src/pipeline/consumer.js"
import { sweepOnce } from "../../src/pipeline/sweeper.js"
import { JobQueue } from "../../services/JobQueue.js"
import { LeadStore } from "../../services/LeadStore.js"
import * as MemoryLeadStore from "../../layers/memory/LeadStore.js"
import { memoryEnv, sampleLead, testEnv } from "../support/env.js"
import { makeLogCapture } from "../support/logCapture.js"
import { expectProblem, withApi } from "./harness.js"
import { CheckReuseMs } from "../../src/http/opsAnswers.js"
import { layerQueueSwitchable, layerStoreSwitchable, QueueOutage, StoreOutage } from "./switchable.js"

const queueStats = Effect.flatMap(JobQueue, (queue) => queue.stats)

/** A gauge's value in a Prometheus text exposition. */
const gauge = (text: string, line: string) => {
  const found = text.split("\n").find((l) => l.startsWith(`${line} `))
  return found === undefined ? undefined : Number(found.slice(line.length + 1))
}

describe("the store is unavailable", () => {
  // each check sees the outage at once (production reuses a check's outcome for a second)
  const env = () => Layer.mergeAll(memoryEnv(), layerStoreSwitchable, Layer.succeed(CheckReuseMs, 0))

  it.live(
    "the operator sees it: dependency_up 0 on /metrics, one WARN line with the cause, reads say the store is down",
    () => {
      const capture = makeLogCapture()
      return withApi(Layer.merge(env(), capture.layer), (api) =>
        Effect.gen(function* () {
          const outage = yield* StoreOutage
          expect(gauge((yield* api.get("/metrics")).text, 'revenueflow_dependency_up{dependency="store"}')).toBe(1)
          yield* outage.down
          for (let i = 0; i < 3; i++) expectProblem(yield* api.postJson("/leads", sampleLead()), 503)
          const metrics = (yield* api.get("/metrics")).text
          expect(gauge(metrics, 'revenueflow_dependency_up{dependency="store"}')).toBe(0)
          expect(gauge(metrics, 'revenueflow_dependency_up{dependency="queue"}')).toBe(1)
          const warned = capture.lines.filter((line) => line.includes("lead store unavailable"))
          expect(warned).toHaveLength(1)
          expect(warned[0]).toMatch(/level=WARN/)
          expect(warned[0]).toContain("cause=")
          const read = yield* api.get(`/leads/${crypto.randomUUID()}`)
          expectProblem(read, 503)
          expect(read.json.detail).toBe("The lead store is unavailable; retry later.")
          yield* outage.up
          expect(gauge((yield* api.get("/metrics")).text, 'revenueflow_dependency_up{dependency="store"}')).toBe(1)
        })
      )
    }
  )

  it.live("POST is 503 + Retry-After and nothing is enqueued; GET and /readyz are 503; all recover", () =>
    withApi(env(), (api) =>
      Effect.gen(function* () {
        const outage = yield* StoreOutage
        yield* outage.down
        const body = sampleLead()
        const refused = yield* api.postJson("/leads", body)
        expectProblem(refused, 503)
        expect(refused.headers["retry-after"]).toMatch(/^[1-9][0-9]*$/)
        expect(refused.headers.location).toBeUndefined()
        expect((yield* queueStats).waiting).toBe(0)
        expectProblem(yield* api.get(`/leads/${crypto.randomUUID()}`), 503)
        const notReady = yield* api.get("/readyz")
        expect(notReady.status).toBe(503)
        expect(notReady.json.checks).toEqual({ store: "down", queue: "ok" })
        // liveness is not readiness: a store outage must not get the process restarted
        expect((yield* api.get("/healthz")).status).toBe(200)

        yield* outage.up
        const counts = yield* Effect.flatMap(LeadStore, (store) => store.countByStatus)
        expect(Object.values(counts).reduce((a, b) => a + b, 0)).toBe(0)
        const accepted = yield* api.postJson("/leads", body)
        expect(accepted.status, accepted.text).toBe(202)
        expect((yield* queueStats).waiting).toBe(1)
        expect((yield* api.get("/readyz")).status).toBe(200)
      })
    )
  )
})

describe("the queue is unavailable", () => {
  const env = () => {
    const base = memoryEnv()
    const queue = layerQueueSwitchable({
      attempts: Number(testEnv.JOB_ATTEMPTS),
      backoffMs: Number(testEnv.JOB_BACKOFF_MS),
      shutdownTimeoutMs: Number(testEnv.SHUTDOWN_TIMEOUT_MS)
    })
    return Layer.mergeAll(base, queue, Layer.succeed(CheckReuseMs, 0))
  }

  it.live("POST is still 202 with the lead RECEIVED; the sweeper enqueues it once the queue is back", () =>
    withApi(env(), (api) =>
      Effect.gen(function* () {
        const outage = yield* QueueOutage
        yield* outage.down
        const accepted = yield* api.postJson("/leads", sampleLead({ email: "grace@globex.com" }))
        expect(accepted.status, accepted.text).toBe(202)
        expect(accepted.json.status).toBe("RECEIVED")
        const path = accepted.headers.location as string
        expect((yield* api.get(path)).json.status).toBe("RECEIVED")
        const ready = yield* api.get("/readyz")
        expect(ready.status).toBe(200)
        expect(ready.json.checks).toEqual({ store: "ok", queue: "down" })
        // what pages: the ingest answers its scrape, and says the queue does not answer
        expect(gauge((yield* api.get("/metrics")).text, 'revenueflow_dependency_up{dependency="queue"}')).toBe(0)
        // a sweep while the queue is still down fails and changes nothing
        expect((yield* Effect.either(sweepOnce({ minAgeMs: 0 })))._tag).toBe("Left")
        expect((yield* api.get(path)).json.status).toBe("RECEIVED")

        yield* outage.up
        expect((yield* queueStats).waiting).toBe(0)
        expect(yield* sweepOnce({ minAgeMs: 0 })).toBe(1)
        expect((yield* queueStats).waiting).toBe(1)
        expect((yield* api.get(path)).json.status).toBe("QUEUED")
        // sweeping again is harmless: job id = lead id, so still one job
        yield* sweepOnce({ minAgeMs: 0 })
        expect((yield* queueStats).waiting).toBe(1)

        yield* runConsumer
        const synced = yield* api.get(path).pipe(
          Effect.filterOrFail(
            (reply) => reply.json?.status === "SYNCED",
            (reply) => new Error(`not synced: ${reply.text}`)
          ),
          Effect.retry(Schedule.spaced("20 millis").pipe(Schedule.upTo("10 seconds")))
        )
        expect(synced.json.actions.length).toBeGreaterThan(0)
      })
    )
  )
})

describe("an unexpected defect", () => {
  const dying = Layer.effect(
    LeadStore,
    Effect.map(MemoryLeadStore.make, (inner) =>
      LeadStore.of({ ...inner, accept: () => Effect.dieMessage("postgres://admin:hunter2@db exploded") })
    )
  )

  it.live("is a bare 500 problem that echoes nothing of the failure", () =>
    withApi(Layer.merge(memoryEnv(), dying), (api) =>
      Effect.gen(function* () {
        const reply = yield* api.postJson("/leads", sampleLead())
        expectProblem(reply, 500)
        expect(reply.text).not.toContain("hunter2")
        expect(reply.text).not.toContain("postgres")
        expect((yield* queueStats).waiting).toBe(0)
      })
    )
  )
})
