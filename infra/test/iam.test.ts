import { beforeAll, describe, expect, it } from "vitest"
import {
  asList,
  CRM_SECRET_ARN,
  LEGACY_CRM_SECRET_ID,
  logicalId,
  ofType,
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
  let crm: Resources
  beforeAll(() => {
    resources = synth().resources
    bedrock = synth({ analyzer: "BEDROCK", bedrockModelId: "anthropic.claude-haiku-4-5-20251001-v1:0" }).resources
    crm = synth({ crmProvider: "SALESFORCE", crmSecretArn: CRM_SECRET_ARN, mcpOnIngest: true }).resources
  }, SYNTH_TIMEOUT_MS)
  const refs = (list: ReadonlyArray<unknown>) => list.map((r) => (r as { Ref: string }).Ref).sort()
  const secretIds = (r: Resources, task: string) => {
    const [container] = r[logicalId(r, "AWS::ECS::TaskDefinition", task)]!.Properties!.ContainerDefinitions as Array<{
      Environment: Array<{ Name: string; Value: unknown }>
    }>
    return JSON.stringify(container!.Environment.find((e) => e.Name === "AWS_SECRETS_IDS")!.Value)
  }

  it("has no '*' in any action or resource, in either configuration", () => {
    expect(statements(resources).length).toBeGreaterThan(3)
    expect(wildcards(resources)).toEqual([])
    expect(wildcards(bedrock)).toEqual([])
  })

  it("lets the ingest call GetSecretValue on its own secrets only: database, Redis URL, webhooks, API keys", () => {
    const [secrets, ...rest] = roleStatements(resources, "ServicesIngestTaskRole")
    expect(rest).toEqual([])
    expect(secrets).toMatchObject({ Sid: "ReadOwnSecrets", Effect: "Allow", Action: "secretsmanager:GetSecretValue" })
    expect(refs(asList(secrets!.Resource))).toEqual(
      refs([
        {
          Ref: logicalId(resources, "AWS::SecretsManager::SecretTargetAttachment", "DataPostgresCredentialsAttachment")
        },
        { Ref: logicalId(resources, "AWS::SecretsManager::Secret", "DataRedisUrl") },
        { Ref: logicalId(resources, "AWS::SecretsManager::Secret", "DataWebhookSecrets") },
        { Ref: logicalId(resources, "AWS::SecretsManager::Secret", "DataApiKeys") }
      ])
    )
  })

  it("lets the consumer call GetSecretValue on its own secrets only: database, Redis URL (and the CRM's, given)", () => {
    const [secrets, ...rest] = roleStatements(resources, "ServicesConsumerTaskRole")
    expect(rest).toEqual([])
    expect(secrets!.Action).toBe("secretsmanager:GetSecretValue")
    expect(refs(asList(secrets!.Resource))).toEqual(
      refs([
        {
          Ref: logicalId(resources, "AWS::SecretsManager::SecretTargetAttachment", "DataPostgresCredentialsAttachment")
        },
        { Ref: logicalId(resources, "AWS::SecretsManager::Secret", "DataRedisUrl") }
      ])
    )
    const [withCrm] = roleStatements(crm, "ServicesConsumerTaskRole")
    expect(asList(withCrm!.Resource)).toContain(CRM_SECRET_ARN)
    expect(secretIds(crm, "ServicesConsumerTask")).toContain(CRM_SECRET_ARN)
  })

  it("owns no CRM secret it reads: reads the one created before the deploy, by complete or partial ARN", () => {
    for (const r of [resources, crm]) {
      const owned = Object.entries(r).filter(([, x]) => x.Type === "AWS::SecretsManager::Secret")
      // the earlier templates' CRM secret only, kept as it was for upgrades (data.test.ts), and read by nothing
      expect(owned.map(([id]) => id).filter((id) => /crm/i.test(id))).toEqual([LEGACY_CRM_SECRET_ID])
      expect(JSON.stringify(statements(r))).not.toContain(LEGACY_CRM_SECRET_ID)
      expect(JSON.stringify(ofType(r, "AWS::ECS::TaskDefinition"))).not.toContain(LEGACY_CRM_SECRET_ID)
      // no other secret whose value the template sets (a template change would write it over what operators put)
      const valued = owned.filter(([, x]) => x.Properties!.SecretString === "{}").map(([id]) => id)
      expect(valued).toEqual([LEGACY_CRM_SECRET_ID])
    }
    // a partial ARN (the name only) matches the secret in IAM only with the 6-character suffix Secrets Manager adds
    const partial = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:revenueflow/crm"
    const partialCrm = synth({ crmProvider: "HUBSPOT", crmSecretArn: partial }).resources
    const [read] = roleStatements(partialCrm, "ServicesConsumerTaskRole")
    expect(asList(read!.Resource)).toContain(`${partial}-??????`)
    expect(secretIds(partialCrm, "ServicesConsumerTask")).toContain(`${partial}"`)
  })

  it("gives the ingest the CRM secret only with mcpOnIngest, in a statement of its own, before the stack's secrets", () => {
    expect(secretIds(resources, "ServicesIngestTask")).not.toContain("secret:")
    const statements = roleStatements(crm, "ServicesIngestTaskRole")
    expect(statements.map((s) => s.Sid)).toEqual(["ReadOwnSecrets", "ReadCrmSecretForMcp"])
    expect(statements[1]).toMatchObject({ Action: "secretsmanager:GetSecretValue", Resource: CRM_SECRET_ARN })
    expect(JSON.stringify(statements[0]!.Resource)).not.toContain(CRM_SECRET_ARN)
    // the CRM secret (yours) before the stack's API-key and webhook secrets: it replaces neither's keys
    const ids = secretIds(crm, "ServicesIngestTask")
    expect(ids.indexOf(CRM_SECRET_ARN)).toBeGreaterThan(ids.indexOf("DataRedisUrl"))
    expect(ids.indexOf("DataApiKeys")).toBeGreaterThan(ids.indexOf(CRM_SECRET_ARN))
    expect(ids.indexOf("DataWebhookSecrets")).toBeGreaterThan(ids.indexOf("DataApiKeys"))
    expect(JSON.stringify(crm)).not.toContain("bedrock:")
  })

  it("lets the consumer invoke a geographic inference profile and, through it only, its model in any Region", () => {
    const profile = "eu.anthropic.claude-haiku-4-5-20251001-v1:0"
    const r = synth({ analyzer: "BEDROCK", bedrockModelId: profile }).resources
    const invoke = roleStatements(r, "ServicesConsumerTaskRole").filter((s) =>
      asList(s.Action).includes("bedrock:InvokeModel")
    )
    const profileArn = {
      "Fn::Join": [
        "",
        [
          "arn:",
          { Ref: "AWS::Partition" },
          ":bedrock:",
          { Ref: "AWS::Region" },
          ":",
          { Ref: "AWS::AccountId" },
          `:inference-profile/${profile}`
        ]
      ]
    }
    expect(invoke).toEqual([
      { Sid: "InvokeConfiguredModel", Effect: "Allow", Action: "bedrock:InvokeModel", Resource: profileArn },
      {
        Sid: "InvokeModelThroughProfile",
        Effect: "Allow",
        Action: "bedrock:InvokeModel",
        Resource: {
          "Fn::Join": [
            "",
            ["arn:", { Ref: "AWS::Partition" }, ":bedrock:*::foundation-model/anthropic.claude-haiku-4-5-20251001-v1:0"]
          ]
        },
        Condition: { StringEquals: { "bedrock:InferenceProfileArn": profileArn } }
      }
    ])
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
            "::foundation-model/anthropic.claude-haiku-4-5-20251001-v1:0"
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
