// revenueflow/lambda outside Lambda (an embedder's integration test or local harness): dispose() releases what the
// handlers opened, so the process exits. Needs Postgres and Redis (a schema and key prefix of its own, removed).
import { execFile } from "node:child_process"
import { randomBytes } from "node:crypto"
import { join } from "node:path"
import { promisify } from "node:util"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Redis } from "ioredis"
import postgres from "postgres"
import { root } from "./app.js"

const run = promisify(execFile)
const databaseUrl = process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test"
const redisUrl = process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379"
const suffix = randomBytes(5).toString("hex")
const schema = `rf_lambda_${suffix}`
const prefix = `rf-lambda-${suffix}`

const admin = postgres(databaseUrl, { max: 1, onnotice: () => {} })

beforeAll(async () => {
  await admin.unsafe(`CREATE SCHEMA ${schema}`)
})

afterAll(async () => {
  await admin.unsafe(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => undefined)
  await admin.end({ timeout: 5 })
  const redis = new Redis(redisUrl)
  const keys = await redis.keys(`${prefix}:*`)
  if (keys.length > 0) await redis.del(...keys)
  redis.disconnect()
})

describe("revenueflow/lambda dispose()", () => {
  it("releases the handlers' pools and clients: a harness that called one exits at once", {
    timeout: 60_000
  }, async () => {
    const { stdout } = await run(
      process.execPath,
      ["--import", "tsx", join(import.meta.dirname, "lambdaDispose.fixture.ts")],
      {
        cwd: root,
        timeout: 40_000,
        env: {
          ...process.env,
          DATABASE_URL: databaseUrl,
          DATABASE_SCHEMA: schema,
          MIGRATE_ON_START: "true",
          QUEUE_BACKEND: "BULLMQ",
          REDIS_URL: redisUrl,
          REDIS_KEY_PREFIX: prefix,
          QUEUE_NAME: prefix,
          LOG_LEVEL: "Warn"
        }
      }
    )
    expect(stdout).toContain('sweep: {"enqueued":0}')
    const lived = Number(/exited (\d+) ms after the dispose/.exec(stdout)?.[1] ?? Number.NaN)
    expect(lived, stdout).toBeLessThan(5_000)
  })
})
