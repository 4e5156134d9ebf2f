import { beforeAll, describe, expect, it } from "vitest"
import {
  asList,
  logicalId,
  type Resources,
  roleStatements,
  statements,
  synth,
  SYNTH_TIMEOUT_MS,
  wildcards
} from "./synth.js"

describe("IAM", { timeout: SYNTH_TIMEOUT_MS }, () => {
  let resources: Resources
  let bedrock: Resources
  beforeAll(() => {
    resources = synth().resources
    bedrock = synth({ analyzer: "BEDROCK", bedrockModelId: "anthropic.claude-3-5-haiku-20241022-v1:0" }).resources
  }, SYNTH_TIMEOUT_MS)

  it("has no '*' in any action or resource, in either configuration", () => {
    expect(statements(resources).length).toBeGreaterThan(3)
    expect(wildcards(resources)).toEqual([])
    expect(wildcards(bedrock)).toEqual([])
  })

  it("lets the ingest call GetSecretValue on its own secrets only: database, Redis URL, webhooks", () => {
    const refs = (list: ReadonlyArray<unknown>) => list.map((r) => (r as { Ref: string }).Ref).sort()
    const [secrets, ...rest] = roleStatements(resources, "ServicesIngestTaskRole")
    expect(rest).toEqual([])
    expect(secrets).toMatchObject({ Sid: "ReadOwnSecrets", Effect: "Allow", Action: "secretsmanager:GetSecretValue" })
    expect(refs(asList(secrets!.Resource))).toEqual(
      refs([
        { Ref: logicalId(resources, "AWS::SecretsManager::SecretTargetAttachment", "DataPostgresSecretAttachment") },
        { Ref: logicalId(resources, "AWS::SecretsManager::Secret", "DataRedisUrl") },
        { Ref: logicalId(resources, "AWS::SecretsManager::Secret", "DataWebhookSecrets") }
      ])
    )
  })

  it("lets the consumer call GetSecretValue on its own secrets only: CRM, database, Redis URL", () => {
    const [secrets, ...rest] = roleStatements(resources, "ServicesConsumerTaskRole")
    expect(rest).toEqual([])
    expect(secrets!.Action).toBe("secretsmanager:GetSecretValue")
    const refs = (list: ReadonlyArray<unknown>) => list.map((r) => (r as { Ref: string }).Ref).sort()
    expect(refs(asList(secrets!.Resource))).toEqual(
      refs([
        { Ref: logicalId(resources, "AWS::SecretsManager::Secret", "DataCrmCredentials") },
        { Ref: logicalId(resources, "AWS::SecretsManager::SecretTargetAttachment", "DataPostgresSecretAttachment") },
        { Ref: logicalId(resources, "AWS::SecretsManager::Secret", "DataRedisUrl") }
      ])
    )
  })

  it("lets the consumer invoke only the configured model, and only when the analyser is Bedrock", () => {
    expect(JSON.stringify(resources)).not.toContain("bedrock:")
    const invoke = roleStatements(bedrock, "ServicesConsumerTaskRole").find((s) => s.Sid === "InvokeConfiguredModel")
    expect(invoke).toEqual({
      Sid: "InvokeConfiguredModel",
      Effect: "Allow",
      Action: "bedrock:InvokeModel",
      Resource: {
        "Fn::Join": [
          "",
          [
            "arn:",
            { Ref: "AWS::Partition" },
            ":bedrock:",
            { Ref: "AWS::Region" },
            "::foundation-model/anthropic.claude-3-5-haiku-20241022-v1:0"
          ]
        ]
      }
    })
    expect(JSON.stringify(roleStatements(bedrock, "ServicesIngestTaskRole"))).not.toContain("bedrock:")
  })

  it("uses '*' only for X-Ray's unscopable actions when traces go to X-Ray", () => {
    const xray = synth({ tracing: "xray" }).resources
    const found = wildcards(xray).map(({ statement }) => statement)
    expect(found.length).toBe(2) // one per task role
    for (const statement of found) {
      expect(statement.Resource).toBe("*")
      for (const action of asList(statement.Action)) expect(action).toMatch(/^xray:(Put|Get)[A-Za-z]+$/)
    }
  })
})
