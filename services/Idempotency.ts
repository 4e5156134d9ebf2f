import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"

/** The outcome of claiming an action key. */
export type Claim =
  | { readonly _tag: "Acquired" }
  | { readonly _tag: "InProgress" }
  | { readonly _tag: "Completed"; readonly result: unknown }

export class IdempotencyUnavailable extends Schema.TaggedError<IdempotencyUnavailable>()("IdempotencyUnavailable", {
  message: Schema.String
}) {}

/** How a claim is held. */
export interface ClaimOptions {
  /**
   * Held while its holder works (a lease): the claim is extended by `inProgressTtlMs` again each time a third of it
   * has passed, for as long as this process holds it (until it is completed or released), so a run longer than the
   * TTL — an action of many CRM calls, a slow CRM — keeps it, and the TTL bounds only how long a claim outlives a
   * process that stopped holding it (killed, frozen, cut off from the store). Without it the claim simply lapses
   * after its TTL (a window: "one refusal row per 10 minutes").
   */
  readonly renew?: boolean | undefined
  /**
   * Who holds the claim, when one process runs several callers that may claim the same key (two deliveries of one
   * job in one consumer: a claim the first lost, the second may take). Compared by identity: an object per caller
   * (a run). Given the same `owner`, `holds`, `release`, `releaseEach` and `letLapse` act on that caller's claim only,
   * never on another caller's claim of the key; without one they act on this process' claim, whoever took it.
   */
  readonly owner?: object | undefined
}

export declare namespace Idempotency {
  export interface Service {
    /**
     * Claim a key for `inProgressTtlMs`: Acquired (go ahead), InProgress (someone else holds it), Completed. A call
     * that fails or is interrupted has claimed nothing its caller may act on (nothing may be sent under it); a
     * layer whose store may still run such a call after the caller stopped waiting (Redis after a stall) drops the
     * claims it set once the store answers, so they do not hold the key, the caller's own retry included, for the
     * whole TTL. Each call's claims are its own: another call, even for the same job, sees them as InProgress.
     */
    readonly begin: (
      key: string,
      inProgressTtlMs: number,
      options?: ClaimOptions
    ) => Effect.Effect<Claim, IdempotencyUnavailable>
    /** `begin` of several keys in one step (one round trip on Redis), each claim as `begin` would answer it. */
    readonly beginEach: (
      keys: ReadonlyArray<string>,
      inProgressTtlMs: number,
      options?: ClaimOptions
    ) => Effect.Effect<ReadonlyArray<Claim>, IdempotencyUnavailable>
    /** Mark a key done with its result for `ttlMs`. */
    readonly complete: (key: string, result: unknown, ttlMs: number) => Effect.Effect<void, IdempotencyUnavailable>
    /** Drop an in-progress claim after a failure so a retry may try again (`options.owner`'s only, when given). */
    readonly release: (key: string, options?: ClaimOptions) => Effect.Effect<void, IdempotencyUnavailable>
    /** `release` of several keys in one step. */
    readonly releaseEach: (
      keys: ReadonlyArray<string>,
      options?: ClaimOptions
    ) => Effect.Effect<void, IdempotencyUnavailable>
    /**
     * Stop holding claims this caller acquired with `renew` and neither completed nor released (an action whose
     * durable record is elsewhere: the run's last, recorded by its audit row): no longer extended, they lapse after
     * their TTL as a claim without `renew` does. Local to this process (no round trip); keys it holds no such claim
     * on are left alone. Runs that acquired renewed claims call it when they end, whatever the end.
     */
    readonly letLapse: (keys: ReadonlyArray<string>, options?: ClaimOptions) => Effect.Effect<void>
    /**
     * Whether this caller still holds the claim it acquired on `key`: not completed, released or lapsed, and not
     * known to be lost — found taken by another holder when it was to be renewed, or past its expiry as this process
     * counts it from when it asked (the store out of reach while the claim ran out). Local, no round trip. A holder
     * asks before it acts under a claim it has held a while: a claim lost meanwhile may be another worker's by now,
     * and that worker would act too. With `options.owner`: that caller's claim (another caller of this process may
     * have taken the key since).
     */
    readonly holds: (key: string, options?: ClaimOptions) => Effect.Effect<boolean>
  }
}

/** Fast-path idempotency of CRM actions (the audit log is the durable truth). Layers: redis, memory. */
export class Idempotency extends Context.Tag("revenueflow/Idempotency")<Idempotency, Idempotency.Service>() {}
