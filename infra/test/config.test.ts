import { readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as Clock from "effect/Clock"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as TestClock from "effect/TestClock"
import * as TestContext from "effect/TestContext"
import { describe, expect, it } from "vitest"
import { config as bedrockConfig } from "../../layers/bedrock/config.js"
import { settingNames } from "../../layers/config.js"
import {
  MAX_PENDING_WAIT_MS,
  config as enrichmentConfig,
  make as makeHttpEnricher
} from "../../layers/http/Enricher.js"
import { salesforceConfig } from "../../layers/salesforce/config.js"
import {
  bedrockModel,
  consumerBatchWorstCaseMs,
  crmCallsPerLead,
  ENRICHMENT_MAX_PENDING_WAIT_MS,
  enrichmentLookupWorstCaseMs,
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
  it("gives each container the stop timeout its drain needs, and refuses one ECS cannot give or a short keep-alive", () => {
    const base = { ecrRepository: "revenueflow", allowPlainHttp: "true" }
    // the consumer: 10 s + 2 s + a CRM call of 10 s + 10 s of audit retries + 2 s
    expect(fromContext(read(base)).stopTimeoutSeconds).toEqual({ ingest: 30, consumer: 34 })
    const slow = fromContext(read({ ...base, environment: '{"SHUTDOWN_TIMEOUT_MS":"60000","CRM_TIMEOUT_MS":"20000"}' }))
    expect(slow.stopTimeoutSeconds).toEqual({ ingest: 62, consumer: 94 })
    expect(refusal({ ...base, environment: '{"SHUTDOWN_TIMEOUT_MS":"100000"}' })).toContain(
      "environment.SHUTDOWN_TIMEOUT_MS: the consumer's drain (SHUTDOWN_TIMEOUT_MS + 2 s + CRM_TIMEOUT_MS + 12 s) is 124 s"
    )
    expect(refusal({ ...base, environment: '{"KEEP_ALIVE_TIMEOUT_MS":"5000"}' })).toContain(
      "environment.KEEP_ALIVE_TIMEOUT_MS: must be longer than the load balancer's idle timeout (60 s)"
    )
    expect(refusal({ ...base, environment: '{"KEEP_ALIVE_TIMEOUT_MS":"61000"}' })).toBe("")
  })

  it("refuses the HTTP enrichment provider without a secret the consumer reads its key from", () => {
    const base = { ecrRepository: "revenueflow", allowPlainHttp: "true", environment: '{"ENRICHMENT_PROVIDER":"HTTP"}' }
    expect(refusal(base)).toContain(
      "environment.ENRICHMENT_PROVIDER: HTTP needs ENRICHMENT_API_KEY in a secret the consumer reads: put it in the CRM secret"
    )
    expect(
      refusal({ ...base, crmSecretArn: "arn:aws:secretsmanager:eu-west-1:123456789012:secret:revenueflow/crm-AbC123" })
    ).toBe("")
  })

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

    // with ENRICHMENT_PROVIDER=HTTP a lead's run makes one lookup, which asks again while the provider answers 202
    // (queued), each ask retried on timeouts with backoff: up to 49.16 s at the defaults, where this counted nothing
    describe("with the HTTP enrichment provider", () => {
      const http = { ENRICHMENT_PROVIDER: "HTTP" }

      it("adds one lookup's worst case, from the enricher's own defaults", () => {
        const defaults = Effect.runSync(
          enrichmentConfig.pipe(
            Effect.withConfigProvider(
              ConfigProvider.fromMap(
                new Map([
                  ["ENRICHMENT_BASE_URL", "https://enrichment.example"],
                  ["ENRICHMENT_API_KEY", "k"]
                ])
              )
            )
          )
        )
        expect(ENRICHMENT_MAX_PENDING_WAIT_MS).toBe(MAX_PENDING_WAIT_MS)
        // 3 asks of 3 attempts of 3 s and 1.2 x (200 + 400) ms of backoff, 10 s of Retry-After between asks
        const askMs =
          (1 + defaults.retries) * defaults.timeoutMs + 1.2 * defaults.retryBaseMs * (2 ** defaults.retries - 1)
        expect(enrichmentLookupWorstCaseMs({})).toBe(
          (1 + defaults.pendingRetries) * askMs + defaults.pendingRetries * MAX_PENDING_WAIT_MS
        )
        expect(enrichmentLookupWorstCaseMs({})).toBe(49_160)
        const heuristic = perLeadWorstCaseMs({ analyzer: "HEURISTIC", crmProvider: "MOCK", environment: http })
        expect(heuristic).toMatchObject({ ms: 49_160, enrichmentMs: 49_160 })
        expect(heuristic.settings).toEqual([
          "ENRICHMENT_TIMEOUT_MS",
          "ENRICHMENT_RETRIES",
          "ENRICHMENT_RETRY_BASE_MS",
          "ENRICHMENT_PENDING_RETRIES"
        ])
        expect(heuristic.explained).toContain("HTTP enrichment: 49.16 s")
        expect(perLeadWorstCaseMs({ analyzer: "BEDROCK", crmProvider: "SALESFORCE", environment: http }).ms).toBe(
          60_000 + 49_160 + 16 * 10_000
        )
        // the mock enricher (the default) asks nobody
        expect(perLeadWorstCaseMs({ analyzer: "HEURISTIC", crmProvider: "MOCK", environment: {} }).ms).toBe(0)
      })

      it("reads the enricher's settings from environment", () => {
        const worstCase = (environment: Record<string, string>) =>
          perLeadWorstCaseMs({ analyzer: "HEURISTIC", crmProvider: "MOCK", environment: { ...http, ...environment } })
            .ms
        // one ask, one attempt
        expect(
          worstCase({ ENRICHMENT_PENDING_RETRIES: "0", ENRICHMENT_RETRIES: "0", ENRICHMENT_TIMEOUT_MS: "1000" })
        ).toBe(1000)
        // 2 asks of 2 attempts of 1 s and 1.2 x 500 ms of backoff, 10 s between them
        expect(
          worstCase({
            ENRICHMENT_PENDING_RETRIES: "1",
            ENRICHMENT_RETRIES: "1",
            ENRICHMENT_TIMEOUT_MS: "1000",
            ENRICHMENT_RETRY_BASE_MS: "500"
          })
        ).toBe(2 * (2 * 1000 + 600) + 10_000)
        // 6 asks of 4 attempts of 3 s and 1.2 x (200 + 400 + 800) ms, 5 waits of 10 s
        expect(worstCase({ ENRICHMENT_PENDING_RETRIES: "5", ENRICHMENT_RETRIES: "3" })).toBe(
          6 * (4 * 3000 + 1680) + 50_000
        )
        // the wait without Retry-After bounds nothing: the provider's Retry-After may ask for up to 10 s
        expect(worstCase({ ENRICHMENT_PENDING_WAIT_MS: "1" })).toBe(49_160)
      })

      // the figure against the enricher itself: a fake provider that lets every attempt of an ask but the last time
      // out and answers the last 202 "queued, retry after 10 s" just inside the deadline, on the test clock
      it("bounds the enricher's slowest lookup, counted at a fake provider", async () => {
        const lookup = (environment: Record<string, string>) =>
          Effect.gen(function* () {
            const settings = yield* enrichmentConfig.pipe(
              Effect.withConfigProvider(
                ConfigProvider.fromMap(
                  new Map([
                    ["ENRICHMENT_BASE_URL", "https://enrichment.example"],
                    ["ENRICHMENT_API_KEY", "k"],
                    ...Object.entries(environment)
                  ])
                )
              )
            )
            let asked = 0
            const client = HttpClient.make((request) =>
              Effect.suspend(() => {
                asked += 1
                return asked % (1 + settings.retries) === 0
                  ? Effect.as(
                      Effect.sleep(settings.timeoutMs - 1),
                      HttpClientResponse.fromWeb(
                        request,
                        new Response(null, { status: 202, headers: { "retry-after": "10" } })
                      )
                    )
                  : Effect.never
              })
            )
            const enricher = yield* makeHttpEnricher({ ...settings, apiKey: Effect.succeed(settings.apiKey) }).pipe(
              Effect.provideService(HttpClient.HttpClient, client)
            )
            const fiber = yield* Effect.fork(Effect.zipRight(enricher.enrich("acme.example"), Clock.currentTimeMillis))
            yield* TestClock.adjust(10 * 60_000)
            return { ms: yield* Fiber.join(fiber), asked }
          }).pipe(
            Logger.withMinimumLogLevel(LogLevel.Error),
            Effect.provide(TestContext.TestContext),
            Effect.runPromise
          )
        for (const environment of [
          {},
          { ENRICHMENT_PENDING_RETRIES: "1", ENRICHMENT_RETRIES: "1", ENRICHMENT_TIMEOUT_MS: "1000" },
          { ENRICHMENT_PENDING_RETRIES: "4", ENRICHMENT_RETRIES: "3", ENRICHMENT_RETRY_BASE_MS: "1000" }
        ] as Array<Record<string, string>>) {
          const { ms, asked } = await lookup(environment)
          const bound = enrichmentLookupWorstCaseMs(environment)
          const pendingRetries = Number(environment.ENRICHMENT_PENDING_RETRIES ?? 2)
          expect(asked).toBe((1 + pendingRetries) * (1 + Number(environment.ENRICHMENT_RETRIES ?? 2)))
          expect(ms).toBeLessThanOrEqual(bound)
          // short of it by the answers' 1 ms and the jitter below its x1.2
          expect(ms).toBeGreaterThan(bound * 0.9)
        }
      })

      it("counts it in the consumer's default timeout and its refusals", () => {
        const withHttp = (context: Record<string, unknown>, environment: Record<string, string> = {}) =>
          serverless({
            // the enrichment provider's key is read from the CRM secret
            crmSecretArn: "arn:aws:secretsmanager:eu-west-1:123456789012:secret:revenueflow/crm-AbC123",
            ...context,
            environment: JSON.stringify({ ...http, ...environment })
          })
        // one round of 49.16 s, 10 s to stop, 1 s: past the 60 s floor
        expect(fromContext(read(withHttp({}))).serverless).toMatchObject({ consumerTimeoutSeconds: 61 })
        // one round of 60 s of Bedrock, 49.16 s of enrichment, 16 Salesforce calls of 10 s, 10 s to stop, 1 s
        expect(fromContext(read(withHttp(bedrock))).serverless).toMatchObject({ consumerTimeoutSeconds: 281 })
        const message = refusal(withHttp({ ...bedrock, lambdaConsumerTimeoutSeconds: 231 }))
        expect(message).toContain("lambdaConsumerTimeoutSeconds: 231 s does not cover a batch")
        expect(message).toContain(": 281 s.")
        expect(message).toContain("HTTP enrichment: 49.16 s")
        expect(message).toContain(
          "lower BEDROCK_TIMEOUT_MS / BEDROCK_DECODE_RETRIES / ENRICHMENT_TIMEOUT_MS / ENRICHMENT_RETRIES / ENRICHMENT_RETRY_BASE_MS / ENRICHMENT_PENDING_RETRIES / CRM_TIMEOUT_MS in environment"
        )
        // fewer asks and attempts fit the old timeout: 60 s + 2 x 3 s + 160 s + 10 s + 1 s = 237 s
        expect(
          fromContext(read(withHttp(bedrock, { ENRICHMENT_PENDING_RETRIES: "0", ENRICHMENT_RETRIES: "1" }))).serverless
            .consumerTimeoutSeconds
        ).toBe(Math.ceil((60_000 + 2 * 3000 + 240 + 16 * 10_000 + 10_000 + 1000) / 1000))
        // the CRM_TIMEOUT_MS named as fitting leaves room for the lookup: 60 s + 49.16 s + 17 x 46.461 s + 1 s <= 900 s
        const slow = refusal(withHttp(bedrock, { CRM_TIMEOUT_MS: "60000" }))
        expect(slow).toContain("no timeout covers a batch")
        expect(slow).toContain("CRM_TIMEOUT_MS 46461 or less fits")
        expect(refusal(withHttp(bedrock, { CRM_TIMEOUT_MS: "46461" }))).toBe("")
        expect(refusal(withHttp(bedrock, { CRM_TIMEOUT_MS: "46462" }))).toContain("no timeout covers a batch")
      })
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
