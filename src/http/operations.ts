import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { AppConfig } from "../../services/AppConfig.js"
import { CircuitBreaker } from "../../services/CircuitBreaker.js"
import { CrmExecutor } from "../../services/CrmExecutor.js"
import { JobQueue } from "../../services/JobQueue.js"
import { LeadStore } from "../../services/LeadStore.js"
import { IngestApi } from "./api.js"
import { describeBackends } from "./backends.js"
import { makeGuard } from "./intakeHandlers.js"
import { deadLetter } from "./operatorViews.js"
import { unavailable } from "./leadAnswers.js"

/** A part of the state that does not answer within this is shown as null rather than holding the page. */
const PART_TIMEOUT = "2 seconds"

/** GET /dead-letters and GET /ops/state, behind the API keys. */
export const OperationsLive = HttpApiBuilder.group(IngestApi, "operations", (handlers) =>
  Effect.gen(function* () {
    const config = yield* AppConfig
    const guard = makeGuard(config)
    const backends = yield* describeBackends
    return handlers
      .handleRaw("deadLetters", ({ request, urlParams }) =>
        Effect.gen(function* () {
          yield* guard(request.headers)
          const store = yield* LeadStore
          return yield* store.listByStatus({ statuses: ["FAILED"], olderThanMs: 0, limit: urlParams.limit ?? 50 }).pipe(
            Effect.map((leads) => HttpServerResponse.unsafeJson({ deadLetters: leads.map(deadLetter) })),
            Effect.catchTag("StoreUnavailable", () => Effect.succeed(unavailable))
          )
        }).pipe(Effect.merge)
      )
      .handleRaw("opsState", ({ request }) =>
        Effect.gen(function* () {
          yield* guard(request.headers)
          const store = yield* LeadStore
          const queue = yield* JobQueue
          // the breaker and CRM are the consumer's; an ingest-only embedding may not have them
          const breaker = yield* Effect.serviceOption(CircuitBreaker)
          const crm = yield* Effect.serviceOption(CrmExecutor)
          const orNull = <A, E>(part: Effect.Effect<A, E>) =>
            part.pipe(
              Effect.timeout(PART_TIMEOUT),
              Effect.orElseSucceed(() => null)
            )
          const [queueStats, leads] = yield* Effect.all([orNull(queue.stats), orNull(store.countByStatus)], {
            concurrency: "unbounded"
          })
          const breakers =
            Option.isSome(breaker) && Option.isSome(crm)
              ? [{ name: crm.value.provider, state: yield* breaker.value.state(crm.value.provider) }]
              : []
          const { perLead, perAccount, crm: crmLimit, windowMs } = config.rateLimits
          return HttpServerResponse.unsafeJson({
            backends,
            queue: queueStats,
            leads,
            breakers,
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
