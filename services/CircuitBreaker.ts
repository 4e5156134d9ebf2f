import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"

export type BreakerState = "closed" | "half-open" | "open"

/** The breaker for `name` is open (or its one half-open probe is taken). Retry after `retryAfterMs`. */
export class CircuitOpen extends Schema.TaggedError<CircuitOpen>()("CircuitOpen", {
  name: Schema.String,
  retryAfterMs: Schema.Number
}) {}

export declare namespace CircuitBreaker {
  export interface Service {
    /**
     * Run `effect` through the breaker called `name`. Failures for which `isFailure` is true (default: all)
     * count toward opening it; others (a CRM's validation error, say) pass through uncounted.
     */
    readonly protect: <A, E, R>(
      name: string,
      effect: Effect.Effect<A, E, R>,
      isFailure?: (error: E) => boolean
    ) => Effect.Effect<A, E | CircuitOpen, R>
    readonly state: (name: string) => Effect.Effect<BreakerState>
  }
}

/** Per-provider circuit breaker, half-open timing driven by an Effect Schedule. Layers: memory, redis. */
export class CircuitBreaker extends Context.Tag("revenueflow/CircuitBreaker")<
  CircuitBreaker,
  CircuitBreaker.Service
>() {}
