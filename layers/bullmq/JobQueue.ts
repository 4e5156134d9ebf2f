import { type Job, Queue } from "bullmq"
import * as Clock from "effect/Clock"
import type * as ConfigError from "effect/ConfigError"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import { JobQueue, type LeadJob, QueueUnavailable } from "../../services/JobQueue.js"
import {
  isTimeout,
  RedisClient,
  type RedisUnavailable,
  layerConfig as redisLayerConfig,
  safeMessage
} from "../shared/RedisClient.js"
import { type BullMqOptions, config, type ResolvedBullMqOptions, resolve } from "./JobQueueOptions.js"
import { jobIdOf } from "./jobId.js"
import { consume } from "./Worker.js"
import * as GroupCommit from "../shared/groupCommit.js"
import { checkedOr } from "../shared/config.js"

/** The BullMQ job id of a lead: the lead id, unless BullMQ would refuse it (an integer, or a ":"). */
/** `promise`, or a rejection after `ms`. */
const withDeadline = <A>(promise: Promise<A>, ms: number): Promise<A> =>
  new Promise<A>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms)
    promise.then(
      (value) => {
        clearTimeout(timer)
        resolve(value)
      },
      (error) => {
        clearTimeout(timer)
        reject(error)
      }
    )
  })

export { jobIdOf } from "./jobId.js"

