import { describe, expect, it } from "@effect/vitest"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import { appConfig, AppConfig } from "../../services/AppConfig.js"
import { describeBackends } from "../../src/http/backends.js"

/** What the banner and /ops/state say of the backends, with exactly `env` as the environment. */
const backendsWith = (env: Record<string, string>) =>
  describeBackends.pipe(
    Effect.provideServiceEffect(AppConfig, appConfig),
    Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env))))
  )

const QUEUE_URL = "https://sqs.eu-west-1.amazonaws.com/123456789012/RevenueFlowServerless-QueuesJobs1A2B3C"
const DLQ_URL = "https://sqs.eu-west-1.amazonaws.com/123456789012/RevenueFlowServerless-QueuesDeadLetters4D5E6F"

describe("describeBackends: the queue backend", () => {
  it.effect("names the SQS queue on the Lambda ingest (QUEUE_BACKEND=SQS, no Redis)", () =>
    Effect.gen(function* () {
      const backends = yield* backendsWith({ QUEUE_BACKEND: "SQS", SQS_QUEUE_URL: QUEUE_URL, SQS_DLQ_URL: DLQ_URL })
      expect(backends.queue).toBe('SQS queue "RevenueFlowServerless-QueuesJobs1A2B3C"')
    })
  )

  it.effect("names the SQS queue, not BullMQ, when Redis is there for the rest (the Lambda consumer)", () =>
    Effect.gen(function* () {
      const backends = yield* backendsWith({
        QUEUE_BACKEND: "SQS",
        SQS_QUEUE_URL: QUEUE_URL,
        REDIS_URL: "rediss://:s3cr3t-token@redis.internal:6379"
      })
      expect(backends.queue).toBe('SQS queue "RevenueFlowServerless-QueuesJobs1A2B3C"')
      expect(JSON.stringify(backends)).not.toContain("s3cr3t-token")
    })
  )

  it.effect(
    "names BullMQ on Redis when REDIS_URL carries the queue (QUEUE_BACKEND unset or BULLMQ), never the password",
    () =>
      Effect.gen(function* () {
        const redis = { REDIS_URL: "redis://:s3cr3t-token@redis.internal:6379/2", QUEUE_NAME: "leads" }
        for (const env of [redis, { ...redis, QUEUE_BACKEND: "BULLMQ" }]) {
          const backends = yield* backendsWith(env)
          expect(backends.queue).toBe('BullMQ queue "leads" on Redis at redis.internal:6379/2')
          expect(JSON.stringify(backends)).not.toContain("s3cr3t-token")
        }
      })
  )

  it.effect("says memory when nothing else is selected, and when QUEUE_BACKEND=MEMORY beside Redis", () =>
    Effect.gen(function* () {
      expect((yield* backendsWith({})).queue).toBe('in-memory queue "lead-processing" (this process only)')
      expect((yield* backendsWith({ QUEUE_BACKEND: "MEMORY", REDIS_URL: "redis://redis.internal:6379" })).queue).toBe(
        'in-memory queue "lead-processing" (this process only)'
      )
    })
  )
})
