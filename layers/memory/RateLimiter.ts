import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Ref from "effect/Ref"
import { RateLimited, RateLimiter, type Tier } from "../../services/RateLimiter.js"

interface Window {
  readonly count: number
  readonly endsAt: number
}

/** The in-process rate limiter: the same fixed windows as the Redis layer, timed by the Effect Clock. */
export const make = Effect.gen(function* () {
  // Keyed by "<tier key>:<window index>", like the Redis keys, so a tier's windows never mix.
  const windows = yield* Ref.make(new Map<string, Window>())

  const acquire = (tiers: ReadonlyArray<Tier>): Effect.Effect<void, RateLimited> =>
    Effect.flatMap(Clock.currentTimeMillis, (now) =>
      // Ref.modify is atomic, so check-then-consume of all tiers cannot interleave with another acquirer.
      Ref.modify(windows, (current): [RateLimited | undefined, Map<string, Window>] => {
        const next = new Map<string, Window>()
        for (const [key, window] of current) if (window.endsAt > now) next.set(key, window)
        const slots = tiers.map((tier) => {
          const index = Math.floor(now / tier.windowMs)
          return { tier, key: `${tier.key}:${index}`, endsAt: (index + 1) * tier.windowMs }
        })
        const need = new Map<string, number>()
        const cost = (tier: Tier) => tier.cost ?? 1
        for (const slot of slots) need.set(slot.key, (need.get(slot.key) ?? 0) + cost(slot.tier))
        let refused: RateLimited | undefined
        for (const slot of slots) {
          const count = next.get(slot.key)?.count ?? 0
          const retryAfterMs = slot.endsAt - now
          if (count + need.get(slot.key)! > slot.tier.limit && (!refused || retryAfterMs > refused.retryAfterMs)) {
            refused = new RateLimited({ tier: slot.tier.name, retryAfterMs })
          }
        }
        if (refused) return [refused, next]
        for (const slot of slots) {
          next.set(slot.key, { count: (next.get(slot.key)?.count ?? 0) + cost(slot.tier), endsAt: slot.endsAt })
        }
        return [undefined, next]
      })
    ).pipe(Effect.flatMap((refused) => (refused ? Effect.fail(refused) : Effect.void)))

  return RateLimiter.of({ acquire })
})

/** RateLimiter kept in this process (embedded mode and tests). */
export const layer: Layer.Layer<RateLimiter> = Layer.effect(RateLimiter, make)
