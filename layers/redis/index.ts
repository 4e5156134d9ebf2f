/** `revenueflow/redis`: the Redis-backed services over one prefixed ioredis client (optional peer: ioredis). */
export * as RedisCircuitBreaker from "./CircuitBreaker.js"
export * as RedisIdempotency from "./Idempotency.js"
export * as RedisRateLimiter from "./RateLimiter.js"
export * as RedisClient from "../shared/RedisClient.js"
