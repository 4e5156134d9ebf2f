import { describe, expect, it } from "vitest"
import { fromContext } from "../lib/config.js"

const read = (context: Record<string, unknown>) => (key: string) => context[key]

describe("stack context", () => {
  it("has a default for everything, so `npm run synth` needs no argument", () => {
    const config = fromContext(read({}))
    expect(config).toMatchObject({ crmProvider: "MOCK", analyzer: "HEURISTIC", workerConcurrency: 5, tracing: "off" })
  })

  it("reads CLI strings (`-c workerConcurrency=8`) and JSON environment", () => {
    const config = fromContext(read({ workerConcurrency: "8", multiAz: "false", environment: '{"LOG_LEVEL":"Debug"}' }))
    expect(config.workerConcurrency).toBe(8)
    expect(config.multiAz).toBe(false)
    expect(config.environment).toEqual({ LOG_LEVEL: "Debug" })
  })

  it("names every bad key at once, and refuses secrets in the plain environment", () => {
    let message = ""
    try {
      fromContext(
        read({
          crmProvider: "PIPEDRIVE",
          workerConcurrency: "0",
          tracing: "otlp",
          bedrockModelId: "anthropic.*",
          logRetentionDays: 45,
          environment: '{"HUBSPOT_ACCESS_TOKEN":"pat-123"}'
        })
      )
    } catch (error) {
      message = (error as Error).message
    }
    for (const problem of [
      "crmProvider: must be one of MOCK, SALESFORCE, HUBSPOT",
      "workerConcurrency: must be an integer >= 1",
      "otlpEndpoint: required when tracing=otlp",
      "bedrockModelId: must be a plain model id",
      "environment.HUBSPOT_ACCESS_TOKEN: looks like a secret",
      "logRetentionDays: must be one of 1, 3, 5"
    ]) {
      expect(message).toContain(problem)
    }
    expect(message).not.toContain("pat-123")
  })
})
