// revenueflow/lambda in an install without @aws-sdk/client-sqs: the entry imports, and the consumer's first
// invocation fails naming the package to install, as every other optional peer does (not ERR_MODULE_NOT_FOUND).
import { execFile } from "node:child_process"
import { join, resolve } from "node:path"
import { promisify } from "node:util"
import { describe, expect, it } from "@effect/vitest"
import { testDatabaseUrl } from "../store/fixtures.js"

const run = promisify(execFile)
const root = resolve(import.meta.dirname, "../..")

describe("revenueflow/lambda without @aws-sdk/client-sqs", () => {
  it("imports, and the consumer's environment fails to start with the install hint", { timeout: 60_000 }, async () => {
    const { stdout, stderr } = await run(
      process.execPath,
      ["--import", "tsx", join(import.meta.dirname, "missingSqsClient.fixture.ts")],
      {
        cwd: root,
        timeout: 40_000,
        env: {
          ...process.env,
          DATABASE_URL: testDatabaseUrl,
          QUEUE_BACKEND: "SQS",
          SQS_QUEUE_URL: "https://sqs.eu-west-1.amazonaws.com/123456789012/leads",
          SQS_DLQ_URL: "https://sqs.eu-west-1.amazonaws.com/123456789012/leads-dlq",
          REDIS_URL: process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379",
          AWS_REGION: "eu-west-1",
          LOG_LEVEL: "Error"
        }
      }
    )
    expect(stdout).toMatch(/^imported$/m)
    expect(stdout).toContain("invocation failed: The consumer's environment failed to start")
    // the environment's log line (stderr, JSON) names the package and the range to install
    expect(stderr).toContain(
      "QUEUE_BACKEND=SQS: needs the package @aws-sdk/client-sqs, which is not installed (npm install @aws-sdk/client-sqs@^3.1175.0)"
    )
    expect(stderr).not.toContain("ERR_MODULE_NOT_FOUND")
  })
})
