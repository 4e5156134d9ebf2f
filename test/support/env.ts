import * as ConfigProvider from "effect/ConfigProvider"
import * as Layer from "effect/Layer"
import * as ConfigLayer from "../../layers/config.js"
import * as HeuristicAnalyzer from "../../layers/heuristic/Analyzer.js"
import * as MemoryAuditLog from "../../layers/memory/AuditLog.js"
import * as MemoryBreaker from "../../layers/memory/CircuitBreaker.js"
import * as MemoryIdempotency from "../../layers/memory/Idempotency.js"
import * as MemoryQueue from "../../layers/memory/JobQueue.js"
import * as MemoryLeadStore from "../../layers/memory/LeadStore.js"
import * as MemoryRateLimiter from "../../layers/memory/RateLimiter.js"
import * as MockCrm from "../../layers/mock/CrmExecutor.js"
import * as MockEnricher from "../../layers/mock/Enricher.js"
import * as Metrics from "../../layers/observability/Metrics.js"
import * as BullMqQueue from "../../layers/bullmq/JobQueue.js"
import * as RedisIdempotency from "../../layers/redis/Idempotency.js"
import * as RedisRateLimiter from "../../layers/redis/RateLimiter.js"
import { redisTestLayer, testPrefix } from "./redis.js"
import { layerPostgresTest } from "../store/fixtures.js"

/** AppConfig read from exactly these variables (nothing from the real environment). */
export const configFrom = (env: Record<string, string> = {}) =>
  ConfigLayer.layer.pipe(Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env))))))

/** Fast test settings: tiny backoff and shutdown timeout, port 0. */
export const testEnv: Record<string, string> = {
  PORT: "0",
  HOST: "127.0.0.1",
  JOB_BACKOFF_MS: "20",
  JOB_ATTEMPTS: "3",
  SHUTDOWN_TIMEOUT_MS: "2000",
  SWEEP_MIN_AGE_MS: "1",
  SWEEP_INTERVAL_MS: "100000"
}

export interface TestOptions {
  readonly env?: Record<string, string>
  readonly breaker?: Parameters<typeof MemoryBreaker.layerWith>[0]
  readonly crmLatencyMs?: number
}

/** Queue settings both backends take from the test env. */
const queueOptions = (env: Record<string, string>) => ({
  attempts: Number(env.JOB_ATTEMPTS),
  backoffMs: Number(env.JOB_BACKOFF_MS),
  shutdownTimeoutMs: Number(env.SHUTDOWN_TIMEOUT_MS)
})

/** What every test environment shares: breaker, mock CRM, heuristic analyser, mock enrichment, metrics, config. */
const common = (options: TestOptions, env: Record<string, string>) =>
  Layer.mergeAll(
    options.breaker ? MemoryBreaker.layerWith(options.breaker) : MemoryBreaker.layer,
    MockCrm.layerWith(options.crmLatencyMs === undefined ? {} : { latencyMs: options.crmLatencyMs }),
    HeuristicAnalyzer.layer,
    MockEnricher.layer,
    Metrics.layerTest,
    configFrom(env)
  )

/**
 * The whole pipeline on memory layers: memory stores and queue, mock CRM (with MockCrmControl), heuristic
 * analyser, mock enrichment, metrics without process collectors, AppConfig. Swap a piece with `Layer.merge`.
 */
export const memoryEnv = (options: TestOptions = {}) => {
  const env = { ...testEnv, ...options.env }
  return Layer.mergeAll(
    MemoryLeadStore.layer,
    MemoryAuditLog.layer,
    MemoryQueue.layer(queueOptions(env)),
    MemoryRateLimiter.layer,
    MemoryIdempotency.layer,
    common(options, env)
  )
}

/**
 * The same pipeline on the production data plane: Postgres (a fresh schema, dropped after), Redis rate limiter and
 * idempotency and a BullMQ queue (a fresh key prefix and queue name, keys deleted after). CRM, analyser and
 * enrichment stay mock / heuristic.
 */
export const productionEnv = (options: TestOptions = {}) => {
  const env = { ...testEnv, ...options.env }
  const prefix = testPrefix()
  return Layer.mergeAll(
    layerPostgresTest.pipe(Layer.orDie),
    BullMqQueue.layer({ queueName: `leads-${prefix}`, ...queueOptions(env) }),
    RedisRateLimiter.layer,
    RedisIdempotency.layer,
    common(options, env)
  ).pipe(Layer.provide(redisTestLayer(prefix)))
}

/** Every backend the behaviour suites run on. */
export const backends = [
  ["memory", memoryEnv],
  ["postgres + redis + bullmq", productionEnv]
] as const

/** A valid lead body; override any field. */
export const sampleLead = (overrides: Record<string, unknown> = {}) => ({
  email: `lead-${Math.random().toString(36).slice(2, 10)}@northwind-analytics.com`,
  campaignId: "spring-launch",
  firstName: "Ada",
  lastName: "Lovelace",
  title: "VP Engineering",
  activity: { demoRequested: true, pricingPageVisits: 3, pageViews: 14 },
  ...overrides
})
