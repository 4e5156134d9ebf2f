import { describe, expect, it } from "@effect/vitest"
import * as Config from "effect/Config"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as SecretsConfig from "../../../layers/aws/SecretsConfig.js"
import { loadConfig } from "../../../layers/shared/config.js"
import * as BedrockAnalyzer from "../../../layers/bedrock/Analyzer.js"
import * as HttpEnricher from "../../../layers/http/Enricher.js"
import { appConfig } from "../../../services/AppConfig.js"
import { makeFakeSecretsManager } from "../../fakes/secretsManager.js"

Object.assign(process.env, {
  AWS_REGION: "eu-west-1",
  AWS_ACCESS_KEY_ID: "AKIAFAKEVALIDATETEST",
  AWS_SECRET_ACCESS_KEY: "fakeValidateKey/DoNotLog",
  AWS_EC2_METADATA_DISABLED: "true"
})

const env = (entries: Record<string, string>) =>
  ConfigProvider.fromMap(new Map(Object.entries(entries)), { pathDelim: "_" })

/** Every setting a production consumer reads. */
const everything = Config.all({ app: appConfig, bedrock: BedrockAnalyzer.config, enrichment: HttpEnricher.config })

describe("start-up configuration check", () => {
  it.effect("fails once, listing every missing or invalid key and no value", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(
        loadConfig(everything).pipe(
          Effect.withConfigProvider(
            env({
              PORT: "port-s3cret-1",
              CRM_PROVIDER: "crm-s3cret-2",
              WORKER_CONCURRENCY: "0",
              BEDROCK_TIMEOUT_MS: "-5",
              BEDROCK_HTTP1: "maybe-s3cret-3",
              ENRICHMENT_TIMEOUT_MS: "soon-s3cret-4",
              ENRICHMENT_BASE_URL: "not a url s3cret-5",
              HOST: "0.0.0.0"
            })
          )
        )
      )
      expect(error._tag).toBe("InvalidConfiguration")
      expect([...error.keys].sort()).toEqual(
        [
          "PORT",
          "CRM_PROVIDER",
          "WORKER_CONCURRENCY",
          "BEDROCK_TIMEOUT_MS",
          "BEDROCK_MODEL_ID",
          "BEDROCK_HTTP1",
          "ENRICHMENT_TIMEOUT_MS",
          "ENRICHMENT_BASE_URL",
          "ENRICHMENT_API_KEY"
        ].sort()
      )
      const lines = error.message.split("\n")
      expect(lines[0]).toBe("Invalid configuration:")
      expect(lines).toHaveLength(10)
      expect(lines).toContainEqual(expect.stringMatching(/^ - BEDROCK_MODEL_ID: is missing \(or blank\), and required/))
      expect(lines).toContain(" - PORT: must be a port number from 1 to 65535 (0: any free port)")
      expect(lines).toContain(" - WORKER_CONCURRENCY: must be a positive integer")
      expect(lines).toContain(" - CRM_PROVIDER: Expected one of (MOCK, SALESFORCE, HUBSPOT)")
      expect(lines).toContain(" - ENRICHMENT_API_KEY: is missing")
      expect(error.message).not.toMatch(/s3cret/)
    })
  )

  it.effect("passes and returns the values when everything is valid", () =>
    Effect.gen(function* () {
      const settings = yield* loadConfig(everything).pipe(
        Effect.withConfigProvider(
          env({
            ENRICHMENT_BASE_URL: "https://enrich.example.com",
            ENRICHMENT_API_KEY: "k",
            ANALYZER: "BEDROCK",
            BEDROCK_MODEL_ID: " us.anthropic.claude-haiku-4-5-20251001-v1:0 "
          })
        )
      )
      expect(settings.app.analyzer).toBe("BEDROCK")
      expect(settings.bedrock).toMatchObject({
        modelId: "us.anthropic.claude-haiku-4-5-20251001-v1:0",
        timeoutMs: 20_000
      })
      expect(settings.enrichment).toMatchObject({ timeoutMs: 3000, cacheTtlMs: 3_600_000 })
    })
  )

  it.scoped("reports an invalid value that comes from a secret (secrets win over a valid env value), unprinted", () =>
    Effect.gen(function* () {
      const secrets = yield* makeFakeSecretsManager({ "rf/app": JSON.stringify({ PORT: "secret-port-s3cret" }) })
      process.env.AWS_ENDPOINT_URL_SECRETS_MANAGER = secrets.url
      const error = yield* Effect.flip(
        loadConfig(appConfig).pipe(
          Effect.provide(SecretsConfig.layer),
          Effect.withConfigProvider(env({ AWS_SECRETS_IDS: "rf/app", PORT: "3000" }))
        )
      )
      expect(error.message).toBe(
        "Invalid configuration:\n - PORT: must be a port number from 1 to 65535 (0: any free port)"
      )
    })
  )
})
