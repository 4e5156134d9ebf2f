import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import { AppConfig } from "../../services/AppConfig.js"
import { type BreakerState, CircuitBreaker } from "../../services/CircuitBreaker.js"
import { breakerNamesInContext } from "../../layers/shared/breakerNames.js"
import { consumerBreakers } from "../domain/breakers.js"
import { JobQueue } from "../../services/JobQueue.js"
import { LeadStore, polledStatusCounts } from "../../services/LeadStore.js"
import { IngestApi } from "./api.js"
import { describeBackends } from "./backends.js"
import { makeGuard } from "./intakeHandlers.js"
import { deadLetter } from "./operatorViews.js"
import { storeUnavailable } from "./leadAnswers.js"

/** A part of the state that does not answer within this is shown as null rather than holding the page. */
const PART_TIMEOUT = "2 seconds"

/** What /ops/state says of the consumer's circuit breakers, and where it was read (see OpsState.breakerSource). */
interface BreakerReport {
  readonly breakers: ReadonlyArray<{ readonly name: string; readonly state: BreakerState }> | null
  readonly breakerSource: "process" | "redis" | "consumer"
}

/**
 * The shared breakers' state, read from Redis on a connection of its own made on the first /ops/state (the ingest
 * runs no breaker: the consumers do). Its module, and ioredis with it, is loaded only when CIRCUIT_BREAKER=REDIS.
 * undefined when it cannot be built (the reason logged once).
 */
const sharedBreakerReader = (scope: Scope.Scope) =>
  Effect.tryPromise(() => import("../../layers/redis/CircuitBreaker.js")).pipe(
    Effect.flatMap((m) => Scope.extend(m.stateReaderConfig, scope)),
    Effect.tapError((error) =>
      Effect.logWarning("the console cannot read the shared circuit breaker").pipe(
        Effect.annotateLogs({ error: String(error) })
      )
    ),
    Effect.option,
    Effect.map(Option.getOrUndefined)
  )

/** GET /dead-letters and GET /ops/state, behind the API keys. */
export const OperationsLive = HttpApiBuilder.group(IngestApi, "operations", (handlers) =>
  Effect.gen(function* () {
    const config = yield* AppConfig
    const guard = makeGuard(config)
    const backends = yield* describeBackends
    // the breakers a consumer runs with this configuration, as an ingest knows them (it loads neither the
    // enrichment provider nor Bedrock)
    const breakersOfConsumer = consumerBreakers(config)
    const scope = yield* Effect.scope
    // made once, in a fiber of this layer's own: a request given up meanwhile does not leave it half made
    const readShared =
      config.breaker === "REDIS"
        ? Effect.flatMap(yield* Effect.cached(Effect.forkIn(sharedBreakerReader(scope), scope)), Fiber.join)
        : undefined

    /**
     * The breakers: this process's own when it runs the calls they guard (the dev server, an embedding); else the
     * shared ones in Redis; else (one set per consumer process) nothing this process could know, which the console
     * says.
     */
    const breakerReport: Effect.Effect<BreakerReport> = Effect.gen(function* () {
      // the breaker and the services it guards are the consumer's; an ingest-only embedding may not have them
      const breaker = yield* Effect.serviceOption(CircuitBreaker)
      const names = Option.isSome(breaker) ? yield* breakerNamesInContext : []
      if (Option.isSome(breaker) && names.length > 0) {
        const breakers = yield* Effect.forEach(names, (name) =>
          Effect.map(breaker.value.state(name), (state) => ({ name, state }))
        )
        return { breakers, breakerSource: "process" }
      }
      if (readShared === undefined) return { breakers: [], breakerSource: "consumer" }
      // all or none: a part shown as the whole would hide the breakers Redis did not answer for
      const breakers = yield* readShared.pipe(
        Effect.flatMap((read) =>
          read === undefined
            ? Effect.succeed(null)
            : Effect.forEach(breakersOfConsumer, (name) => Effect.map(read(name), (state) => ({ name, state })), {
                concurrency: "unbounded"
              })
        ),
        Effect.timeout(PART_TIMEOUT),
        Effect.orElseSucceed(() => null)
      )
      return { breakers, breakerSource: "redis" }
    })

    return handlers
      .handleRaw("deadLetters", ({ request, urlParams }) =>
        Effect.gen(function* () {
          yield* guard(request.headers)
          const store = yield* LeadStore
          return yield* store.listByStatus({ statuses: ["FAILED"], olderThanMs: 0, limit: urlParams.limit ?? 50 }).pipe(
            Effect.map((leads) => HttpServerResponse.unsafeJson({ deadLetters: leads.map(deadLetter) })),
            Effect.catchTag("StoreUnavailable", () => Effect.succeed(storeUnavailable))
          )
        }).pipe(Effect.merge)
      )
      .handleRaw("opsState", ({ request }) =>
        Effect.gen(function* () {
          yield* guard(request.headers)
          const { counts, countedUpTo } = polledStatusCounts(yield* LeadStore)
          const queue = yield* JobQueue
          const orNull = <A, E>(part: Effect.Effect<A, E>) =>
            part.pipe(
              Effect.timeout(PART_TIMEOUT),
              Effect.orElseSucceed(() => null)
            )
          const [queueStats, leads, { breakers, breakerSource }] = yield* Effect.all(
            [orNull(queue.stats), orNull(counts), breakerReport],
            { concurrency: "unbounded" }
          )
          const { perLead, perAccount, crm: crmLimit, windowMs } = config.rateLimits
          return HttpServerResponse.unsafeJson({
            backends,
            queue: queueStats,
            leads,
            ...(countedUpTo === undefined ? {} : { leadsCountedUpTo: countedUpTo }),
            breakers,
            breakerSource,
            rateLimits: [
              { tier: "lead", limit: perLead, windowMs, scope: "per lead" },
              { tier: "account", limit: perAccount, windowMs, scope: "per account domain" },
              { tier: "crm", limit: crmLimit, windowMs, scope: "per CRM provider" }
            ]
          })
        }).pipe(Effect.merge)
      )
  })
)
