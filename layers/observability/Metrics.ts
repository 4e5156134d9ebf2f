import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Prom from "prom-client"
import type { BreakerState } from "../../services/CircuitBreaker.js"
import type { QueueStats } from "../../services/JobQueue.js"
import { Metrics } from "../../services/Metrics.js"

const breakerValue: Record<BreakerState, number> = { closed: 0, "half-open": 1, open: 2 }

/**
 * Node's process metrics (CPU, memory, event-loop lag, GC), collected once per process into a registry of their own:
 * prom-client starts an event-loop monitor and a GC observer for each collection, which nothing stops, so one per
 * build kept every disposed runtime's registry alive (a Lambda rebuilding a failed environment every 5 s, an app
 * making runtimes in a loop: +25 MiB per 1,000 builds).
 */
let processRegistry: Prom.Registry | undefined
const processMetrics = (): Prom.Registry => {
  if (processRegistry === undefined) {
    processRegistry = new Prom.Registry()
    Prom.collectDefaultMetrics({ register: processRegistry })
  }
  return processRegistry
}

/** Builds every RevenueFlow metric on its own registry (process metrics included), named the Prometheus way. */
export const make = (options: { readonly prefix?: string; readonly defaultMetrics?: boolean } = {}) =>
  Effect.sync(() => {
    const p = options.prefix ?? "revenueflow_"
    const registry = new Prom.Registry()
    const shared = options.defaultMetrics !== false ? processMetrics() : undefined
    const registers = [registry]
    const leads = new Prom.Counter({
      name: `${p}leads_ingested_total`,
      help: "Leads received by the ingest, by source and outcome",
      labelNames: ["source", "outcome"],
      registers
    })
    const refused = new Prom.Counter({
      name: `${p}intake_refused_total`,
      help: "Requests the intake routes refused (4xx), by source, status and reason",
      labelNames: ["source", "status", "reason"],
      registers
    })
    const finished = new Prom.Counter({
      name: `${p}leads_finished_total`,
      help: "Leads that reached a terminal state, by state",
      labelNames: ["status"],
      registers
    })
    const stage = new Prom.Histogram({
      name: `${p}pipeline_stage_duration_seconds`,
      help: "Duration of each pipeline stage",
      labelNames: ["stage"],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers
    })
    const crmActions = new Prom.Counter({
      name: `${p}crm_actions_total`,
      help: "CRM actions by tool, provider and status",
      labelNames: ["tool", "provider", "status"],
      registers
    })
    const crmDuration = new Prom.Histogram({
      name: `${p}crm_action_duration_seconds`,
      help: "Duration of CRM calls",
      labelNames: ["tool", "provider"],
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers
    })
    const breaker = new Prom.Gauge({
      name: `${p}circuit_breaker_state`,
      help: "Circuit breaker state per provider: 0 closed, 1 half-open, 2 open",
      labelNames: ["provider"],
      registers
    })
    const refusals = new Prom.Counter({
      name: `${p}rate_limit_refusals_total`,
      help: "Rate-limit refusals by tier",
      labelNames: ["tier"],
      registers
    })
    const grounding = new Prom.Counter({
      name: `${p}grounding_outcomes_total`,
      help: "Grounding verdicts on analyses",
      labelNames: ["outcome"],
      registers
    })
    const aiTokens = new Prom.Counter({
      name: `${p}ai_tokens_total`,
      help: "Model tokens used, by model and direction",
      labelNames: ["model", "direction"],
      registers
    })
    const aiDuration = new Prom.Histogram({
      name: `${p}ai_request_duration_seconds`,
      help: "Model call latency",
      labelNames: ["model"],
      buckets: [0.1, 0.25, 0.5, 1, 2, 4, 8, 16, 32],
      registers
    })
    const crmUsage = new Prom.Gauge({
      name: `${p}crm_api_usage_ratio`,
      help: "The CRM's own API usage as it reports it (used / limit), of the day's quota or of its burst interval",
      labelNames: ["provider", "window"],
      registers
    })
    const jobs = new Prom.Gauge({
      name: `${p}queue_jobs`,
      help: "Queue jobs by state",
      labelNames: ["state"],
      registers
    })
    const oldest = new Prom.Gauge({
      name: `${p}queue_oldest_waiting_job_age_seconds`,
      help: "Age of the oldest job waiting to be processed",
      registers
    })
    const dependencies = new Prom.Gauge({
      name: `${p}dependency_up`,
      help: "1 when the dependency answered the last check (each scrape and health check), 0 when it did not",
      labelNames: ["dependency"],
      registers
    })
    const deadLetters = new Prom.Gauge({
      name: `${p}queue_dead_letters`,
      help: "Jobs dead-lettered and kept for replay",
      registers
    })

    const queueStats = (stats: QueueStats) =>
      Effect.sync(() => {
        for (const state of ["waiting", "active", "delayed", "completed", "failed"] as const) {
          jobs.set({ state }, stats[state])
        }
        oldest.set(stats.oldestWaitingAgeMs / 1000)
        deadLetters.set(stats.failed)
      })

    return Metrics.of({
      leadIngested: (source, outcome) => Effect.sync(() => leads.inc({ source, outcome })),
      intakeRefused: (source, status, reason) =>
        Effect.sync(() => refused.inc({ source, status: String(status), reason })),
      leadFinished: (status) => Effect.sync(() => finished.inc({ status })),
      stageDuration: (name, seconds) => Effect.sync(() => stage.observe({ stage: name }, seconds)),
      crmAction: (tool, provider, status, seconds) =>
        Effect.sync(() => {
          crmActions.inc({ tool, provider, status })
          // the CRM's latency: only actions that reached it (a call the breaker or the guard refused took no time)
          if (status !== "CircuitOpen" && status !== "blocked") crmDuration.observe({ tool, provider }, seconds)
        }),
      breakerState: (provider, state) => Effect.sync(() => breaker.set({ provider }, breakerValue[state])),
      rateLimitRefused: (tier) => Effect.sync(() => refusals.inc({ tier })),
      groundingOutcome: (outcome) => Effect.sync(() => grounding.inc({ outcome })),
      aiUsage: (model, inputTokens, outputTokens, seconds) =>
        Effect.sync(() => {
          aiTokens.inc({ model, direction: "input" }, inputTokens)
          aiTokens.inc({ model, direction: "output" }, outputTokens)
          aiDuration.observe({ model }, seconds)
        }),
      crmApiUsage: (provider, used, limit, window = "daily") =>
        Effect.sync(() => crmUsage.set({ provider, window }, limit > 0 ? used / limit : 0)),
      queueStats,
      dependencyUp: (dependency, up) => Effect.sync(() => dependencies.set({ dependency }, up ? 1 : 0)),
      render: Effect.promise(async () => {
        const own = await registry.metrics()
        const body = shared === undefined ? own : `${own.trimEnd()}\n\n${await shared.metrics()}`
        return { contentType: registry.contentType, body }
      })
    })
  })

/** prom-client metrics with default process metrics. */
export const layer = Layer.effect(Metrics, make())

/** Metrics without process metrics (tests: fast, no timers). */
export const layerTest = Layer.effect(Metrics, make({ defaultMetrics: false }))
