import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { layerRedisTest } from "../../layers/testing/redis.js"
import { testPrefix, testRedisUrl } from "../../layers/testing/servers.js"

/**
 * The settings that give the handlers Redis (a consumer on SQS must share its idempotency claims there) under a key
 * prefix of their own, every key under it deleted when the scope closes: close it after disposing the handlers.
 */
export const lambdaRedis = Effect.gen(function* () {
  const prefix = testPrefix()
  yield* Layer.build(layerRedisTest(prefix))
  return { REDIS_URL: testRedisUrl(), REDIS_KEY_PREFIX: prefix }
})
