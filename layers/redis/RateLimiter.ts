import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import type * as ConfigError from "effect/ConfigError"
import * as Layer from "effect/Layer"
import type { Redis } from "ioredis"
import { RateLimited, RateLimiter, RateLimiterUnavailable, type Tier } from "../../services/RateLimiter.js"
import { RedisClient, layerConfig as redisLayerConfig } from "./RedisClient.js"
import type { RedisUnavailable } from "./RedisUnavailable.js"

/*
 * Why not @effect/experimental's RateLimiter: its Redis store runs one script per key, so tiers
 * would be checked in separate round trips and a later refusal could not undo an earlier consume.
 *
 * Time comes from the caller's Effect Clock (passed as ARGV), not Redis TIME: the same behaviour
 * suite then runs on TestClock against memory and Redis, and window boundaries of replicas differ
 * only by their NTP skew (milliseconds). Keys outlive their window by EXPIRY_SLACK_MS so a replica
 * whose clock lags still finds the window's count instead of a fresh key.
 *
 * All keys of one call must live in one hash slot on Redis Cluster; a single node is assumed.
 */

const EXPIRY_SLACK_MS = 1000

// KEYS[i]: the tier's window key. ARGV[3i-2]: its limit, ARGV[3i-1]: ms until its window ends, ARGV[3i]: the
// permits it takes. Returns {0, 0} when every tier consumed its permits, or {i, retryAfterMs} naming the refusing
// tier with the longest wait, in which case nothing was consumed.
const acquireLua = `
local need = {}
for i = 1, #KEYS do
  need[KEYS[i]] = (need[KEYS[i]] or 0) + tonumber(ARGV[i * 3])
end
local refused = 0
local retry = -1
for i = 1, #KEYS do
  local limit = tonumber(ARGV[i * 3 - 2])
  local current = tonumber(redis.call("GET", KEYS[i]) or "0")
  if current + need[KEYS[i]] > limit then
    local remaining = tonumber(ARGV[i * 3 - 1])
    if remaining > retry then
      retry = remaining
      refused = i
    end
  end
end
if refused > 0 then
  return { refused, retry }
end
for i = 1, #KEYS do
  redis.call("INCRBY", KEYS[i], tonumber(ARGV[i * 3]))
  redis.call("PEXPIRE", KEYS[i], tonumber(ARGV[i * 3 - 1]) + tonumber(ARGV[#KEYS * 3 + 1]))
end
return { 0, 0 }
`

interface RedisWithAcquire extends Redis {
  rfAcquireTiers(numberOfKeys: number, ...keysAndArgs: ReadonlyArray<string | number>): Promise<[number, number]>
}

/** The Redis rate limiter: every tier checked and consumed by one Lua script in one round trip. */
export const make = Effect.gen(function* () {
  const redis = yield* RedisClient
  const client = redis.client as RedisWithAcquire
  // defineCommand sends EVALSHA and falls back to EVAL once, so the script is loaded on first use.
  if (typeof client.rfAcquireTiers !== "function") {
    client.defineCommand("rfAcquireTiers", { lua: acquireLua })
  }

  const acquire = (tiers: ReadonlyArray<Tier>): Effect.Effect<void, RateLimited | RateLimiterUnavailable> =>
    tiers.length === 0
      ? Effect.void
      : Effect.flatMap(Clock.currentTimeMillis, (now) => {
          const keys: Array<string> = []
          const args: Array<number> = []
          for (const tier of tiers) {
            const index = Math.floor(now / tier.windowMs)
            keys.push(redis.key("rl", tier.key, String(index)))
            args.push(tier.limit, (index + 1) * tier.windowMs - now, tier.cost ?? 1)
          }
          return redis
            .use((c) => (c as RedisWithAcquire).rfAcquireTiers(keys.length, ...keys, ...args, EXPIRY_SLACK_MS))
            .pipe(
              Effect.mapError((e) => new RateLimiterUnavailable({ message: e.message })),
              Effect.flatMap(([refused, retryAfterMs]) =>
                refused === 0
                  ? Effect.void
                  : Effect.fail(new RateLimited({ tier: tiers[refused - 1]!.name, retryAfterMs }))
              )
            )
        })

  return RateLimiter.of({ acquire })
})

/** RateLimiter on the shared Redis client. */
export const layer: Layer.Layer<RateLimiter, never, RedisClient> = Layer.effect(RateLimiter, make)

/** RateLimiter on a Redis client built from REDIS_URL / REDIS_KEY_PREFIX. */
export const layerConfig: Layer.Layer<RateLimiter, RedisUnavailable | ConfigError.ConfigError> = layer.pipe(
  Layer.provide(redisLayerConfig)
)
