import * as Config from "effect/Config"
import { jobSettings } from "../../services/AppConfig.js"
import { positiveInt, validated } from "../shared/config.js"

/** Tuning of the BullMQ queue and worker; every field has a production default. */
export interface BullMqOptions {
  /** Queue name (no ":"); default "lead-processing". */
  readonly queueName?: string | undefined
  /** Runs per job before it is dead-lettered (JOB_ATTEMPTS, default 5). */
  readonly attempts?: number | undefined
  /** First retry delay; doubles per attempt (JOB_BACKOFF_MS, default 1000). */
  readonly backoffMs?: number | undefined
  /** Fraction of each backoff delay that is random, 0..1 (JOB_BACKOFF_JITTER, default 0.5). */
  readonly backoffJitter?: number | undefined
  /** Completed jobs kept (JOB_REMOVE_ON_COMPLETE, default 1000); failed jobs are always kept as dead letters. */
  readonly removeOnComplete?: number | undefined
  /** How long closing waits for active jobs before interrupting them (SHUTDOWN_TIMEOUT_MS, default 10000). */
  readonly shutdownTimeoutMs?: number | undefined
  /** Job lock; a worker that stops renewing it for this long has stalled (JOB_LOCK_DURATION_MS, default 30000). */
  readonly lockDurationMs?: number | undefined
  /** How often stalled jobs are looked for (JOB_STALLED_INTERVAL_MS, default 30000). */
  readonly stalledIntervalMs?: number | undefined
  /** Stalls tolerated before a job is dead-lettered (JOB_MAX_STALLED_COUNT, default 1). */
  readonly maxStalledCount?: number | undefined
  /** Any queue call (enqueue, stats, ...) fails with QueueUnavailable after this (QUEUE_TIMEOUT_MS, default 2000). */
  readonly operationTimeoutMs?: number | undefined
  /**
   * Runs a job may spend waiting for the lead store (StoreUnavailable delays, 5 s each) before such a wait spends
   * an attempt (default 120: ten minutes of store outage, a failover's worth and more).
   */
  readonly maxStoreWaits?: number | undefined
  /** How often the worker's connection is PINGed (default 1000 ms); see RedisClient's superviseConnection. */
  readonly connectionCheckIntervalMs?: number | undefined
  /** A worker PING unanswered this long counts as a timeout; two in a row replace the connection (default 2000 ms). */
  readonly connectionCheckTimeoutMs?: number | undefined
}

/** BullMqOptions with every default filled in. */
export type ResolvedBullMqOptions = { readonly [K in keyof BullMqOptions]-?: NonNullable<BullMqOptions[K]> }

/** Fill in the defaults. */
export const resolve = (options: BullMqOptions = {}): ResolvedBullMqOptions => ({
  queueName: options.queueName ?? "lead-processing",
  attempts: options.attempts ?? 5,
  backoffMs: options.backoffMs ?? 1000,
  backoffJitter: options.backoffJitter ?? 0.5,
  removeOnComplete: options.removeOnComplete ?? 1000,
  shutdownTimeoutMs: options.shutdownTimeoutMs ?? 10_000,
  lockDurationMs: options.lockDurationMs ?? 30_000,
  stalledIntervalMs: options.stalledIntervalMs ?? 30_000,
  maxStalledCount: options.maxStalledCount ?? 1,
  operationTimeoutMs: options.operationTimeoutMs ?? 2000,
  maxStoreWaits: options.maxStoreWaits ?? 120,
  connectionCheckIntervalMs: options.connectionCheckIntervalMs ?? 1000,
  connectionCheckTimeoutMs: options.connectionCheckTimeoutMs ?? 2000
})

/** The options from the environment. */
export const config: Config.Config<ResolvedBullMqOptions> = Config.all({
  queueName: validated("QUEUE_NAME", Config.string(), {
    message: "must be non-empty without ':'",
    validation: (s) => s.length > 0 && !s.includes(":")
  }).pipe(Config.withDefault("lead-processing")),
  attempts: jobSettings.attempts,
  backoffMs: jobSettings.backoffMs,
  backoffJitter: validated("JOB_BACKOFF_JITTER", Config.number(), {
    message: "must be between 0 and 1",
    validation: (n) => n >= 0 && n <= 1
  }).pipe(Config.withDefault(0.5)),
  removeOnComplete: validated("JOB_REMOVE_ON_COMPLETE", Config.integer(), {
    message: "must be >= 0",
    validation: (n) => n >= 0
  }).pipe(Config.withDefault(1000)),
  shutdownTimeoutMs: jobSettings.shutdownTimeoutMs,
  lockDurationMs: positiveInt("JOB_LOCK_DURATION_MS", 30_000),
  stalledIntervalMs: positiveInt("JOB_STALLED_INTERVAL_MS", 30_000),
  maxStalledCount: validated("JOB_MAX_STALLED_COUNT", Config.integer(), {
    message: "must be >= 0",
    validation: (n) => n >= 0
  }).pipe(Config.withDefault(1)),
  operationTimeoutMs: positiveInt("QUEUE_TIMEOUT_MS", 2000),
  maxStoreWaits: Config.succeed(120),
  connectionCheckIntervalMs: Config.succeed(1000),
  connectionCheckTimeoutMs: Config.succeed(2000)
})
