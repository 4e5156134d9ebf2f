import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import type * as ConfigError from "effect/ConfigError"
import * as Layer from "effect/Layer"
import type { Redis } from "ioredis"
import {
  type Permits,
  RateLimited,
  RateLimiter,
  RateLimiterUnavailable,
  type Tier
} from "../../services/RateLimiter.js"
import { RedisClient, layerConfig as redisLayerConfig } from "../shared/RedisClient.js"
import type { RedisUnavailable } from "../shared/RedisUnavailable.js"

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

// Groups of tiers, taken in order, each all-or-none, up to the first that does not fit. KEYS[i]: a tier's window key.
// ARGV[4i-3]: its limit, ARGV[4i-2]: ms until its window ends, ARGV[4i-1]: the permits it takes, ARGV[4i]: its
// group's number (a group's tiers are adjacent); the last ARGV: the expiry slack. Returns {n, 0, 0} when the first n
// groups consumed their permits, or {0, i, retryAfterMs} naming the refusing tier of the first group with the longest
// wait, in which case nothing was consumed. One GET, INCRBY and PEXPIRE per distinct key, whatever the groups.
const acquireLua = `
local count = {}
local start = {}
local ends = {}
local granted = 0
local refused = 0
local retry = -1
local i = 1
while i <= #KEYS do
  local group = ARGV[i * 4]
  local last = i
  while last < #KEYS and ARGV[(last + 1) * 4] == group do
    last = last + 1
  end
  local need = {}
  for k = i, last do
    local key = KEYS[k]
    if count[key] == nil then
      count[key] = tonumber(redis.call("GET", key) or "0")
      start[key] = count[key]
    end
    need[key] = (need[key] or 0) + tonumber(ARGV[k * 4 - 1])
  end
  local fits = true
  for k = i, last do
    if count[KEYS[k]] + need[KEYS[k]] > tonumber(ARGV[k * 4 - 3]) then
      fits = false
      local remaining = tonumber(ARGV[k * 4 - 2])
      if granted == 0 and remaining > retry then
        retry = remaining
        refused = k
      end
    end
  end
  if not fits then
    break
  end
  for k = i, last do
    local key = KEYS[k]
    if need[key] ~= nil then
      count[key] = count[key] + need[key]
      need[key] = nil
    end
    local remaining = tonumber(ARGV[k * 4 - 2])
    if ends[key] == nil or remaining > ends[key] then
      ends[key] = remaining
    end
  end
  granted = granted + 1
  i = last + 1
end
if granted == 0 then
  return { 0, refused, retry }
end
local slack = tonumber(ARGV[#KEYS * 4 + 1])
for key, remaining in pairs(ends) do
  if count[key] > start[key] then
    redis.call("INCRBY", key, count[key] - start[key])
  end
  redis.call("PEXPIRE", key, remaining + slack)
end
return { granted, 0, 0 }
`

/** How many groups lead up to the `granted`-th non-empty one (the script sees only groups with tiers). */
const groupsTaken = (groups: ReadonlyArray<ReadonlyArray<Tier>>, granted: number) => {
  let seen = 0
  for (let g = 0; g < groups.length; g++) {
    if (groups[g]!.length === 0) continue
    if (seen === granted) return g
    seen++
  }
  return groups.length
}

// KEYS[i]: a window key, ARGV[i]: permits to give back. Never below zero; an expired window is not recreated.
const refundLua = `
for i = 1, #KEYS do
  local current = tonumber(redis.call("GET", KEYS[i]) or "0")
  local back = math.min(current, tonumber(ARGV[i]))
  if back > 0 then
    redis.call("DECRBY", KEYS[i], back)
  end
end
return 0
`

interface RedisWithAcquire extends Redis {
  rfRefund(numberOfKeys: number, ...keysAndArgs: ReadonlyArray<string | number>): Promise<number>
  rfAcquireEach(numberOfKeys: number, ...keysAndArgs: ReadonlyArray<string | number>): Promise<[number, number, number]>
}

/** The Redis rate limiter: every tier of every group checked and consumed by one Lua script in one round trip. */
export const make = Effect.gen(function* () {
  const redis = yield* RedisClient
  const client = redis.client as RedisWithAcquire
  // defineCommand sends EVALSHA and falls back to EVAL once, so the script is loaded on first use.
  if (typeof client.rfAcquireEach !== "function") {
    client.defineCommand("rfAcquireEach", { lua: acquireLua })
    client.defineCommand("rfRefund", { lua: refundLua })
  }

  const acquireEach = (
    groups: ReadonlyArray<ReadonlyArray<Tier>>
  ): Effect.Effect<Permits, RateLimited | RateLimiterUnavailable> =>
    Effect.flatMap(Clock.currentTimeMillis, (now) => {
      const keys: Array<string> = []
      const args: Array<number> = []
      const tiers: Array<Tier> = []
      groups.forEach((group, number) => {
        for (const tier of group) {
          const index = Math.floor(now / tier.windowMs)
          keys.push(redis.key("rl", tier.key, String(index)))
          args.push(tier.limit, (index + 1) * tier.windowMs - now, tier.cost ?? 1, number)
          tiers.push(tier)
        }
      })
      // groups without tiers take nothing and always fit
      if (keys.length === 0) return Effect.succeed({ granted: groups.length, at: now })
      return redis
        .use((c) => (c as RedisWithAcquire).rfAcquireEach(keys.length, ...keys, ...args, EXPIRY_SLACK_MS))
        .pipe(
          Effect.mapError((e) => new RateLimiterUnavailable({ message: e.message })),
          Effect.flatMap(([granted, refused, retryAfterMs]) => {
            const taken = groupsTaken(groups, granted)
            return taken > 0
              ? Effect.succeed({ granted: taken, at: now })
              : Effect.fail(new RateLimited({ tier: tiers[refused - 1]!.name, retryAfterMs }))
          })
        )
    })

  const acquire = (tiers: ReadonlyArray<Tier>): Effect.Effect<void, RateLimited | RateLimiterUnavailable> =>
    tiers.length === 0 ? Effect.void : Effect.asVoid(acquireEach([tiers]))

  const refund = (
    groups: ReadonlyArray<ReadonlyArray<Tier>>,
    at: number
  ): Effect.Effect<void, RateLimiterUnavailable> => {
    const back = new Map<string, number>()
    for (const group of groups) {
      for (const tier of group) {
        const key = redis.key("rl", tier.key, String(Math.floor(at / tier.windowMs)))
        back.set(key, (back.get(key) ?? 0) + (tier.cost ?? 1))
      }
    }
    if (back.size === 0) return Effect.void
    return redis
      .use((c) => (c as RedisWithAcquire).rfRefund(back.size, ...back.keys(), ...back.values()))
      .pipe(
        Effect.mapError((e) => new RateLimiterUnavailable({ message: e.message })),
        Effect.asVoid
      )
  }

  return RateLimiter.of({ acquire, acquireEach, refund })
})

/** RateLimiter on the shared Redis client. */
export const layer: Layer.Layer<RateLimiter, never, RedisClient> = Layer.effect(RateLimiter, make)

/** RateLimiter on a Redis client built from REDIS_URL / REDIS_KEY_PREFIX. */
export const layerConfig: Layer.Layer<RateLimiter, RedisUnavailable | ConfigError.ConfigError> = layer.pipe(
  Layer.provide(redisLayerConfig)
)
