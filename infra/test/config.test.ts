import { readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import { describe, expect, it } from "vitest"
import { config as bedrockConfig } from "../../layers/bedrock/config.js"
import { settingNames } from "../../layers/config.js"
import { salesforceConfig } from "../../layers/salesforce/config.js"
import {
  bedrockModel,
  consumerBatchWorstCaseMs,
  crmCallsPerLead,
  fromContext,
  isCompleteSecretArn,
  perLeadWorstCaseMs,
  programSettings,
  secretSettings
} from "../lib/config.js"
import { CRM_SECRET_ARN, FIXTURE_BUNDLES, fargateBase } from "./synth.js"

const REPO = fileURLToPath(new URL("../../", import.meta.url))

const read = (context: Record<string, unknown>) => (key: string) => context[key]
/** The message fromContext refuses `context` with ("" when it accepts it). */
const refusal = (context: Record<string, unknown>): string => {
  try {
    fromContext(read(context))
    return ""
  } catch (error) {
    return (error as Error).message
  }
}

describe("stack context", () => {
  it("has a default for everything but the image and HTTPS (or plain HTTP asked for)", () => {
    const config = fromContext(read({ image: "registry.example/revenueflow:1", allowPlainHttp: "true" }))
    expect(config).toMatchObject({ crmProvider: "MOCK", analyzer: "HEURISTIC", workerConcurrency: 5, tracing: "off" })
    expect(config).toMatchObject({ crmSecretArn: undefined, mcpOnIngest: false, allowPlainHttp: true })
    expect(fromContext(read({ ecrRepository: "revenueflow", certificateArn: "arn:aws:acm:x" })).image).toBeUndefined()
  })

  it("refuses, all at once, a Fargate stack with no image, no certificate, and a real CRM without its secret", () => {
    const message = refusal({ crmProvider: "HUBSPOT" })
    for (const problem of [
      "image / ecrRepository: say where the tasks pull the image from",
      "certificateArn: required, or API keys and webhook tokens travel in cleartext",
      "-c allowPlainHttp=true",
      "crmSecretArn: required with crmProvider=HUBSPOT: create the CRM secret and fill it before the deploy"
    ]) {
      expect(message).toContain(problem)
    }
    expect(refusal(fargateBase({ crmProvider: "SALESFORCE" }))).toContain(
      "crmSecretArn: required with crmProvider=SALESFORCE"
    )
    expect(refusal(fargateBase({ crmProvider: "SALESFORCE", crmSecretArn: CRM_SECRET_ARN }))).toBe("")
    expect(refusal(fargateBase({ crmSecretArn: "revenueflow/crm" }))).toContain(
      "crmSecretArn: must be a Secrets Manager"
    )
    expect(refusal(fargateBase({ ecrRepository: "revenueflow", image: "x/y:1" }))).toContain(
      "give one of them, not both"
    )
    // the serverless variant has neither image nor load balancer (its API is HTTPS), but needs the CRM secret too
    const serverless = { variant: "serverless", lambdaBundles: FIXTURE_BUNDLES }
    expect(refusal(serverless)).toBe("")
    expect(refusal({ ...serverless, crmProvider: "HUBSPOT" })).toContain("crmSecretArn: required")
    expect(refusal({ ...serverless, mcpOnIngest: "true" })).toContain("mcpOnIngest: the Lambda ingest serves no /mcp")
  })

  it("refuses in environment what the stack sets itself, naming why", () => {
    const fargate = refusal(
      fargateBase({
        environment: JSON.stringify({ PORT: "8080", CLOUDWATCH_NAMESPACE: "X", AWS_SECRETS_IDS: "a", HOST: "::" })
      })
    )
    expect(fargate).toContain("environment.PORT: set by the stack (the target group, port mapping and health check")
    expect(fargate).toContain("environment.CLOUDWATCH_NAMESPACE: set by the stack (the scaling policies and alarms")
    expect(fargate).toContain("environment.AWS_SECRETS_IDS: set by the stack")
    expect(fargate).toContain("environment.HOST: set by the stack")
    expect(refusal(fargateBase({ environment: '{"CRM_PROVIDER":"HUBSPOT"}' }))).toContain("use -c crmProvider")
    const serverless = refusal({
      variant: "serverless",
      lambdaBundles: FIXTURE_BUNDLES,
      environment: '{"SQS_QUEUE_URL":"https://x","DATABASE_POOL_SIZE":"9","PORT":"8080"}'
    })
    expect(serverless).toContain("environment.SQS_QUEUE_URL: set by the stack")
    expect(serverless).toContain("environment.DATABASE_POOL_SIZE: set by the stack")
    // a function has no port of its own: PORT is the program's business there
    expect(serverless).not.toContain("environment.PORT")
  })

  it("tells a complete secret ARN from a partial one, and a geographic inference profile from a model id", () => {
    expect(isCompleteSecretArn(CRM_SECRET_ARN)).toBe(true)
    expect(isCompleteSecretArn("arn:aws:secretsmanager:eu-west-1:123456789012:secret:revenueflow/crm")).toBe(false)
    expect(bedrockModel("anthropic.claude-haiku-4-5-20251001-v1:0")).toEqual({
      profile: undefined,
      foundationModel: "anthropic.claude-haiku-4-5-20251001-v1:0"
    })
    expect(bedrockModel("eu.anthropic.claude-haiku-4-5-20251001-v1:0")).toEqual({
      profile: "eu.anthropic.claude-haiku-4-5-20251001-v1:0",
      foundationModel: "anthropic.claude-haiku-4-5-20251001-v1:0"
    })
    expect(
      refusal(fargateBase({ analyzer: "BEDROCK", bedrockModelId: "global.anthropic.claude-sonnet-4-v1:0" }))
    ).toContain("bedrockModelId: a global inference profile")
  })

  it("asks for bedrockModelId with the Bedrock analyser (Bedrock retires models: no default stays valid)", () => {
    expect(refusal(fargateBase({ analyzer: "BEDROCK" }))).toContain("bedrockModelId: required when analyzer=BEDROCK")
    const bedrock = fromContext(read(fargateBase({ analyzer: "BEDROCK", bedrockModelId: "us.amazon.nova-lite-v1:0" })))
    expect(programSettings(bedrock).BEDROCK_MODEL_ID).toBe("us.amazon.nova-lite-v1:0")
    // the heuristic analyser reads no model: none is asked for, and the tasks get none
    const heuristic = fromContext(read(fargateBase({})))
    expect(programSettings(heuristic)).not.toHaveProperty("BEDROCK_MODEL_ID")
  })

  it("reads CLI strings (`-c workerConcurrency=8`) and JSON environment", () => {
    const config = fromContext(
      read(fargateBase({ workerConcurrency: "8", multiAz: "false", environment: '{"LOG_LEVEL":"Debug"}' }))
    )
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
          analyzer: "BEDROCK",
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
      read(fargateBase({ environment: '{"HUBSPOT_WEBHOOK_URL":"https://leads.example.com/webhooks/hubspot"}' }))
    )
    expect(config.environment.HUBSPOT_WEBHOOK_URL).toBe("https://leads.example.com/webhooks/hubspot")
  })

  it("selects the Fargate stack unless told variant=serverless, and never checks bundles for it", () => {
    expect(fromContext(read(fargateBase({ lambdaBundles: "/nowhere" }))).variant).toBe("fargate")
    const config = fromContext(read({ variant: "serverless", lambdaBundles: FIXTURE_BUNDLES, sqsBatchSize: "5" }))
    expect(config.variant).toBe("serverless")
    // 50 attempts of a failing job (delays spend none)
    expect(config.serverless).toMatchObject({
      bundles: FIXTURE_BUNDLES,
      batchSize: 5,
      maxReceiveCount: 50,
      ingestReservedConcurrency: undefined
    })
    expect(
      fromContext(read({ variant: "serverless", lambdaBundles: FIXTURE_BUNDLES, ingestReservedConcurrency: "40" }))
        .serverless.ingestReservedConcurrency
    ).toBe(40)
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

  describe("secrets in `environment`", () => {
    const environmentRefusal = (variables: Record<string, string>, variant = "fargate") =>
      refusal(
        variant === "fargate"
          ? fargateBase({ environment: JSON.stringify(variables) })
          : { variant, lambdaBundles: FIXTURE_BUNDLES, environment: JSON.stringify(variables) }
      )

    it("refuses the secrets' _PREVIOUS forms the rotation procedure sets, never quoting the value", () => {
      for (const variant of ["fargate", "serverless"]) {
        const message = environmentRefusal(
          { HUBSPOT_APP_SECRET_PREVIOUS: "s3cr3t-old", MARKETO_WEBHOOK_TOKEN_PREVIOUS: "tok-old" },
          variant
        )
        expect(message).toContain("environment.HUBSPOT_APP_SECRET_PREVIOUS: looks like a secret")
        expect(message).toContain("environment.MARKETO_WEBHOOK_TOKEN_PREVIOUS: looks like a secret")
        expect(message).not.toContain("s3cr3t-old")
        expect(message).not.toContain("tok-old")
      }
    })

    it("refuses every secret setting and its _PREVIOUS form, and a name of yours that says it is one", () => {
      for (const name of [...secretSettings, ...[...secretSettings].map((n) => `${n}_PREVIOUS`), "MY_CRM_PASSWORD"]) {
        expect(environmentRefusal({ [name]: "x" })).toContain(`environment.${name}: looks like a secret`)
      }
    })

    it("accepts every other setting the programs read (SALESFORCE_LOGIN_URL, ENRICHMENT_BASE_URL, BEDROCK_MAX_TOKENS...)", () => {
      const others = [...settingNames].filter((name) => !secretSettings.has(name))
      expect(others).toEqual(
        expect.arrayContaining(["SALESFORCE_LOGIN_URL", "SALESFORCE_INSTANCE_URL", "BEDROCK_MAX_TOKENS"])
      )
      for (const variant of ["fargate", "serverless"]) {
        const refused = others.filter((name) =>
          environmentRefusal({ [name]: "1" }, variant).includes("looks like a secret")
        )
        expect(refused).toEqual([])
      }
      expect(
        fromContext(read(fargateBase({ environment: '{"SALESFORCE_LOGIN_URL":"https://acme.my.salesforce.com"}' })))
          .environment
      ).toEqual({
        SALESFORCE_LOGIN_URL: "https://acme.my.salesforce.com"
      })
    })

    /** The settings the code reads as Redacted: Config.redacted, `credential`, the webhook secrets, nested forms. */
    const readAsRedacted = (): ReadonlySet<string> => {
      const files = (dir: string): ReadonlyArray<string> =>
        readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
          entry.isDirectory() ? files(join(dir, entry.name)) : entry.name.endsWith(".ts") ? [join(dir, entry.name)] : []
        )
      const found = new Set<string>()
      for (const file of ["layers", "services", "src"].flatMap((dir) => files(join(REPO, dir)))) {
        const text = readFileSync(file, "utf8")
        for (const m of text.matchAll(
          /\b(?:credential|webhookSecret|Config\.redacted|liveRedacted)\(\s*"([A-Z0-9_]+)"/g
        ))
          found.add(m[1]!)
        for (const m of text.matchAll(/Config\.nested\(([\s\S]*?),\s*"([A-Z0-9_]+)"\s*\)/g))
          if (m[1]!.includes("Config.redacted(")) found.add(m[2]!)
      }
      return found
    }

    it("lists exactly the settings the programs read as secrets (Redacted)", () => {
      const redacted = readAsRedacted()
      for (const name of redacted) expect(settingNames.has(name)).toBe(true)
      expect([...secretSettings].sort()).toEqual([...redacted].sort())
    })

    it("lists every setting the README's Configuration section calls a secret", () => {
      const readme = readFileSync(join(REPO, "README.md"), "utf8")
      const configuration = readme.slice(readme.indexOf("\n## Configuration"), readme.indexOf("\n## Webhooks"))
      const called = configuration
        .split("\n")
        .filter((line) => /; a secret(\.|\s*\|)|, secret\)/.test(line))
        .map((line) => /^\| `([A-Z0-9_]+)`/.exec(line)?.[1])
      expect(called).toEqual(
        expect.arrayContaining(["DATABASE_URL", "REDIS_URL", "HUBSPOT_APP_SECRET", "ENRICHMENT_API_KEY"])
      )
      for (const name of called) expect(secretSettings.has(name!)).toBe(true)
    })
  })

  describe("the serverless consumer's timeout against a batch's worst case", () => {
    const serverless = (context: Record<string, unknown>) => ({
      variant: "serverless",
      lambdaBundles: FIXTURE_BUNDLES,
      ...context
    })
    const bedrock = {
      analyzer: "BEDROCK",
      bedrockModelId: "us.anthropic.claude-haiku-4-5-20251001-v1:0",
      crmProvider: "SALESFORCE",
      crmSecretArn: CRM_SECRET_ARN
    }

    // a lead's CRM actions are calls one after another, each with CRM_TIMEOUT_MS of its own (crmCalls.test.ts counts
    // them): Salesforce 16 at most, HubSpot 19, where this counted one
    it("takes one lead's worst case from the programs' own defaults (Bedrock's timeout and re-asks, the CRM's calls)", () => {
      const defaults = Effect.runSync(
        Effect.all([bedrockConfig, salesforceConfig]).pipe(
          Effect.withConfigProvider(
            ConfigProvider.fromMap(
              new Map([
                ["BEDROCK_MODEL_ID", "m"],
                ["SALESFORCE_ACCESS_TOKEN", "t"],
                ["SALESFORCE_INSTANCE_URL", "https://x.my.salesforce.com"]
              ])
            )
          )
        )
      )
      const [analyser, crm] = defaults
      expect(perLeadWorstCaseMs({ analyzer: "BEDROCK", crmProvider: "SALESFORCE", environment: {} }).ms).toBe(
        analyser.timeoutMs * (1 + analyser.decodeRetries) + crmCallsPerLead("SALESFORCE") * crm.timeoutMs
      )
      expect(perLeadWorstCaseMs({ analyzer: "HEURISTIC", crmProvider: "MOCK", environment: {} }).ms).toBe(0)
      expect(
        perLeadWorstCaseMs({
          analyzer: "BEDROCK",
          crmProvider: "HUBSPOT",
          environment: { BEDROCK_TIMEOUT_MS: "5000", BEDROCK_DECODE_RETRIES: "0", CRM_TIMEOUT_MS: "2000" }
        }).ms
      ).toBe(5000 + 19 * 2000)
    })

    it("refuses a timeout shorter than ceil(batch / concurrency) rounds of it, naming the settings", () => {
      const message = refusal(
        serverless({ ...bedrock, sqsBatchSize: 10, workerConcurrency: 5, lambdaConsumerTimeoutSeconds: 60 })
      )
      expect(message).toContain(
        "lambdaConsumerTimeoutSeconds: 60 s does not cover a batch: sqsBatchSize 10 at workerConcurrency 5 is 2 round(s)"
      )
      expect(message).toContain(
        "Bedrock: BEDROCK_TIMEOUT_MS x (1 + BEDROCK_DECODE_RETRIES); Salesforce: 16 calls one after another, each up to CRM_TIMEOUT_MS"
      )
      expect(message).toContain("lower BEDROCK_TIMEOUT_MS / BEDROCK_DECODE_RETRIES / CRM_TIMEOUT_MS in environment")
      // two rounds of 60 s of Bedrock and 16 Salesforce calls of 10 s, 10 s to stop and 1 s: 451 s (81 s counted one call)
      expect(message).toContain(`${Math.ceil(consumerBatchWorstCaseMs(10, 5, 220_000, 10_000) / 1000)} s`)
      expect(message).toContain(": 451 s.")
      expect(message).toContain("plus CRM_TIMEOUT_MS (jobs are stopped that long before the deadline)")
      // the same batch fits once the timeout covers it, or with faster calls, or in one round
      expect(
        refusal(serverless({ ...bedrock, sqsBatchSize: 10, workerConcurrency: 5, lambdaConsumerTimeoutSeconds: 451 }))
      ).toBe("")
      expect(
        refusal(
          serverless({
            ...bedrock,
            sqsBatchSize: 10,
            workerConcurrency: 5,
            lambdaConsumerTimeoutSeconds: 60,
            // two rounds of 3 x 4 s and 16 x 1 s, 1 s to stop, 1 s: 58 s
            environment: '{"BEDROCK_TIMEOUT_MS":"4000","CRM_TIMEOUT_MS":"1000"}'
          })
        )
      ).toBe("")
      expect(
        refusal(serverless({ ...bedrock, sqsBatchSize: 10, workerConcurrency: 10, lambdaConsumerTimeoutSeconds: 231 }))
      ).toBe("")
      // the Fargate stack has no such function
      expect(refusal(fargateBase({ ...bedrock, sqsBatchSize: 10, lambdaConsumerTimeoutSeconds: 60 }))).toBe("")
    })

    it("by default sizes a batch to workerConcurrency (one round) and the timeout to cover it (60 s at least)", () => {
      const withBedrock = fromContext(read(serverless(bedrock))).serverless
      // one round of 220 s (60 s of Bedrock, 16 Salesforce calls of 10 s), 10 s to stop, 1 s
      expect(withBedrock).toMatchObject({ batchSize: 5, consumerTimeoutSeconds: 231 })
      expect(fromContext(read(serverless({}))).serverless).toMatchObject({ batchSize: 5, consumerTimeoutSeconds: 60 })
      expect(fromContext(read(serverless({ workerConcurrency: 20 }))).serverless.batchSize).toBe(10)
    })

    it("refuses a batch no timeout covers (Lambda's 900 s), naming what to lower instead of the timeout it chose", () => {
      // one round of 60 s of Bedrock and 16 Salesforce calls of 60 s, 60 s to stop, 1 s: 1081 s
      const slow = { ...bedrock, environment: '{"CRM_TIMEOUT_MS":"60000"}' }
      const message = refusal(serverless(slow))
      expect(message).toContain("lambdaConsumerTimeoutSeconds: no timeout covers a batch, Lambda's maximum is 900 s")
      expect(message).toContain(": 1081 s.")
      expect(message).not.toContain("must be <= 900")
      expect(message).not.toContain("sqsBatchSize or raise workerConcurrency")
      // the largest that fits: 60 s + 16 x 49.352 s + 49.352 s + 1 s = 899.984 s
      expect(message).toContain("CRM_TIMEOUT_MS 49352 or less fits")
      expect(refusal(serverless({ ...bedrock, environment: '{"CRM_TIMEOUT_MS":"49352"}' }))).toBe("")
      expect(
        fromContext(read(serverless({ ...bedrock, environment: '{"CRM_TIMEOUT_MS":"49352"}' }))).serverless
      ).toMatchObject({ consumerTimeoutSeconds: 900 })
      // nor does a timeout asked for; two rounds name the batch too
      expect(refusal(serverless({ ...slow, lambdaConsumerTimeoutSeconds: 900 }))).toContain("no timeout covers a batch")
      expect(refusal(serverless({ ...slow, sqsBatchSize: 10 }))).toContain(
        "Lower sqsBatchSize or raise workerConcurrency (one round at most)"
      )
    })
  })
})
