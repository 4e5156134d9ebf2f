import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import type { BreakerState } from "./CircuitBreaker.js"
import type { QueueStats } from "./JobQueue.js"

export declare namespace Metrics {
  export interface Service {
    readonly leadIngested: (
      source: string,
      outcome: "accepted" | "duplicate" | "revised" | "invalid" | "unavailable"
    ) => Effect.Effect<void>
    /**
     * A request an intake route (POST /leads, the webhooks) refused with a 4xx: `source` api, marketo or hubspot,
     * `status` the HTTP status, `reason` one of a small fixed set (src/http/refusals.ts), never a value.
     */
    readonly intakeRefused: (source: string, status: number, reason: string) => Effect.Effect<void>
    readonly stageDuration: (stage: string, seconds: number) => Effect.Effect<void>
    readonly crmAction: (tool: string, provider: string, status: string, seconds: number) => Effect.Effect<void>
    readonly breakerState: (provider: string, state: BreakerState) => Effect.Effect<void>
    readonly rateLimitRefused: (tier: string) => Effect.Effect<void>
    readonly groundingOutcome: (outcome: string) => Effect.Effect<void>
    readonly leadFinished: (status: string) => Effect.Effect<void>
    readonly aiUsage: (model: string, inputTokens: number, outputTokens: number, seconds: number) => Effect.Effect<void>
    /**
     * The CRM's own API usage as it reports it (Sforce-Limit-Info, X-HubSpot-RateLimit-*): `window` "daily" for the
     * day's quota (the default), "interval" for HubSpot's rolling burst window.
     */
    readonly crmApiUsage: (
      provider: string,
      used: number,
      limit: number,
      window?: "daily" | "interval"
    ) => Effect.Effect<void>
    readonly queueStats: (stats: QueueStats) => Effect.Effect<void>
    /**
     * Whether a dependency answered this program's last check (each scrape and health check): the queue (Redis or
     * SQS) and the store (Postgres). The queue gauges keep their last values while the queue does not answer.
     */
    readonly dependencyUp: (dependency: "queue" | "store", up: boolean) => Effect.Effect<void>
    /** Prometheus text exposition of every metric. */
    readonly render: Effect.Effect<{ readonly contentType: string; readonly body: string }>
  }
}

/** Prometheus metrics. Layers: observability (prom-client registry, process metrics included). */
export class Metrics extends Context.Tag("revenueflow/Metrics")<Metrics, Metrics.Service>() {}
