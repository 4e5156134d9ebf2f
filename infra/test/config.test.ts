import { describe, expect, it } from "vitest"
import { fromContext } from "../lib/config.js"
import { FIXTURE_BUNDLES } from "./synth.js"

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

  it("accepts HUBSPOT_WEBHOOK_URL in the environment: the URL HubSpot signs is public", () => {
    const config = fromContext(
      read({ environment: '{"HUBSPOT_WEBHOOK_URL":"https://leads.example.com/webhooks/hubspot"}' })
    )
    expect(config.environment.HUBSPOT_WEBHOOK_URL).toBe("https://leads.example.com/webhooks/hubspot")
  })

  it("selects the Fargate stack unless told variant=serverless, and never checks bundles for it", () => {
    expect(fromContext(read({ lambdaBundles: "/nowhere" })).variant).toBe("fargate")
    const config = fromContext(read({ variant: "serverless", lambdaBundles: FIXTURE_BUNDLES, sqsBatchSize: "5" }))
    expect(config.variant).toBe("serverless")
    expect(config.serverless).toMatchObject({ bundles: FIXTURE_BUNDLES, batchSize: 5, maxReceiveCount: 10 })
  })

  it("refuses a serverless synth without the bundles, naming the command that builds them", () => {
    expect(() => fromContext(read({ variant: "serverless", lambdaBundles: "/nowhere" }))).toThrow(
      "lambdaBundles: no ingest/index.mjs, consumer/index.mjs, sweep/index.mjs in /nowhere; run `npm run build:bundles`"
    )
  })

  it("names the serverless settings SQS and Lambda would refuse", () => {
    let message = ""
    try {
      fromContext(
        read({
          variant: "serverless",
          lambdaBundles: FIXTURE_BUNDLES,
          tracing: "xray",
          sqsBatchSize: 20,
          sqsMaxBatchingWindowSeconds: 0,
          consumerMaxConcurrency: 1,
          lambdaConsumerTimeoutSeconds: 1000
        })
      )
    } catch (error) {
      message = (error as Error).message
    }
    for (const problem of [
      "tracing: xray needs a collector sidecar",
      "sqsBatchSize: must be <= 10",
      "consumerMaxConcurrency: must be an integer >= 2",
      "lambdaConsumerTimeoutSeconds: must be <= 900"
    ]) {
      expect(message).toContain(problem)
    }
  })
})
