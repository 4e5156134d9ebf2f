import { Match } from "aws-cdk-lib/assertions"
import { beforeAll, describe, expect, it } from "vitest"
import {
  CRM_SECRET_ARN,
  LEGACY_CRM_SECRET_ID,
  logicalId,
  ofType,
  type Resources,
  synth,
  SYNTH_TIMEOUT_MS,
  synthServerless,
  allWildcards,
  isLogRetentionStatement
} from "./synth.js"

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

  it("gives Postgres gp3 storage in both variants: 3,000 IOPS at any size below 400 GiB, no burst credits to drain", () => {
    // gp2, CDK's default, gives 3 IOPS per GiB: 100 at the default 20 GiB, and bursts on credits sustained ingest spends
    for (const r of [resources, synthServerless().resources]) {
      const db = r[logicalId(r, "AWS::RDS::DBInstance", "DataPostgres")]!.Properties!
      expect(db).toMatchObject({ StorageType: "gp3", AllocatedStorage: "20", MaxAllocatedStorage: 100 })
      // gp3's baseline below 400 GiB is fixed: RDS refuses Iops or StorageThroughput there
      expect(db.Iops).toBeUndefined()
      expect(db.StorageThroughput).toBeUndefined()
    }
  })

  it("generates the database credentials into Secrets Manager and rotates them", () => {
    const secret = logicalId(resources, "AWS::SecretsManager::Secret", "DataPostgresCredentials")
    template.hasResourceProperties("AWS::SecretsManager::Secret", {
      GenerateSecretString: Match.objectLike({ GenerateStringKey: "password" })
    })
    template.hasResourceProperties("AWS::SecretsManager::RotationSchedule", {
      SecretId: {
        Ref: logicalId(resources, "AWS::SecretsManager::SecretTargetAttachment", "DataPostgresCredentialsAttachment")
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
    // ECS waits out each program's drain before SIGKILL (config.ts, stopTimeouts)
    expect((consumer.container as { StopTimeout?: number }).StopTimeout).toBe(34)
    expect((env("ServicesIngestTask").container as { StopTimeout?: number }).StopTimeout).toBe(30)
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
    for (const name of [CRM_SECRET_ARN, "DataRedisUrl", "DataPostgresCredentialsAttachment"])
      expect(ids).toContain(name)
    expect(ids).not.toContain("DataWebhookSecrets")
    expect(ids).not.toContain("DataApiKeys")
    const ingest = env("ServicesIngestTask")
    expect(ingest.container.Command).toEqual(["ingest"])
    const ingestIds = JSON.stringify(ingest.vars.AWS_SECRETS_IDS)
    expect(ingestIds).toContain("DataWebhookSecrets")
    expect(ingestIds).not.toContain(CRM_SECRET_ARN)
    // a later secret wins a key two secrets hold: the webhook secret last, after the API-key secret, so that the
    // INGEST_API_KEYS an upgraded stack keeps there go on being served (a new stack's webhook secret has none)
    expect(ingestIds.indexOf("DataWebhookSecrets")).toBeGreaterThan(ingestIds.indexOf("DataApiKeys"))
    expect(ingestIds.indexOf("DataApiKeys")).toBeGreaterThan(ingestIds.indexOf("DataRedisUrl"))
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

  it("lets the stack's own settings win over 'environment' even past config.ts's refusal (user first)", () => {
    // config.ts refuses these keys in `environment`; the order of the task's environment must not depend on that
    const { resources: patched } = synth({}, (config) => ({
      ...config,
      environment: { LOG_FORMAT: "pretty", RATE_LIMIT_CRM: "1", CIRCUIT_BREAKER: "MEMORY", CLOUDWATCH_METRICS: "OFF" }
    }))
    for (const task of ["ServicesIngestTask", "ServicesConsumerTask"]) {
      const [container] = patched[logicalId(patched, "AWS::ECS::TaskDefinition", task)]!.Properties!
        .ContainerDefinitions as Array<{ Environment: Array<{ Name: string; Value: unknown }> }>
      const vars = Object.fromEntries(container!.Environment.map((e) => [e.Name, e.Value]))
      expect(vars, task).toMatchObject({
        LOG_FORMAT: "json",
        RATE_LIMIT_CRM: "1000",
        CIRCUIT_BREAKER: "REDIS",
        CLOUDWATCH_METRICS: "EMF"
      })
    }
  })

  it("keeps, on an upgrade, the CRM secret earlier templates created: same logical id and properties, retained", () => {
    // `git show 8eaaa43:infra/lib/data.ts`, synthesized: the resource as the stacks deployed from it hold it. With the
    // same logical id CloudFormation does not delete it; with the same properties it does not update it (an update
    // would write "{}" over the credentials operators put in it); Retain: the release that drops it orphans it.
    const earlier = {
      Type: "AWS::SecretsManager::Secret",
      Properties: {
        Description:
          "RevenueFlow: CRM credentials as JSON, e.g. {SALESFORCE_CLIENT_ID, SALESFORCE_CLIENT_SECRET} or {HUBSPOT_ACCESS_TOKEN}",
        SecretString: "{}"
      }
    }
    const withCrm = synth({ crmProvider: "SALESFORCE", crmSecretArn: CRM_SECRET_ARN }).template
    const serverless = synthServerless().template
    for (const t of [template, withCrm, serverless]) {
      const legacy = (t.toJSON().Resources as Resources)[LEGACY_CRM_SECRET_ID]
      expect(legacy).toEqual({ ...earlier, DeletionPolicy: "Retain", UpdateReplacePolicy: "Retain" })
      const outputs = t.toJSON().Outputs as Record<string, { Value: unknown }>
      expect(outputs.LegacyCrmSecretArn!.Value).toEqual({ Ref: LEGACY_CRM_SECRET_ID })
    }
  })

  it("leaves the webhook secret of earlier templates unchanged on an upgrade (it may hold INGEST_API_KEYS)", () => {
    // as `git show 8eaaa43:infra/lib/data.ts` synthesizes it: no property changed, so no update to its value
    expect(resources[logicalId(resources, "AWS::SecretsManager::Secret", "DataWebhookSecrets")]!.Properties).toEqual({
      Description:
        "RevenueFlow: ingest secrets as JSON: MARKETO_WEBHOOK_TOKEN (generated), HUBSPOT_APP_SECRET, INGEST_API_KEYS",
      GenerateSecretString: {
        ExcludePunctuation: true,
        GenerateStringKey: "MARKETO_WEBHOOK_TOKEN",
        PasswordLength: 48,
        SecretStringTemplate: "{}"
      }
    })
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

  /** What a program's DATABASE_URL names (layers/aws/SecretsConfig.ts rdsDatabaseUrl): the secret's dbname. */
  const secretTemplate = (r: Resources) =>
    JSON.parse(
      String(
        (
          r[logicalId(r, "AWS::SecretsManager::Secret", "DataPostgresCredentials")]!.Properties!
            .GenerateSecretString as {
            SecretStringTemplate: string
          }
        ).SecretStringTemplate
      )
    ) as Record<string, unknown>

  it("names in the RDS secret the database the stack creates, so the programs use it (not `postgres`), in both variants", () => {
    for (const r of [resources, synthServerless().resources]) {
      const instance = r[logicalId(r, "AWS::RDS::DBInstance", "DataPostgres")]!.Properties!
      // the attachment adds engine, host and port, not dbname: the template carries it
      expect(secretTemplate(r)).toEqual({ username: "revenueflow", dbname: "revenueflow" })
      expect(instance.DBName).toBe("revenueflow")
      // a change of either replaces the instance: both stay literal, whatever the secret
      expect(instance.MasterUsername).toBe("revenueflow")
      expect(JSON.stringify(instance.MasterUserPassword)).toContain(
        logicalId(r, "AWS::SecretsManager::Secret", "DataPostgresCredentials")
      )
    }
  })

  it("keeps the programs on the `postgres` database with programDatabase=postgres (stacks deployed before), the instance unchanged", () => {
    const older = synth({ programDatabase: "postgres" }).resources
    expect(secretTemplate(older)).toEqual({ username: "revenueflow", dbname: "postgres" })
    const instance = (r: Resources) => r[logicalId(r, "AWS::RDS::DBInstance", "DataPostgres")]!.Properties!
    expect(instance(older).DBName).toBe("revenueflow")
    expect(instance(older)).toEqual(instance(resources))
  })

  it("expires the postgresql export's and the rotation function's log groups after logRetentionDays, in both variants", () => {
    for (const r of [synth({ logRetentionDays: 14 }).resources, synthServerless({ logRetentionDays: 14 }).resources]) {
      const retained = ofType(r, "Custom::LogRetention").map(([, l]) => l.Properties as Record<string, unknown>)
      const postgres = JSON.stringify({
        "Fn::Join": [
          "",
          ["/aws/rds/instance/", { Ref: logicalId(r, "AWS::RDS::DBInstance", "DataPostgres") }, "/postgresql"]
        ]
      })
      expect(retained.filter((l) => JSON.stringify(l.LogGroupName) === postgres)).toMatchObject([
        { RetentionInDays: 14 }
      ])
      // Lambda names the rotation function's group after the function the serverless application creates
      const rotation = ofType(r, "AWS::Serverless::Application")
      expect(rotation).toHaveLength(1)
      const functionName = (rotation[0]![1].Properties!.Parameters as { functionName: string }).functionName
      expect(retained.filter((l) => l.LogGroupName === `/aws/lambda/${functionName}`)).toMatchObject([
        { RetentionInDays: 14 }
      ])
      expect(retained).toHaveLength(2)
      // the function behind them may set retention policies on any group, and nothing else ("*" accepted there only)
      const broad = allWildcards(r)
      expect(broad).toHaveLength(1)
      expect(isLogRetentionStatement(broad[0]!.owner, broad[0]!.statement)).toBe(true)
    }
  })
})
