import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Effect from "effect/Effect"
import { JobQueue } from "../../services/JobQueue.js"
import { LeadStore } from "../../services/LeadStore.js"
import { Metrics } from "../../services/Metrics.js"
import { IngestApi } from "./api.js"

/** /healthz (the process is up), /readyz (the store answers; the queue is reported), /metrics. */
export const OpsLive = HttpApiBuilder.group(IngestApi, "ops", (handlers) =>
  Effect.gen(function* () {
    const store = yield* LeadStore
    const queue = yield* JobQueue
    const metrics = yield* Metrics
    return handlers
      .handle("healthz", () => Effect.succeed({ status: "ok" }))
      .handleRaw("readyz", () =>
        Effect.gen(function* () {
          const storeOk = yield* store.listByStatus({ statuses: ["RECEIVED"], olderThanMs: 0, limit: 1 }).pipe(
            Effect.timeout("2 seconds"),
            Effect.as(true),
            Effect.orElseSucceed(() => false)
          )
          // The ingest stays ready while the queue is down: leads are durable and the sweeper enqueues them later.
          const queueOk = yield* queue.stats.pipe(
            Effect.tap(metrics.queueStats),
            Effect.timeout("2 seconds"),
            Effect.as(true),
            Effect.orElseSucceed(() => false)
          )
          const body = {
            status: storeOk ? "ready" : "unavailable",
            checks: { store: storeOk ? "ok" : "down", queue: queueOk ? "ok" : "down" }
          }
          return HttpServerResponse.unsafeJson(body, { status: storeOk ? 200 : 503 })
        })
      )
      .handleRaw("metrics", () =>
        // Queue gauges are refreshed at each scrape, so either program can feed the autoscaler.
        queue.stats.pipe(
          Effect.flatMap(metrics.queueStats),
          Effect.timeout("2 seconds"),
          Effect.ignore,
          Effect.zipRight(metrics.render),
          Effect.map(({ body, contentType }) => HttpServerResponse.text(body, { contentType }))
        )
      )
  })
)
