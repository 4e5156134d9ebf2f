import { randomUUID } from "node:crypto"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import type { Redis } from "ioredis"
import { make, RedisClient } from "../../layers/redis/RedisClient.js"

/** The local test Redis (override with TEST_REDIS_URL). */
export const redisUrl = Redacted.make(process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379")

/** A Redis that refuses connections at once. */
export const unreachableRedisUrl = Redacted.make("redis://:s3cret-password@127.0.0.1:1")

/** A key prefix of its own for one test run. */
export const testPrefix = (): string => `rf-test-${randomUUID().slice(0, 8)}`

const deleteKeys = (client: Redis, prefix: string) =>
  Effect.promise(async () => {
    let cursor = "0"
    do {
      const [next, keys] = await client.scan(cursor, "MATCH", `${prefix}:*`, "COUNT", 500)
      if (keys.length > 0) await client.del(...keys)
      cursor = next
    } while (cursor !== "0")
  })

/** A RedisClient on `prefix` that deletes every key under it when released. */
export const redisTestLayer = (prefix: string): Layer.Layer<RedisClient> =>
  Layer.scoped(
    RedisClient,
    Effect.gen(function* () {
      const redis = yield* make({ url: redisUrl, prefix })
      yield* Effect.addFinalizer(() => deleteKeys(redis.client, prefix).pipe(Effect.ignore))
      return redis
    })
  ).pipe(Layer.orDie)
