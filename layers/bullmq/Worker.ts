import { DelayedError, type Job, UnrecoverableError, Worker } from "bullmq"
import * as Cause from "effect/Cause"
import * as Duration from "effect/Duration"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type * as Exit from "effect/Exit"
import * as FiberSet from "effect/FiberSet"
import * as Fiber from "effect/Fiber"
import * as FiberId from "effect/FiberId"
import * as Option from "effect/Option"
import * as Runtime from "effect/Runtime"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import { type ConsumeOptions, type JobFate, type JobInfo, LeadJob, STORE_WAIT_REASON } from "../../services/JobQueue.js"
import {
  isConnectionError,
  type RedisClient,
  safeMessage,
  superviseConnection,
  watchConnection
} from "../shared/RedisClient.js"
import { leadIdOfJob } from "./jobId.js"
import type { ResolvedBullMqOptions } from "./JobQueueOptions.js"
import { delayReasonOf, type Outcome, outcomeOf } from "../shared/jobOutcome.js"

/** After the shutdown timeout, how long interrupted jobs get to be put back before we stop waiting. */
const CANCEL_GRACE_MS = 2000

const decodeJob = Schema.decodeUnknownEither(LeadJob)

const infoOf = (job: Job, data: LeadJob): JobInfo => ({
  ...data,
  attemptsMade: job.attemptsMade,
  maxAttempts: job.opts.attempts ?? 1
})

/** A job read back without its data (BullMQ makes `{}` of a missing hash): Redis lost it, the sender did not err. */
const isVanished = (job: Job) =>
  job.data === undefined ||
  job.data === null ||
  (typeof job.data === "object" && Object.keys(job.data as object).length === 0)

/**
 * The job's lead. A job whose hash Redis lost (its id still queued) is the lead its id names (jobIdOf): processed as
 * its job would have had it, only the trace context lost. Acknowledging it instead would leave a completed job under
 * the lead's id, which the outbox sweeper's enqueue (idempotent by that id) could not replace: the lead would stay
 * QUEUED for good.
 */
const leadJobOf = (job: Job) => {
  const decoded = decodeJob(job.data)
  return Either.isLeft(decoded) && isVanished(job) && job.id !== undefined
    ? Either.right<LeadJob>({ leadId: leadIdOfJob(job.id) })
    : decoded
}

/**
 * Interrupt `effect` when `signal` aborts (BullMQ aborts it on cancelJob / cancelAllJobs). One child fiber that the
 * abort interrupts: a race against a never-ending listener cost ~75 µs of CPU per job.
 */
const abortable = <A, E>(effect: Effect.Effect<A, E>, signal: AbortSignal | undefined): Effect.Effect<A, E> =>
  signal === undefined
    ? effect
    : Effect.flatMap(Effect.fork(effect), (fiber) => {
        const onAbort = () => {
          fiber.unsafeInterruptAsFork(FiberId.none)
        }
        if (signal.aborted) onAbort()
        else signal.addEventListener("abort", onAbort, { once: true })
        return Effect.ensuring(
          Fiber.join(fiber),
          Effect.sync(() => signal.removeEventListener("abort", onAbort))
        )
      })

/** How often, and how many times at most, a close looks for BullMQ's stalled-jobs timer to stop. */
const STALLED_STOP_POLL_MS = 10
const STALLED_STOP_POLLS = 300

/**
 * Stops BullMQ's stalled-jobs timer once its check in flight is over. BullMQ (5.x) arms that timer (stalledIntervalMs,
 * 30 s by default) after each check, and close() stops only a timer already armed: a close during the first check
 * (a consumer closed right after it starts: a short test, a CLI command) left one that kept the process alive for a
 * whole interval (the race described upstream in taskforcesh/bullmq pull request 1810, closed unmerged).
 *
 * Fragile on purpose: it reads the Worker's private `stalledCheckerRunning` and `stalledCheckStopper`, checked
 * against BullMQ 5.81.5 (dist/esm/classes/worker.js). It fails safe: on a BullMQ without them (or with them renamed)
 * the loop ends at once and does nothing, and the process only waits out the timer as before. It adds at most
 * STALLED_STOP_POLLS x STALLED_STOP_POLL_MS (3 s) to a close, and only during a check. Remove it once a BullMQ
 * release stops the timer itself on close.
 */
