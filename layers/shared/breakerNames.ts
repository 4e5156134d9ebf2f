import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { Analyzer } from "../../services/Analyzer.js"
import { CircuitBreaker, type CircuitOpen } from "../../services/CircuitBreaker.js"
import { CrmExecutor } from "../../services/CrmExecutor.js"
import { Enricher } from "../../services/Enricher.js"
import { Metrics } from "../../services/Metrics.js"

/**
 * The names of the circuit breakers the pipeline runs with the services in context (src/pipeline/process.ts): the
 * CRM's (its provider), then the enrichment provider's and the analyser's when they are remote and name one. What the
 * CloudWatch EMF lines and the console's /ops/state report.
 */
export const breakerNamesInContext: Effect.Effect<ReadonlyArray<string>> = Effect.gen(function* () {
  const crm = yield* Effect.serviceOption(CrmExecutor)
  const enricher = yield* Effect.serviceOption(Enricher)
  const analyzer = yield* Effect.serviceOption(Analyzer)
  return [
    ...Option.toArray(Option.map(crm, (service) => service.provider)),
    ...Option.toArray(Option.flatMapNullable(enricher, (service) => service.breaker)),
    ...Option.toArray(Option.flatMapNullable(analyzer, (service) => service.breaker))
  ]
})

/**
 * A remote provider's `call` through the circuit breaker `name` of the caller's context, when it has one (the
 * pipeline's does), failures `isFailure` picks counting toward opening it; the gauge then shows the breaker's state,
 * as the CRM's does after each call. Without a breaker in context (an app calling the provider directly), the call as
 * it is. While the breaker is open the caller gets CircuitOpen: a lead waits, spending no attempt, instead of retrying
 * into the outage (five attempts in ~15 s dead-lettered every lead in flight).
 */
export const throughBreaker = <A, E, R>(
  name: string,
  call: Effect.Effect<A, E, R>,
  isFailure: (error: E) => boolean
): Effect.Effect<A, E | CircuitOpen, R> =>
  Effect.flatMap(Effect.serviceOption(CircuitBreaker), (breaker) =>
    Option.isNone(breaker)
      ? call
      : breaker.value
          .protect(name, call, isFailure)
          .pipe(
            Effect.ensuring(
              Effect.flatMap(Effect.serviceOption(Metrics), (metrics) =>
                Option.isNone(metrics)
                  ? Effect.void
                  : Effect.flatMap(breaker.value.state(name), (state) => metrics.value.breakerState(name, state))
              )
            )
          )
  )
