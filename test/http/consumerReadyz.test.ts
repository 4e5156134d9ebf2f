import { createServer } from "node:http"
import { describe, expect, it } from "@effect/vitest"
import * as HttpServer from "@effect/platform/HttpServer"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { consumerOpsRouter } from "../../src/programs/metricsServer.js"
import { memoryEnv, testEnv } from "../support/env.js"
import { client } from "./harness.js"
import { layerQueueSwitchable, layerStoreSwitchable, QueueOutage, StoreOutage } from "./switchable.js"

/** The consumer's ops routes on a free port, over memory services whose store and queue can be switched off. */
const served = HttpServer.serve(consumerOpsRouter).pipe(
  Layer.provideMerge(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" })),
  Layer.provideMerge(
    Layer.mergeAll(
      memoryEnv(),
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
