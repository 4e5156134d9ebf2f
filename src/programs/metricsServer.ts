import { createServer } from "node:http"
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServer from "@effect/platform/HttpServer"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { AppConfig } from "../../services/AppConfig.js"
import { JobQueue } from "../../services/JobQueue.js"
import { Metrics } from "../../services/Metrics.js"

/** Refresh queue gauges, then render: the autoscaling signals are current at every scrape. */
const scrape = Effect.gen(function* () {
  const metrics = yield* Metrics
  const queue = yield* JobQueue
  yield* queue.stats.pipe(Effect.flatMap(metrics.queueStats), Effect.timeout("2 seconds"), Effect.ignore)
  const { body, contentType } = yield* metrics.render
  return HttpServerResponse.text(body, { contentType })
})

const router = HttpRouter.empty.pipe(
  HttpRouter.get("/metrics", scrape),
  HttpRouter.get("/healthz", HttpServerResponse.unsafeJson({ status: "ok" })),
  HttpRouter.get("/readyz", HttpServerResponse.unsafeJson({ status: "ready" }))
)

/** The consumer's /metrics, /healthz and /readyz on METRICS_PORT. */
export const MetricsServerLive = Layer.unwrapEffect(
  Effect.map(AppConfig, (config) =>
    HttpServer.serve(router).pipe(
      HttpServer.withLogAddress,
      Layer.provide(NodeHttpServer.layer(createServer, { port: config.metricsPort, host: config.host }))
    )
  )
)
