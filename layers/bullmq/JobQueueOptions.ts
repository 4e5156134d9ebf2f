import * as Config from "effect/Config"

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
  operationTimeoutMs: options.operationTimeoutMs ?? 2000
})

const positive = (name: string, fallback: number) =>
  Config.integer(name).pipe(
    Config.withDefault(fallback),
    Config.validate({ message: "must be a positive integer", validation: (n) => n > 0 })
  )

/** The options from the environment. */
export const config: Config.Config<ResolvedBullMqOptions> = Config.all({
  queueName: Config.string("QUEUE_NAME").pipe(
    Config.withDefault("lead-processing"),
    Config.validate({ message: "must be non-empty without ':'", validation: (s) => s.length > 0 && !s.includes(":") })
  ),
  attempts: positive("JOB_ATTEMPTS", 5),
  backoffMs: positive("JOB_BACKOFF_MS", 1000),
  backoffJitter: Config.number("JOB_BACKOFF_JITTER").pipe(
    Config.withDefault(0.5),
    Config.validate({ message: "must be between 0 and 1", validation: (n) => n >= 0 && n <= 1 })
  ),
  removeOnComplete: Config.integer("JOB_REMOVE_ON_COMPLETE").pipe(
    Config.withDefault(1000),
    Config.validate({ message: "must be >= 0", validation: (n) => n >= 0 })
  ),
  shutdownTimeoutMs: positive("SHUTDOWN_TIMEOUT_MS", 10_000),
  lockDurationMs: positive("JOB_LOCK_DURATION_MS", 30_000),
  stalledIntervalMs: positive("JOB_STALLED_INTERVAL_MS", 30_000),
  maxStalledCount: Config.integer("JOB_MAX_STALLED_COUNT").pipe(
    Config.withDefault(1),
    Config.validate({ message: "must be >= 0", validation: (n) => n >= 0 })
  ),
  operationTimeoutMs: positive("QUEUE_TIMEOUT_MS", 2000)
})
