import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import { importSelected } from "../shared/optionalPackage.js"
import type { RedisClient } from "../shared/RedisClient.js"
import { testRedisUrl } from "./servers.js"

// Not re-exported by revenueflow/testing: its type names ioredis', which a memory-only test need not install.

const redisClient = importSelected("productionEnv (Redis)", () => import("../shared/RedisClient.js"))

/** A RedisClient on `prefix` that deletes every key under it when released. */
export const layerRedisTest = (prefix: string, url: string = testRedisUrl()): Layer.Layer<RedisClient> =>
  Layer.unwrapEffect(
    Effect.map(Effect.orDie(redisClient), (Redis) =>
      Layer.scoped(
        Redis.RedisClient,
        Effect.gen(function* () {
          const redis = yield* Redis.make({ url: Redacted.make(url), prefix })
          yield* Effect.addFinalizer(() =>
            Effect.promise(async () => {
              let cursor = "0"
              do {
                const [next, keys] = await redis.client.scan(cursor, "MATCH", `${prefix}:*`, "COUNT", 500)
                if (keys.length > 0) await redis.client.del(...keys)
                cursor = next
              } while (cursor !== "0")
            }).pipe(Effect.ignore)
          )
          return redis
        })
      )
    )
  ).pipe(Layer.orDie)
