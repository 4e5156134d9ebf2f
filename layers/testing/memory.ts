import * as Clock from "effect/Clock"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Layer from "effect/Layer"
import * as ConfigLayer from "../config.js"
import * as HeuristicAnalyzer from "../heuristic/Analyzer.js"
import * as MemoryAuditLog from "../memory/AuditLog.js"
import * as MemoryBreaker from "../memory/CircuitBreaker.js"
import * as MemoryIdempotency from "../memory/Idempotency.js"
import * as MemoryQueue from "../memory/JobQueue.js"
import * as MemoryLeadStore from "../memory/LeadStore.js"
import * as MemoryRateLimiter from "../memory/RateLimiter.js"
import * as MockCrm from "../mock/CrmExecutor.js"
import * as MockEnricher from "../mock/Enricher.js"
import * as Metrics from "../observability/Metrics.js"

/** AppConfig read from exactly these variables (nothing from the real environment). */
export const configFrom = (env: Record<string, string> = {}) =>
  ConfigLayer.layer.pipe(Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env))))))

/** Fast test settings: tiny backoff and shutdown timeout, port 0, a sweeper that waits for no one. */
export const testEnv: Readonly<Record<string, string>> = {
  PORT: "0",
  HOST: "127.0.0.1",
  JOB_BACKOFF_MS: "20",
  JOB_ATTEMPTS: "3",
  SHUTDOWN_TIMEOUT_MS: "2000",
  SWEEP_MIN_AGE_MS: "1",
  SWEEP_INTERVAL_MS: "100000"
}

/** What a test environment can change: settings on top of testEnv, the breaker's options, the mock CRM's latency. */
export interface TestOptions {
  readonly env?: Record<string, string>
  readonly breaker?: Parameters<typeof MemoryBreaker.layerWith>[0]
  readonly crmLatencyMs?: number
}

/** Queue settings both backends take from the test env. */
export const queueOptions = (env: Readonly<Record<string, string | undefined>>) => ({
  attempts: Number(env.JOB_ATTEMPTS),
  backoffMs: Number(env.JOB_BACKOFF_MS),
  shutdownTimeoutMs: Number(env.SHUTDOWN_TIMEOUT_MS)
})

/** What every test environment shares: breaker, mock CRM, heuristic analyser, mock enrichment, metrics, config. */
export const common = (options: TestOptions, env: Record<string, string>) =>
  Layer.mergeAll(
    options.breaker ? MemoryBreaker.layerWith(options.breaker) : MemoryBreaker.layer,
    MockCrm.layerWith(options.crmLatencyMs === undefined ? {} : { latencyMs: options.crmLatencyMs }),
    HeuristicAnalyzer.layer,
    MockEnricher.layer,
    Metrics.layerTest,
    configFrom(env)
  )

/**
 * The real clock, for the environments: they do real work (a consumer, its retry delays, the sweeper), which
 * @effect/vitest's TestClock (`it.effect`, `it.scoped`) would freeze. Provided with an environment, it is the clock of
 * the test that uses it too: `TestClock.adjust` moves nothing there.
 */
export const liveClock: Layer.Layer<never> = Layer.setClock(Clock.make())

/**
 * The whole pipeline on memory layers: memory stores and queue, mock CRM (with MockCrmControl), heuristic
 * analyser, mock enrichment, metrics without process collectors, AppConfig, on the real clock (`liveClock`). Swap a
 * piece with `Layer.merge`.
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
  ).pipe(Layer.provideMerge(liveClock))
}