const stopStalledCheck = async (worker: Worker): Promise<void> => {
  const loop = worker as unknown as { readonly stalledCheckerRunning?: boolean; stalledCheckStopper?: () => void }
  for (let i = 0; i < STALLED_STOP_POLLS && loop.stalledCheckerRunning === true; i++) {
    loop.stalledCheckStopper?.()
    await new Promise((resolve) => setTimeout(resolve, STALLED_STOP_POLL_MS))
  }
}

/**
 * Marks a closing worker's connection as closing, which makes BullMQ skip settling the jobs still in its hands (its
 * handleCompleted / handleFailed do nothing on a closing connection) rather than retrying them on a connection about
 * to be closed: BullMQ (5.x) retries a connection error without end and, while the worker closes, without a delay.
 * BullMQ does this itself at the end of close(), after the jobs are settled; this is for a close that cannot get
 * there (Redis unreachable). Reads the Worker's protected `connection`, checked against BullMQ 5.81.5; on a BullMQ
 * without it this does nothing. A shared connection's close() sets `closing` and disconnects nothing.
 */
const stopSettling = (worker: Worker): void => {
  const connection = (worker as unknown as { readonly connection?: { close?: () => Promise<void> } }).connection
  connection?.close?.().catch(() => undefined)
}

/** Run a BullMQ Worker until the scope closes; each job's Effect runs on the caller's runtime. */
export const consume = (
  redis: RedisClient.Service,
  opts: ResolvedBullMqOptions,
  options: ConsumeOptions
): Effect.Effect<void, never, Scope.Scope> =>
  Effect.gen(function* () {
    // log reports from BullMQ's and ioredis' callbacks
    const runFork = Runtime.runFork(yield* Effect.runtime<never>())
    // every job's fiber runs in this set: its size is the active jobs, and closing the scope interrupts what is left
    const jobs = yield* FiberSet.make<Error | undefined>()
    const runJob = yield* FiberSet.runtimePromise(jobs)<never>()
    // The lead of each job running, for the shutdown's log lines.
    const running = new Map<Job, string>()
    const runningLeads = () => [...running.values()]
    // Errors this processor threw; any other failure BullMQ reports (a job stalled too often) is dead-lettered here.
    const ours = new WeakSet<Error>()

    // onDeadLetter sees the attempts spent, this run included (as the dead-letter list reports them)
    const deadLetter = (info: JobInfo, reason: string) =>
      options
        .onDeadLetter({ ...info, attemptsMade: info.attemptsMade + 1 }, reason)
        .pipe(Effect.catchAllCause((cause) => Effect.logError("onDeadLetter failed", Cause.pretty(cause))))

    const settle = (job: Job, token: string | undefined, info: JobInfo, outcome: Outcome) => {
      switch (outcome._tag) {
        case "Done":
          return Effect.succeed(undefined)
        case "Delay":
          // moveToDelayed skips the attempt counter; DelayedError then tells the worker the job is already moved.
          return Clock.currentTimeMillis.pipe(
            Effect.flatMap((now) => Effect.tryPromise(() => job.moveToDelayed(now + outcome.delayMs, token))),
            Effect.as<Error>(new DelayedError()),
            Effect.catchAll((e) => Effect.succeed(new Error(`could not delay job: ${safeMessage(e.error)}`)))
          )
        case "Retry":
          // Mark the lead failed before BullMQ finalises the last attempt, so a crash in between loses nothing.
          return (info.attemptsMade + 1 >= info.maxAttempts ? deadLetter(info, outcome.reason) : Effect.void).pipe(
            Effect.as(new Error(outcome.reason))
          )
        case "Permanent":
          return deadLetter(info, outcome.reason).pipe(Effect.as<Error>(new UnrecoverableError(outcome.reason)))
      }
    }

    /**
     * A wait for the lead store (a JobDelay whose reason starts "StoreUnavailable: ", src/pipeline/fate.ts) spends no
     * attempt; past `maxStoreWaits` of them, it becomes a retry, so a store broken for good still ends in the
     * dead-letter list instead of waiting for ever. The waits are counted in the job's data (`storeWaits`), not as
     * every run that spent no attempt: a lead that had waited out a long CRM outage (a delay per breaker wait) would
     * otherwise have its first store wait after it turned into spent attempts at once.
     */
    const storeWaitsOf = (job: Job): number => {
      const count = (job.data as { readonly storeWaits?: unknown } | undefined)?.storeWaits
      return typeof count === "number" && Number.isInteger(count) && count >= 0 ? count : 0
    }
    const bounded = (
      job: Job,
      exit: Exit.Exit<void, JobFate>,
      outcome: Outcome
    ): { readonly outcome: Outcome; readonly storeWait: boolean } => {
      const reason = outcome._tag === "Delay" ? delayReasonOf(exit) : undefined
      if (reason === undefined || !reason.startsWith(STORE_WAIT_REASON)) return { outcome, storeWait: false }
      return storeWaitsOf(job) >= opts.maxStoreWaits
        ? { outcome: { _tag: "Retry", reason }, storeWait: false }
        : { outcome, storeWait: true }
    }

    /** One more store wait in the job's data (best effort: Redis refusing it only lets the wait go uncounted). */
    const countStoreWait = (job: Job) =>
      Effect.tryPromise(() =>
        job.updateData({ ...(job.data as object), storeWaits: storeWaitsOf(job) + 1 } as typeof job.data)
      ).pipe(Effect.ignore)

    const handle = (job: Job, token: string | undefined, signal: AbortSignal | undefined) =>
      Effect.gen(function* () {
        const decoded = leadJobOf(job)
        if (Either.isRight(decoded) && isVanished(job)) {
          yield* Effect.logWarning("job data missing (Redis lost it?); processing the lead its id names").pipe(
            Effect.annotateLogs({ jobId: job.id ?? "unknown" })
          )
        }
        if (Either.isLeft(decoded)) {
          const info = infoOf(job, { leadId: job.id ?? "unknown" })
          return yield* settle(job, token, info, { _tag: "Permanent", reason: "invalid job payload" })
        }
        const info = infoOf(job, decoded.right)
        running.set(job, info.leadId)
        const exit = yield* Effect.exit(abortable(options.process(info), signal)).pipe(
          Effect.ensuring(Effect.sync(() => running.delete(job)))
        )
        const { outcome, storeWait } = bounded(job, exit, outcomeOf(exit, safeMessage))
        if (storeWait) yield* countStoreWait(job)
        return yield* settle(job, token, info, outcome)
      })

    // Three declared parameters: BullMQ only creates the AbortSignal for processors whose length is >= 3.
    const processor = async (job: Job, token: string | undefined, signal: AbortSignal | undefined): Promise<void> => {
      // handle() decides every outcome itself: the promise rejects only when the job's fiber was interrupted
      const error = await runJob(handle(job, token, signal)).catch(() => new Error("consumer shut down"))
      if (error !== undefined) {
        ours.add(error)
        throw error
      }
    }

    // Workers keep the offline queue and retry forever (BullMQ requires maxRetriesPerRequest null for blocking calls).
    const connection = yield* Effect.acquireRelease(
      Effect.sync(() => {
        const client = redis.client.duplicate({
          maxRetriesPerRequest: null,
          enableOfflineQueue: true,
          commandTimeout: undefined
        })
        client.on("error", () => {})
        const report = (effect: Effect.Effect<void>) => {
          runFork(effect)
        }
        watchConnection(client, report)
        // No command timeout here (blocking calls), so a frozen connection would hold the worker's next moveToActive
        // for ever: its PINGs time out instead and the connection is made anew. (BullMQ's blocking connection has a
        // watchdog of its own: it reconnects when a BZPOPMIN outlives its timeout.)
        const supervision = superviseConnection(
          client,
          {
            timeoutMs: opts.connectionCheckTimeoutMs,
            intervalMs: opts.connectionCheckIntervalMs,
            timeoutsBeforeReconnect: 2
          },
          report
        )
        return { client, supervision }
      }),
      // after the worker's close (see `close`): a job still settling over this connection when it goes would have
      // BullMQ, closing, retry on a closed connection at once and for ever (a process at full CPU that never exited)
      ({ client, supervision }) =>
        Effect.sync(() => {
          supervision.stop()
          client.disconnect()
        })
    ).pipe(Effect.map(({ client }) => client))

    const close = (worker: Worker) =>
      Effect.gen(function* () {
        const closing = worker
          .close()
          .then(
            () => stopStalledCheck(worker),
            () => stopStalledCheck(worker)
          )
          .then(() => true)
        // Finalizers run uninterruptibly, and a timeout cannot abandon an uninterruptible wait.
        const closed = Effect.interruptible(Effect.promise(() => closing))
        const inTime = yield* Effect.timeoutOption(closed, Duration.millis(opts.shutdownTimeoutMs))
        if (Option.isNone(inTime)) {
          yield* Effect.logWarning("shutdown timeout reached; interrupting active jobs").pipe(
            Effect.annotateLogs({ active: yield* FiberSet.size(jobs), leadIds: runningLeads() })
          )
          worker.cancelAllJobs("shutdown")
          const cancelled = yield* Effect.timeoutOption(closed, Duration.millis(CANCEL_GRACE_MS))
          if (Option.isNone(cancelled) && running.size > 0) {
            // inside a CRM call or the audit write that must follow it, which no interruption cuts: each ends within
            // CRM_TIMEOUT_MS and the audit write's retries (10 s), its job then going back to the queue
            yield* Effect.logWarning(
              "shutdown: jobs in a CRM call left running until it and its audit row are done, then released"
            ).pipe(Effect.annotateLogs({ active: running.size, leadIds: runningLeads() }))
          }
        }
        // Whatever still runs is interrupted: it ends when its CRM call and audit row are done (bounded, see above)
        const left = [...jobs]
        for (const fiber of left) fiber.unsafeInterruptAsFork(FiberId.none)
        if (left.length > 0) {
          yield* Effect.forEach(left, Fiber.await, { discard: true })
          // then BullMQ settles their jobs over the connection and finishes closing; Redis gone, it would wait for ever
          // (its connection retries without end): past the grace its connection is marked closing, so that it stops
          // settling jobs instead of retrying them at full CPU once the connection is closed (the jobs, still active,
          // come back as stalled)
          const settled = yield* Effect.timeoutOption(closed, Duration.millis(CANCEL_GRACE_MS))
          if (Option.isNone(settled)) stopSettling(worker)
        }
      })

    yield* Effect.acquireRelease(
      Effect.sync(() => {
        const worker = new Worker(opts.queueName, processor, {
          connection,
          prefix: redis.prefix,
          concurrency: options.concurrency,
          lockDuration: opts.lockDurationMs,
          stalledInterval: opts.stalledIntervalMs,
          maxStalledCount: opts.maxStalledCount,
          autorun: true
        })
        // Connection failures are reported once per outage by the connection watchers, not once per retry here.
        worker.on("error", (error) => {
          if (!isConnectionError(error)) runFork(Effect.logWarning("queue worker error", safeMessage(error)))
        })
        worker.on("failed", (job, error) => {
          if (job === undefined || ours.has(error)) return
          // as BullMQ tells it: the class, or the name of one thrown through another copy of BullMQ
          const unrecoverable = error instanceof UnrecoverableError || error.name === "UnrecoverableError"
          if (unrecoverable || job.attemptsMade >= (job.opts.attempts ?? 1)) {
            const data = leadJobOf(job)
            runFork(
              deadLetter(
                infoOf(
                  job,
                  Either.getOrElse(data, () => ({ leadId: job.id ?? "unknown" }))
                ),
                error.message
              )
            )
          }
        })
        return worker
      }),
      close
    )
  })
