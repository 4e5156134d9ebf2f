import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"

/** One limit: at most `limit` acquisitions per fixed window of `windowMs` for `key`. */
export interface Tier {
  /** The tier's name, for metrics and errors: "lead", "account", "crm". */
  readonly name: string
  readonly key: string
  readonly limit: number
  readonly windowMs: number
  /** Permits this acquisition takes from the tier (default 1): an action making three CRM calls takes three. */
  readonly cost?: number | undefined
}

/** What `acquireEach` took: the first `granted` groups (at least one), in the windows of the time `at`. */
export interface Permits {
  readonly granted: number
  readonly at: number
}

/** A tier refused; nothing was consumed from any tier. Retry after `retryAfterMs`. */
export class RateLimited extends Schema.TaggedError<RateLimited>()("RateLimited", {
  tier: Schema.String,
  retryAfterMs: Schema.Number
}) {}

export class RateLimiterUnavailable extends Schema.TaggedError<RateLimiterUnavailable>()("RateLimiterUnavailable", {
  message: Schema.String
}) {}

export declare namespace RateLimiter {
  export interface Service {
    /** Check and consume every tier atomically: all tiers consume, or none does. */
    readonly acquire: (tiers: ReadonlyArray<Tier>) => Effect.Effect<void, RateLimited | RateLimiterUnavailable>
    /**
     * Several acquisitions in one step (one per planned action of a lead): the groups are taken in order, each
     * all-or-none like `acquire`, up to the first that does not fit. Fails with RateLimited, consuming nothing, when
     * the first group does not fit.
     */
    readonly acquireEach: (
      groups: ReadonlyArray<ReadonlyArray<Tier>>
    ) => Effect.Effect<Permits, RateLimited | RateLimiterUnavailable>
    /**
     * Give back permits `acquireEach` took at `at` that were not used (the action was never sent): its windows'
     * counts go down by the groups' costs, never below zero; a window that has ended meanwhile is left alone.
     */
    readonly refund: (
      groups: ReadonlyArray<ReadonlyArray<Tier>>,
      at: number
    ) => Effect.Effect<void, RateLimiterUnavailable>
  }
}

/** Tiered fixed-window rate limiter. Layers: redis (one Lua round trip, shared by replicas), memory. */
export class RateLimiter extends Context.Tag("revenueflow/RateLimiter")<RateLimiter, RateLimiter.Service>() {}
