import { createServer } from "node:http"
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServer from "@effect/platform/HttpServer"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { AppConfig } from "../../services/AppConfig.js"
import { JobQueue } from "../../services/JobQueue.js"
import { LeadStore } from "../../services/LeadStore.js"
import { Metrics } from "../../services/Metrics.js"
import { layerContext } from "../http/platform.js"

/** How long each readiness check may take: a dependency that does not answer by then counts as down. */
const CHECK_TIMEOUT = "2 seconds"

/** Refresh queue gauges, then render: the autoscaling signals are current at every scrape. */
const scrape = Effect.gen(function* () {
  const metrics = yield* Metrics
  const queue = yield* JobQueue
  yield* queue.stats.pipe(Effect.flatMap(metrics.queueStats), Effect.timeout("2 seconds"), Effect.ignore)
  const { body, contentType } = yield* metrics.render
  return HttpServerResponse.text(body, { contentType })
})

const answers = <A, E, R>(check: Effect.Effect<A, E, R>) =>
  check.pipe(
    Effect.timeout(CHECK_TIMEOUT),
    Effect.as("ok" as const),
    Effect.orElseSucceed(() => "down" as const)
  )

/**
 * Ready when the consumer can work: it needs both the queue (its jobs) and the store (the leads). 503 names what is
 * down, so a load balancer or orchestrator stops counting on this replica until both answer again.
 */
const readiness = Effect.gen(function* () {
  const store = yield* LeadStore
  const queue = yield* JobQueue
  const [storeCheck, queueCheck] = yield* Effect.all(
    [answers(store.listByStatus({ statuses: ["RECEIVED"], olderThanMs: 0, limit: 1 })), answers(queue.stats)],
    { concurrency: 2 }
  )
  const ready = storeCheck === "ok" && queueCheck === "ok"
  return HttpServerResponse.unsafeJson(
    { status: ready ? "ready" : "unavailable", checks: { store: storeCheck, queue: queueCheck } },
    { status: ready ? 200 : 503 }
  )
})

/** The consumer's operations routes: /metrics, /healthz (the process is up), /readyz (queue and store answer). */
export const consumerOpsRouter = HttpRouter.empty.pipe(
  HttpRouter.get("/metrics", scrape),
  HttpRouter.get("/healthz", HttpServerResponse.unsafeJson({ status: "ok" })),
  HttpRouter.get("/readyz", readiness)
)

/** The consumer's /metrics, /healthz and /readyz on METRICS_PORT. */
export const MetricsServerLive = Layer.unwrapEffect(
  Effect.map(AppConfig, (config) =>
    HttpServer.serve(consumerOpsRouter).pipe(
      HttpServer.withLogAddress,
      // the HttpServer stays in the output: the banner says the port it is bound to (METRICS_PORT=0)
      Layer.provideMerge(
        Layer.merge(
          Layer.scoped(
            HttpServer.HttpServer,
            NodeHttpServer.make(createServer, { port: config.metricsPort, host: config.host })
          ),
          layerContext
        )
      )
    )
  )
)
