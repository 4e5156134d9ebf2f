import type * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import type { RedisClient } from "../../layers/shared/RedisClient.js"
import * as Testing from "../../layers/testing/redis.js"
import { testPrefix as freshPrefix } from "../../layers/testing/servers.js"

/** The local test Redis (override with TEST_REDIS_URL). */
export const redisUrl = Redacted.make(process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379")

/** A Redis that refuses connections at once. */
export const unreachableRedisUrl = Redacted.make("redis://:s3cret-password@127.0.0.1:1")

/** A key prefix of its own for one test run. */
export const testPrefix = freshPrefix

/** A RedisClient on `prefix` that deletes every key under it when released. */
export const redisTestLayer = (prefix: string): Layer.Layer<RedisClient> => Testing.layerRedisTest(prefix)
