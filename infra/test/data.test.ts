import { Match } from "aws-cdk-lib/assertions"
import { beforeAll, describe, expect, it } from "vitest"
import { CRM_SECRET_ARN, logicalId, ofType, type Resources, synth, SYNTH_TIMEOUT_MS } from "./synth.js"

describe("data stores and secrets", { timeout: SYNTH_TIMEOUT_MS }, () => {
  let resources: Resources
  let template: ReturnType<typeof synth>["template"]
  beforeAll(() => {
    ;({ resources, template } = synth())
  }, SYNTH_TIMEOUT_MS)

  it("keeps Postgres private and encrypted, in the isolated subnets, TLS enforced", () => {
    template.hasResourceProperties("AWS::RDS::DBInstance", {
      Engine: "postgres",
      PubliclyAccessible: false,
      StorageEncrypted: true,
      MultiAZ: true,
      DeletionProtection: true
    })
    template.hasResourceProperties("AWS::RDS::DBParameterGroup", { Parameters: { "rds.force_ssl": "1" } })
  })

  it("generates the database credentials into Secrets Manager and rotates them", () => {
    const secret = logicalId(resources, "AWS::SecretsManager::Secret", "RevenueFlowDataPostgresSecret")
    template.hasResourceProperties("AWS::SecretsManager::Secret", {
      GenerateSecretString: Match.objectLike({ GenerateStringKey: "password" })
    })
    template.hasResourceProperties("AWS::SecretsManager::RotationSchedule", {
      SecretId: {
        Ref: logicalId(resources, "AWS::SecretsManager::SecretTargetAttachment", "DataPostgresSecretAttachment")
      },
      RotationRules: { ScheduleExpression: "rate(30 days)" },
      // not during the deploy that creates the schedule (and starts the tasks): rotationDays after it
      RotateImmediatelyOnUpdate: false
    })
    const password = JSON.stringify(
      resources[logicalId(resources, "AWS::RDS::DBInstance", "DataPostgres")]!.Properties!.MasterUserPassword
    )
    expect(password).toContain("{{resolve:secretsmanager:")
    expect(password).toContain(secret)
  })

  it("runs Redis with cluster mode off, encryption in transit and at rest, and an AUTH token from a secret", () => {
    const groups = ofType(resources, "AWS::ElastiCache::ReplicationGroup")
    expect(groups).toHaveLength(1)
    const redis = { Properties: groups[0]![1].Properties! }
    expect(redis.Properties).toMatchObject({
      Engine: "redis",
      ClusterMode: "disabled",
      TransitEncryptionEnabled: true,
      AtRestEncryptionEnabled: true
    })
    const token = JSON.stringify(redis.Properties.AuthToken)
    expect(token).toContain("{{resolve:secretsmanager:")
    expect(token).toContain(logicalId(resources, "AWS::SecretsManager::Secret", "DataRedisAuthToken"))
    template.hasResourceProperties("AWS::ElastiCache::ParameterGroup", {
      Properties: { "maxmemory-policy": "noeviction" }
    })
  })

  it("builds REDIS_URL as rediss:// with the token and the primary endpoint, by reference only", () => {
    const url = JSON.stringify(
      resources[logicalId(resources, "AWS::SecretsManager::Secret", "DataRedisUrl")]!.Properties!.SecretString
    )
    expect(url).toContain("REDIS_URL")
    expect(url).toContain("rediss://:")
    expect(url).toContain("PrimaryEndPoint.Address")
    expect(url).toContain("{{resolve:secretsmanager:")
  })

  it("hands each task its secrets through AWS_SECRETS_IDS and the configuration through the environment", () => {
    const ctx = {
      crmProvider: "HUBSPOT",
      crmSecretArn: CRM_SECRET_ARN,
      workerConcurrency: 12,
      rateLimitCrm: 250,
      image: "registry.example/revenueflow:1.2.3"
    }
    const { resources: configured } = synth(ctx)
    const env = (prefix: string) => {
      const [container] = configured[logicalId(configured, "AWS::ECS::TaskDefinition", prefix)]!.Properties!
        .ContainerDefinitions as Array<{
        Image: string
        Command: Array<string>
        Environment: Array<{ Name: string; Value: unknown }>
      }>
      return { container: container!, vars: Object.fromEntries(container!.Environment.map((e) => [e.Name, e.Value])) }
    }
    const consumer = env("ServicesConsumerTask")
    expect(consumer.container.Image).toBe("registry.example/revenueflow:1.2.3")
    expect(consumer.container.Command).toEqual(["consumer"])
    expect(consumer.vars).toMatchObject({
      CRM_PROVIDER: "HUBSPOT",
      WORKER_CONCURRENCY: "12",
      RATE_LIMIT_CRM: "250",
      CLOUDWATCH_METRICS: "EMF",
      CIRCUIT_BREAKER: "REDIS",
      AWS_REGION: { Ref: "AWS::Region" }
    })
    const ids = JSON.stringify(consumer.vars.AWS_SECRETS_IDS)
    for (const name of [CRM_SECRET_ARN, "DataRedisUrl", "DataPostgresSecretAttachment"]) expect(ids).toContain(name)
    expect(ids).not.toContain("DataWebhookSecrets")
    expect(ids).not.toContain("DataApiKeys")
    const ingest = env("ServicesIngestTask")
    expect(ingest.container.Command).toEqual(["ingest"])
    const ingestIds = JSON.stringify(ingest.vars.AWS_SECRETS_IDS)
    expect(ingestIds).toContain("DataWebhookSecrets")
    expect(ingestIds).not.toContain(CRM_SECRET_ARN)
    // the API keys last: a later secret wins a key two secrets hold, so no other secret can empty INGEST_API_KEYS
    expect(ingestIds.indexOf("DataApiKeys")).toBeGreaterThan(ingestIds.indexOf("DataWebhookSecrets"))
    // no secret value in the task definitions' plain environment
    expect(JSON.stringify(configured).match(/DATABASE_URL|REDIS_URL"?\s*,\s*"Value"/g)).toBeNull()
  })

  it("generates an API key at creation, so the ingest is never open: INGEST_API_KEYS, long, without a comma", () => {
    const keys = resources[logicalId(resources, "AWS::SecretsManager::Secret", "DataApiKeys")]!.Properties!
    expect(keys.GenerateSecretString).toMatchObject({
      SecretStringTemplate: "{}",
      GenerateStringKey: "INGEST_API_KEYS",
      ExcludePunctuation: true
    })
    expect((keys.GenerateSecretString as { PasswordLength: number }).PasswordLength).toBeGreaterThanOrEqual(32)
    const outputs = template.toJSON().Outputs as Record<string, { Value: unknown }>
    expect(outputs.ApiKeySecretArn!.Value).toEqual({
      Ref: logicalId(resources, "AWS::SecretsManager::Secret", "DataApiKeys")
    })
    expect(outputs.CrmSecretArn).toBeUndefined() // the mock CRM, and no secret given
  })

  it("ships the logs in non-blocking mode with an explicit buffer, whatever the account's default mode", () => {
    for (const [, task] of ofType(resources, "AWS::ECS::TaskDefinition")) {
      for (const container of task.Properties!.ContainerDefinitions as Array<{ LogConfiguration: unknown }>) {
        expect(container.LogConfiguration).toMatchObject({
          LogDriver: "awslogs",
          Options: expect.objectContaining({ mode: "non-blocking", "max-buffer-size": "26214400b" }) // 25 MiB
        })
      }
    }
  })
})
