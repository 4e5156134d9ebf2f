/**
 * The health checks' and the metrics scrape's answers, for the ingest (its HttpApi's ops group, and its node:http
 * server directly) and for the consumer's metrics server.
 */
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import { JobQueue } from "../../services/JobQueue.js"
import { LeadStore } from "../../services/LeadStore.js"
import { Metrics } from "../../services/Metrics.js"
import { unsniffedUncachedHeaders } from "./answerHeaders.js"
import type { OpsRouteName } from "./routes.js"

/** How long each check may take: a dependency that does not answer by then counts as down. */
const CHECK_TIMEOUT = "2 seconds"

/** /healthz: the process is up (liveness is not readiness: an outage must not get the process restarted). */
export const healthy = HttpServerResponse.unsafeJson({ status: "ok" }, { headers: unsniffedUncachedHeaders })

const answers = <A, E, R>(check: Effect.Effect<A, E, R>) =>
  check.pipe(
    Effect.timeout(CHECK_TIMEOUT),
    Effect.as("ok" as const),
    Effect.orElseSucceed(() => "down" as const)
  )

/** What the checks found. */
interface Checks {
  readonly store: "ok" | "down"
  readonly queue: "ok" | "down"
}

/**
 * Both checks at once: the store answers a read, the queue its counts (which refresh the queue gauges); each
 * outcome is also `revenueflow_dependency_up`, so an outage shows on /metrics (and pages) while the process answers.
 */
const runChecks: Effect.Effect<Checks, never, LeadStore | JobQueue | Metrics> = Effect.gen(function* () {
  const store = yield* LeadStore
  const queue = yield* JobQueue
  const metrics = yield* Metrics
  const [storeCheck, queueCheck] = yield* Effect.all(
    [
      // a store that takes writes (a failover's standby, a read-only session answer reads but refuse every lead)
      answers(store.checkWritable ?? store.listByStatus({ statuses: ["RECEIVED"], olderThanMs: 0, limit: 1 })),
      answers(Effect.flatMap(queue.stats, metrics.queueStats))
    ],
    { concurrency: 2 }
  )
  yield* metrics.dependencyUp("store", storeCheck === "ok")
  yield* metrics.dependencyUp("queue", queueCheck === "ok")
  return { store: storeCheck, queue: queueCheck }
})

/**
 * How long (ms) a finished check's outcome answers later /readyz and /metrics requests (1 s; tests that switch a
 * dependency off and on may set 0). Both routes are public, and each check is a store query and queue calls on the
 * pool intake uses: without this, a flood of scrapes would slow every intake.
 */
export class CheckReuseMs extends Context.Reference<CheckReuseMs>()("revenueflow/CheckReuseMs", {
  defaultValue: () => 1000
}) {}

/**
 * A check in flight or done (`doneAt`), per program: keyed by its LeadStore, so two runtimes in one process (tests)
 * keep their own.
 */
interface Flight {
  readonly outcome: Deferred.Deferred<Checks>
  doneAt: number | undefined
}
const flights = new WeakMap<object, Flight>()

/**
 * The checks, shared: requests that come while one runs wait for its outcome, and those within CheckReuseMs of its
 * end take it too; readiness lags by at most that. The check runs in a fiber of its own, so a requester that goes
 * away (its client hung up) does not cancel it for the others; it is bounded by CHECK_TIMEOUT.
 */
const checks: Effect.Effect<Checks, never, LeadStore | JobQueue | Metrics> = Effect.flatMap(LeadStore, (store) =>
  Effect.zipWith(Clock.currentTimeMillis, CheckReuseMs, (now, reuseMs) => [now, reuseMs] as const).pipe(
    Effect.flatMap(([now, reuseMs]) => {
      const flight = flights.get(store)
      if (flight !== undefined && (flight.doneAt === undefined || now - flight.doneAt < reuseMs)) {
        return Deferred.await(flight.outcome)
      }
      return Effect.flatMap(Deferred.make<Checks>(), (outcome) => {
        const fresh: Flight = { outcome, doneAt: undefined }
        flights.set(store, fresh)
        const run = runChecks.pipe(
          Effect.flatMap((result) =>
            Effect.flatMap(Clock.currentTimeMillis, (doneAt) => {
              fresh.doneAt = doneAt
              return Deferred.succeed(outcome, result)
            })
          ),
          // a defect (not a down dependency, which the checks report) must not leave the waiters waiting
          Effect.catchAllCause(() => {
            if (flights.get(store) === fresh) flights.delete(store)
            return Deferred.succeed(outcome, { store: "down", queue: "down" } as const)
          })
        )
        return Effect.zipRight(Effect.forkDaemon(run), Deferred.await(outcome))
      })
    })
  )
)

const readiness = (required: ReadonlyArray<"store" | "queue">) =>
  Effect.map(checks, (checks) => {
    const ready = required.every((name) => checks[name] === "ok")
    return HttpServerResponse.unsafeJson(
      { status: ready ? "ready" : "unavailable", checks },
      { status: ready ? 200 : 503, headers: unsniffedUncachedHeaders }
    )
  })

/**
 * The ingest's /readyz: ready when the store answers. The queue's state is reported, not required: the ingest stays
 * ready while the queue is down, because leads are durable and the sweeper enqueues them later.
 */
export const ingestReadiness = readiness(["store"])

/** The consumer's /readyz: it needs both the queue (its jobs) and the store (the leads); 503 names what is down. */
export const consumerReadiness = readiness(["store", "queue"])

/**
 * /metrics: the checks run (the queue gauges refreshed, so either program can feed the autoscaler; whether the queue
 * and the store answered), then every metric rendered.
 */
export const scrape = Effect.gen(function* () {
  const metrics = yield* Metrics
  yield* checks
  const { body, contentType } = yield* metrics.render
  return HttpServerResponse.text(body, { contentType, headers: unsniffedUncachedHeaders })
})

/** The ingest's ops routes, as its HttpApi serves them and as its node:http server answers them directly. */
export const directOpsHandlers: {
  readonly [Name in OpsRouteName]: () => Effect.Effect<
    HttpServerResponse.HttpServerResponse,
    never,
    LeadStore | JobQueue | Metrics
  >
} = {
  healthz: () => Effect.succeed(healthy),
  readyz: () => ingestReadiness,
  metrics: () => scrape
}
