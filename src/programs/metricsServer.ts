import * as HttpServer from "@effect/platform/HttpServer"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { AppConfig } from "../../services/AppConfig.js"
import type { JobQueue } from "../../services/JobQueue.js"
import type { LeadStore } from "../../services/LeadStore.js"
import type { Metrics } from "../../services/Metrics.js"
import * as NodeServer from "../http/nodeServer.js"
import { consumerReadiness, healthy, scrape } from "../http/opsAnswers.js"
import { directRoutes } from "../http/routes.js"
import { framed } from "../http/serving.js"

const { healthz, metrics, readyz } = directRoutes

/** The consumer's operations routes: /metrics, /healthz (the process is up), /readyz (queue and store answer). */
export const consumerOpsRoutes: ReadonlyArray<NodeServer.DirectRoute<LeadStore | JobQueue | Metrics>> = [
  { ...metrics, handler: framed(metrics, () => scrape) },
  { ...healthz, handler: framed(healthz, () => Effect.succeed(healthy)) },
  { ...readyz, handler: framed(readyz, () => consumerReadiness) }
]

/**
 * The consumer's /metrics, /healthz and /readyz on METRICS_PORT (anything else: 404), on node:http directly: the
 * platform's router and server would be most of the consumer's start-up work before it can say it is ready. The
 * HttpServer stays in the output: the banner says the port it is bound to (METRICS_PORT=0).
 */
export const layer = (listen: NodeServer.ListenOptions, shutdownTimeoutMs: number) =>
  Layer.scoped(
    HttpServer.HttpServer,
    NodeServer.make({ listen, routes: consumerOpsRoutes, others: "notFound", shutdownTimeoutMs })
  ).pipe(HttpServer.withLogAddress)

/** The consumer's metrics server on METRICS_PORT / HOST from AppConfig. */
export const MetricsServerLive = Layer.unwrapEffect(
  Effect.map(AppConfig, (config) => layer({ port: config.metricsPort, host: config.host }, config.shutdownTimeoutMs))
)
