import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Ref from "effect/Ref"
import { type Permits, RateLimited, RateLimiter, type Tier } from "../../services/RateLimiter.js"

interface Window {
  readonly count: number
  readonly endsAt: number
}

/** The in-process rate limiter: the same fixed windows as the Redis layer, timed by the Effect Clock. */
export const make = Effect.gen(function* () {
  // Keyed by "<tier key>:<window index>", like the Redis keys, so a tier's windows never mix.
  const windows = yield* Ref.make(new Map<string, Window>())

  const acquireEach = (groups: ReadonlyArray<ReadonlyArray<Tier>>): Effect.Effect<Permits, RateLimited> =>
    Effect.flatMap(Clock.currentTimeMillis, (now) =>
      // Ref.modify is atomic, so check-then-consume of all tiers cannot interleave with another acquirer.
      Ref.modify(windows, (current): [RateLimited | Permits, Map<string, Window>] => {
        const next = new Map<string, Window>()
        for (const [key, window] of current) if (window.endsAt > now) next.set(key, window)
        let granted = 0
        for (const group of groups) {
          const slots = group.map((tier) => {
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
          if (refused) return [granted === 0 ? refused : { granted, at: now }, next]
          for (const slot of slots) {
            next.set(slot.key, { count: (next.get(slot.key)?.count ?? 0) + cost(slot.tier), endsAt: slot.endsAt })
          }
          granted++
        }
        return [{ granted, at: now }, next]
      })
    ).pipe(Effect.flatMap((result) => (result instanceof RateLimited ? Effect.fail(result) : Effect.succeed(result))))

  const refund = (groups: ReadonlyArray<ReadonlyArray<Tier>>, at: number): Effect.Effect<void> =>
    Ref.update(windows, (current) => {
      const next = new Map(current)
      for (const group of groups) {
        for (const tier of group) {
          const key = `${tier.key}:${Math.floor(at / tier.windowMs)}`
          const window = next.get(key)
          if (window !== undefined) next.set(key, { ...window, count: Math.max(0, window.count - (tier.cost ?? 1)) })
        }
      }
      return next
    })

  const acquire = (tiers: ReadonlyArray<Tier>): Effect.Effect<void, RateLimited> => Effect.asVoid(acquireEach([tiers]))

  return RateLimiter.of({ acquire, acquireEach, refund })
})

/** RateLimiter kept in this process (embedded mode and tests). */
export const layer: Layer.Layer<RateLimiter> = Layer.effect(RateLimiter, make)