const make = (opts: ResolvedBullMqOptions) =>
  Effect.gen(function* () {
    const redis = yield* RedisClient
    // The queue shares the fail-fast connection (no offline queue); BullMQ does not close a shared client.
    const queue = yield* Effect.acquireRelease(
      Effect.sync(() => {
        const queue = new Queue<LeadJob, void, string>(opts.queueName, {
          connection: redis.client,
          prefix: redis.prefix,
          defaultJobOptions: {
            attempts: opts.attempts,
            backoff: { type: "exponential", delay: opts.backoffMs, jitter: opts.backoffJitter },
            removeOnComplete: { count: opts.removeOnComplete },
            // Failed jobs are the dead letters: kept until replayed or removed by an operator.
            removeOnFail: false
          }
        })
        // Connection errors reach callers as QueueUnavailable; an unobserved 'error' event would crash the process.
        queue.on("error", () => {})
        return queue
      }),
      (queue) =>
        Effect.interruptible(Effect.promise(() => queue.close().catch(() => undefined))).pipe(
          Effect.timeout(Duration.seconds(5)),
          Effect.ignore
        )
    )

    // BullMQ waits for a connection that is not ready yet instead of failing, so every call is bounded here. The
    // deadline is a plain timer on the promise: an Effect timeout forks a fiber per call, which the ingest pays per lead.
    // A connection whose latest command timed out (no answer since) fails at once too: a frozen connection would
    // make every call wait out the whole deadline, until the client's supervisor replaces it (RedisClient).
    const observe = redis.observe ?? (() => {})
    const call = <A>(what: string, f: () => Promise<A>): Effect.Effect<A, QueueUnavailable> =>
      Effect.suspend(() =>
        redis.client.status !== "ready"
          ? Effect.fail(new QueueUnavailable({ message: `${what} failed: Redis is not connected` }))
          : redis.unresponsive?.() === true
            ? Effect.fail(
                new QueueUnavailable({ message: `${what} failed: Redis is not answering (commands time out)` })
              )
            : Effect.tryPromise({
                try: () =>
                  withDeadline(f(), opts.operationTimeoutMs).then(
                    (value) => {
                      observe("answered")
                      return value
                    },
                    (error: unknown) => {
                      if (isTimeout(error)) observe("timedOut")
                      throw error
                    }
                  ),
                catch: (cause) => new QueueUnavailable({ message: `${what} failed: ${safeMessage(cause)}` })
              })
      )

    // Group commit: the concurrent enqueues of a busy ingest go out as one addBulk (one pipelined round trip), one
    // batch at a time (the store's reasoning: fewer, larger batches cost less CPU per lead). A batch of one uses add:
    // an ioredis pipeline costs more to build than it saves for a single job.
    // No span of its own: the caller's pipeline.accept span covers it (docs/performance-log.md: spans on the hot path).
    const addAll = (jobs: ReadonlyArray<LeadJob>): Promise<unknown> =>
      jobs.length === 1 && jobs[0] !== undefined
        ? queue.add("lead", jobs[0], { jobId: jobIdOf(jobs[0].leadId) })
        : queue.addBulk(jobs.map((job) => ({ name: "lead", data: job, opts: { jobId: jobIdOf(job.leadId) } })))
    const done = Either.right<void>(undefined)
    const enqueue = yield* GroupCommit.make({
      maxBatch: 100,
      maxInFlight: 1,
      run: (jobs: ReadonlyArray<LeadJob>) => call("enqueue", () => addAll(jobs)).pipe(Effect.as(jobs.map(() => done)))
    })

    const stats = Effect.gen(function* () {
      const counts = yield* call("stats", () =>
        queue.getJobCounts("waiting", "active", "delayed", "completed", "failed")
      )
      const [oldest] = yield* call("stats", () => queue.getWaiting(0, 0))
      const now = yield* Clock.currentTimeMillis
      return {
        waiting: counts.waiting ?? 0,
        active: counts.active ?? 0,
        delayed: counts.delayed ?? 0,
        completed: counts.completed ?? 0,
        failed: counts.failed ?? 0,
        oldestWaitingAgeMs: oldest ? Math.max(0, now - oldest.timestamp) : 0
      }
    })

    const deadLetters = (limit: number) =>
      limit <= 0
        ? Effect.succeed([])
        : call("deadLetters", () => queue.getFailed(0, limit - 1)).pipe(
            Effect.map((jobs) =>
              jobs.map((job) => ({
                leadId: (job.data as Partial<LeadJob> | undefined)?.leadId ?? job.id ?? "unknown",
                reason: job.failedReason ?? "",
                attemptsMade: job.attemptsMade,
                failedAt: new Date(job.finishedOn ?? job.timestamp)
              }))
            )
          )

    const replay = (leadId: string) =>
      call("replay", async () => {
        const job: Job<LeadJob, void, string> | undefined = await queue.getJob(jobIdOf(leadId))
        const state = job === undefined ? undefined : await job.getState()
        if (job === undefined || (state !== "failed" && state !== "completed")) return false
        // reprocessJob checks the state atomically; losing a race with another replay throws: "not finished" any more
        return job.retry(state, { resetAttemptsMade: true, resetAttemptsStarted: true }).then(
          () => true,
          () => false
        )
      })

    const finishedJobs = (leadIds: ReadonlyArray<string>) =>
      call("finishedJobs", async () => {
        const states = await Promise.all(leadIds.map((leadId) => queue.getJobState(jobIdOf(leadId))))
        return new Set(leadIds.filter((_, i) => states[i] === "failed" || states[i] === "completed"))
      })

    return JobQueue.of({
      enqueue,
      stats,
      deadLetters,
      replay,
      finishedJobs,
      consume: (options) => consume(redis, opts, options)
    })
  })

/** The BullMQ queue on the shared Redis client, with explicit options (tests use a random queue name). */
export const layer = (options: BullMqOptions = {}): Layer.Layer<JobQueue, never, RedisClient> =>
  Layer.scoped(JobQueue, make(resolve(options)))

/** The BullMQ queue from the environment: REDIS_URL, REDIS_KEY_PREFIX, QUEUE_NAME, JOB_* and SHUTDOWN_TIMEOUT_MS. */
export const layerConfig: Layer.Layer<JobQueue, RedisUnavailable | ConfigError.ConfigError> = Layer.scoped(
  JobQueue,
  Effect.flatMap(checkedOr(config), make)
).pipe(Layer.provide(redisLayerConfig))
