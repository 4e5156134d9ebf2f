import * as Effect from "effect/Effect"
import type * as ConfigError from "effect/ConfigError"
import * as Layer from "effect/Layer"
import type { Redis } from "ioredis"
import { type Claim, Idempotency, IdempotencyUnavailable } from "../../services/Idempotency.js"
import { RedisClient, layerConfig as redisLayerConfig } from "../shared/RedisClient.js"
import type { RedisUnavailable } from "../shared/RedisUnavailable.js"

/** The value of a claimed key until its result is stored; results are JSON, so never this bare word. */
const IN_PROGRESS = "inprogress"

// Claim and read in one step: nil when this caller set the key, else the value already there.
const beginLua = `
if redis.call("SET", KEYS[1], ARGV[1], "NX", "PX", ARGV[2]) then
  return nil
end
return redis.call("GET", KEYS[1])
`

// Drop the key only while it still holds a claim, never a stored result.
const releaseLua = `
if redis.call("GET", KEYS[1]) == ARGV[1] then
  return redis.call("DEL", KEYS[1])
end
return 0
`

// beginLua over every key: 0 where this caller set the key, else the value already there.
const beginEachLua = `
local out = {}
for i = 1, #KEYS do
  if redis.call("SET", KEYS[i], ARGV[1], "NX", "PX", ARGV[2]) then
    out[i] = 0
  else
    out[i] = redis.call("GET", KEYS[i])
  end
end
return out
`

// releaseLua over every key.
const releaseEachLua = `
for i = 1, #KEYS do
  if redis.call("GET", KEYS[i]) == ARGV[1] then
    redis.call("DEL", KEYS[i])
  end
end
return 0
`

interface RedisWithIdempotency extends Redis {
  rfIdemBegin(key: string, marker: string, ttlMs: number): Promise<string | null>
  rfIdemRelease(key: string, marker: string): Promise<number>
  rfIdemBeginEach(numberOfKeys: number, ...keysAndArgs: ReadonlyArray<string | number>): Promise<Array<string | 0>>
  rfIdemReleaseEach(numberOfKeys: number, ...keysAndArgs: ReadonlyArray<string>): Promise<number>
}

const claimOf = (existing: string | 0): Claim => {
  if (existing === 0) return { _tag: "Acquired" }
  if (existing === IN_PROGRESS) return { _tag: "InProgress" }
  return { _tag: "Completed", result: JSON.parse(existing) }
}

const unavailable = (e: RedisUnavailable) => new IdempotencyUnavailable({ message: e.message })

/** Idempotency keys in Redis: SET NX PX claims, JSON results, compare-and-delete release. */
export const make = Effect.gen(function* () {
  const redis = yield* RedisClient
  const client = redis.client as RedisWithIdempotency
  if (typeof client.rfIdemBegin !== "function") {
    client.defineCommand("rfIdemBegin", { lua: beginLua, numberOfKeys: 1 })
    client.defineCommand("rfIdemRelease", { lua: releaseLua, numberOfKeys: 1 })
    client.defineCommand("rfIdemBeginEach", { lua: beginEachLua })
    client.defineCommand("rfIdemReleaseEach", { lua: releaseEachLua })
  }
  const keyOf = (key: string) => redis.key("idem", key)

  const begin = (key: string, inProgressTtlMs: number): Effect.Effect<Claim, IdempotencyUnavailable> =>
    redis
      .use((c) => (c as RedisWithIdempotency).rfIdemBegin(keyOf(key), IN_PROGRESS, Math.max(1, inProgressTtlMs)))
      .pipe(
        Effect.mapError(unavailable),
        Effect.map((existing) => claimOf(existing ?? 0))
      )

  const beginEach = (
    keys: ReadonlyArray<string>,
    inProgressTtlMs: number
  ): Effect.Effect<ReadonlyArray<Claim>, IdempotencyUnavailable> =>
    keys.length === 0
      ? Effect.succeed([])
      : redis
          .use((c) =>
            (c as RedisWithIdempotency).rfIdemBeginEach(
              keys.length,
              ...keys.map(keyOf),
              IN_PROGRESS,
              Math.max(1, inProgressTtlMs)
            )
          )
          .pipe(
            Effect.mapError(unavailable),
            Effect.map((values) => values.map(claimOf))
          )

  const complete = (key: string, result: unknown, ttlMs: number): Effect.Effect<void, IdempotencyUnavailable> =>
    Effect.flatMap(
      // A result that cannot be JSON is a programming error, not an outage.
      Effect.sync(() => JSON.stringify(result ?? null) ?? "null"),
      (json) => redis.use((c) => c.set(keyOf(key), json, "PX", Math.max(1, ttlMs)))
    ).pipe(Effect.mapError(unavailable), Effect.asVoid)

  const release = (key: string): Effect.Effect<void, IdempotencyUnavailable> =>
    redis
      .use((c) => (c as RedisWithIdempotency).rfIdemRelease(keyOf(key), IN_PROGRESS))
      .pipe(Effect.mapError(unavailable), Effect.asVoid)

  const releaseEach = (keys: ReadonlyArray<string>): Effect.Effect<void, IdempotencyUnavailable> =>
    keys.length === 0
      ? Effect.void
      : redis
          .use((c) => (c as RedisWithIdempotency).rfIdemReleaseEach(keys.length, ...keys.map(keyOf), IN_PROGRESS))
          .pipe(Effect.mapError(unavailable), Effect.asVoid)

  return Idempotency.of({ begin, beginEach, complete, release, releaseEach })
})

/** Idempotency on the shared Redis client. */
export const layer: Layer.Layer<Idempotency, never, RedisClient> = Layer.effect(Idempotency, make)

/** Idempotency on a Redis client built from REDIS_URL / REDIS_KEY_PREFIX. */
export const layerConfig: Layer.Layer<Idempotency, RedisUnavailable | ConfigError.ConfigError> = layer.pipe(
  Layer.provide(redisLayerConfig)
)
