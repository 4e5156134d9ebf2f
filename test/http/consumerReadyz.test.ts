import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as MetricsServer from "../../src/programs/metricsServer.js"
import { memoryEnv, testEnv } from "../support/env.js"
import { client, expectProblem } from "./harness.js"
import { CheckReuseMs } from "../../src/http/opsAnswers.js"
import { layerQueueSwitchable, layerStoreSwitchable, QueueOutage, StoreOutage } from "./switchable.js"

/** The consumer's ops routes on a free port, over memory services whose store and queue can be switched off. */
const served = MetricsServer.layer({ port: 0, host: "127.0.0.1" }, 1_000).pipe(
  Layer.provideMerge(
    Layer.mergeAll(
      memoryEnv(),
      // each check sees the outage at once (production reuses a check's outcome for a second)
      Layer.succeed(CheckReuseMs, 0),
      layerStoreSwitchable,
      layerQueueSwitchable({
        attempts: Number(testEnv.JOB_ATTEMPTS),
        backoffMs: Number(testEnv.JOB_BACKOFF_MS),
        shutdownTimeoutMs: Number(testEnv.SHUTDOWN_TIMEOUT_MS)
      })
    )
  )
)

describe("consumer /readyz", () => {
  it.scopedLive(
    "/metrics renders the metrics as Prometheus text; any other path is a 404 problem, another method 405",
    () =>
      Effect.gen(function* () {
        const api = yield* client
        const metrics = yield* api.get("/metrics")
        expect(metrics.status).toBe(200)
        expect(metrics.headers["content-type"]).toMatch(/^text\/plain/)
        expect(metrics.text).toContain("# TYPE revenueflow_queue_jobs gauge")
        expectProblem(yield* api.get("/leads"), 404)
        const wrongMethod = yield* api.send("POST", "/readyz")
        expectProblem(wrongMethod, 405)
        expect(wrongMethod.headers.allow).toBe("GET")
        expect((yield* api.get("/healthz?probe=1")).json).toEqual({ status: "ok" })
      }).pipe(Effect.provide(served))
  )

  it.scopedLive("503 naming what is down while the queue or the store is unreachable; 200 when both answer", () =>
    Effect.gen(function* () {
      const api = yield* client
      const queue = yield* QueueOutage
      const store = yield* StoreOutage
      const ready = yield* api.get("/readyz")
      expect([ready.status, ready.json]).toEqual([200, { status: "ready", checks: { store: "ok", queue: "ok" } }])

      yield* queue.down
      const noQueue = yield* api.get("/readyz")
      expect([noQueue.status, noQueue.json]).toEqual([
        503,
        { status: "unavailable", checks: { store: "ok", queue: "down" } }
      ])
      // liveness is not readiness: an outage must not get the process restarted
      expect((yield* api.get("/healthz")).status).toBe(200)

      yield* queue.up
      yield* store.down
      const noStore = yield* api.get("/readyz")
      expect([noStore.status, noStore.json.checks]).toEqual([503, { store: "down", queue: "ok" }])

      yield* store.up
      expect((yield* api.get("/readyz")).status).toBe(200)
    }).pipe(Effect.provide(served))
  )
})
