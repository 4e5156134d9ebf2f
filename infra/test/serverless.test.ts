import { Match } from "aws-cdk-lib/assertions"
import { beforeAll, describe, expect, it } from "vitest"
import { CRM_SECRET_ARN, logicalId, ofType, type Resources, SYNTH_TIMEOUT_MS, synthServerless } from "./synth.js"

type Fn = { Properties: Record<string, unknown>; DependsOn?: ReadonlyArray<string> }

describe("serverless variant", { timeout: SYNTH_TIMEOUT_MS }, () => {
  let resources: Resources
  let template: ReturnType<typeof synthServerless>["template"]
  beforeAll(() => {
    ;({ resources, template } = synthServerless({
      lambdaConsumerTimeoutSeconds: 90,
      sqsBatchSize: 25,
      sqsMaxBatchingWindowSeconds: 5,
      consumerMaxConcurrency: 20,
      maxReceiveCount: 12,
      sweepIntervalMinutes: 2,
      maxWaitSeconds: 30,
      crmProvider: "HUBSPOT",
      crmSecretArn: CRM_SECRET_ARN,
      // HubSpot calls of at most 0.9 s: 5 rounds of a lead's 19 calls, 0.9 s to stop and 1 s fit the 90 s asked for
      environment: '{"CRM_TIMEOUT_MS":"900"}',
      ingestReservedConcurrency: 40
    }))
  }, SYNTH_TIMEOUT_MS)

  const fn = (prefix: string) => resources[logicalId(resources, "AWS::Lambda::Function", prefix)] as Fn
  const env = (prefix: string) =>
    (fn(prefix).Properties.Environment as { Variables: Record<string, unknown> }).Variables
  const subnetIds = (kind: string) =>
    ofType(resources, "AWS::EC2::Subnet")
      .filter(([, subnet]) =>
        (subnet.Properties!.Tags as Array<{ Key: string; Value: string }>).some(
          (tag) => tag.Key === "aws-cdk:subnet-name" && tag.Value === kind
        )
      )
      .map(([id]) => id)
      .sort()

  it("runs ingest, consumer, sweep and migrate on Node.js 24 from the bundles, in the private subnets", () => {
    for (const name of ["FunctionsIngest", "FunctionsConsumer", "FunctionsSweep", "FunctionsMigrate"]) {
      const props = fn(name).Properties
      expect(props).toMatchObject({ Runtime: "nodejs24.x", Handler: "index.handler" })
      const vpc = props.VpcConfig as { SubnetIds: Array<{ Ref: string }>; SecurityGroupIds: unknown }
      expect(vpc.SubnetIds.map((s) => s.Ref).sort()).toEqual(subnetIds("tasks"))
    }
    expect(fn("FunctionsConsumer").Properties.Timeout).toBe(90)
  })

  it("serves the ingest behind an HTTP API: payload 2.0, every route, the $default stage throttled and logged", () => {
    template.hasResourceProperties("AWS::ApiGatewayV2::Api", { ProtocolType: "HTTP" })
    template.hasResourceProperties("AWS::ApiGatewayV2::Integration", {
      IntegrationType: "AWS_PROXY",
      PayloadFormatVersion: "2.0",
      IntegrationUri: { "Fn::GetAtt": [logicalId(resources, "AWS::Lambda::Function", "FunctionsIngest"), "Arn"] }
    })
    template.hasResourceProperties("AWS::ApiGatewayV2::Route", { RouteKey: "$default" })
    template.hasResourceProperties("AWS::ApiGatewayV2::Stage", {
      StageName: "$default",
      AutoDeploy: true,
      DefaultRouteSettings: { ThrottlingRateLimit: 500, ThrottlingBurstLimit: 1000 },
      AccessLogSettings: Match.objectLike({ Format: Match.stringLikeRegexp("\\$context.requestId") })
    })
  })

  it("prints the URL to give HubSpot (the $default stage's URL + /webhooks/hubspot) and the migrate function", () => {
    const outputs = template.toJSON().Outputs as Record<string, { Value: unknown }>
    const hubspot = JSON.stringify(outputs.HubSpotWebhookUrl!.Value)
    expect(hubspot).toContain(logicalId(resources, "AWS::ApiGatewayV2::Api", "FunctionsApi"))
    expect(hubspot).toContain(".execute-api.")
    expect(hubspot).toMatch(/\/webhooks\/hubspot"\]\]\}$/)
    expect(outputs.MigrateFunctionName!.Value).toEqual({
      Ref: logicalId(resources, "AWS::Lambda::Function", "FunctionsMigrate")
    })
  })

  it("feeds the consumer from the queue in batches, reporting failed items, with bounded concurrency", () => {
    const mappings = ofType(resources, "AWS::Lambda::EventSourceMapping")
    expect(mappings).toHaveLength(1)
    expect(mappings[0]![1].Properties).toEqual({
      EventSourceArn: { "Fn::GetAtt": [logicalId(resources, "AWS::SQS::Queue", "QueuesJobs"), "Arn"] },
      FunctionName: { Ref: logicalId(resources, "AWS::Lambda::Function", "FunctionsConsumer") },
      FunctionResponseTypes: ["ReportBatchItemFailures"],
      BatchSize: 25,
      MaximumBatchingWindowInSeconds: 5,
      ScalingConfig: { MaximumConcurrency: 20 }
    })
  })

  it("moves a job to the encrypted DLQ after maxReceiveCount receives; visibility is 6x the consumer's timeout", () => {
    const dlq = logicalId(resources, "AWS::SQS::Queue", "QueuesDeadLetters")
    const queue = resources[logicalId(resources, "AWS::SQS::Queue", "QueuesJobs")]!.Properties!
    expect(queue.RedrivePolicy).toEqual({ deadLetterTargetArn: { "Fn::GetAtt": [dlq, "Arn"] }, maxReceiveCount: 12 })
    expect(queue.VisibilityTimeout).toBe(6 * 90 + 5)
    for (const [, q] of ofType(resources, "AWS::SQS::Queue")) {
      expect(q.Properties).toMatchObject({ SqsManagedSseEnabled: true, MessageRetentionPeriod: 14 * 24 * 3600 })
    }
    // both refuse plain HTTP
    const denies = ofType(resources, "AWS::SQS::QueuePolicy").map(([, p]) => JSON.stringify(p.Properties))
    expect(denies).toHaveLength(2)
    for (const policy of denies) expect(policy).toContain('"aws:SecureTransport":"false"')
  })

  it("wires every function to the stack's queues and its own secrets through the environment", () => {
    const queues = {
      SQS_QUEUE_URL: { Ref: logicalId(resources, "AWS::SQS::Queue", "QueuesJobs") },
      SQS_DLQ_URL: { Ref: logicalId(resources, "AWS::SQS::Queue", "QueuesDeadLetters") },
      QUEUE_BACKEND: "SQS"
    }
    expect(env("FunctionsIngest")).toMatchObject({ ...queues, MIGRATE_ON_START: "false" })
    expect(env("FunctionsConsumer")).toMatchObject({ ...queues, MIGRATE_ON_START: "false", CIRCUIT_BREAKER: "REDIS" })
    expect(env("FunctionsSweep")).toMatchObject({ ...queues, SWEEP_INTERVAL_MS: "120000" })
    expect(env("FunctionsMigrate")).toMatchObject({ ...queues, MIGRATE_ON_START: "true" })
    const ids = (name: string) => JSON.stringify(env(name).AWS_SECRETS_IDS)
    expect(ids("FunctionsIngest")).toContain("DataWebhookSecrets")
    expect(ids("FunctionsIngest")).not.toContain(CRM_SECRET_ARN)
    // the webhook secret last, after the API-key secret: an INGEST_API_KEYS an upgraded stack keeps there wins
    expect(ids("FunctionsIngest").indexOf("DataWebhook")).toBeGreaterThan(ids("FunctionsIngest").indexOf("DataApiKeys"))
    expect(ids("FunctionsIngest").indexOf("DataApiKeys")).toBeGreaterThan(
      ids("FunctionsIngest").indexOf("DataPostgres")
    )
    for (const name of [CRM_SECRET_ARN, "DataRedisUrl", "DataPostgresCredentialsAttachment"])
      expect(ids("FunctionsConsumer")).toContain(name)
    expect(JSON.stringify(resources).match(/"(DATABASE_URL|REDIS_URL)"\s*:/g)).toBeNull()
  })

  it("lets the stack's own settings win over 'environment' even past config.ts's refusal (user first)", () => {
    // config.ts refuses these keys in `environment`; the order of the functions' environment must not depend on that
    const { resources: patched } = synthServerless({ sweepIntervalMinutes: 2 }, (config) => ({
      ...config,
      environment: {
        LOG_FORMAT: "pretty",
        RATE_LIMIT_CRM: "1",
        SWEEP_INTERVAL_MS: "1",
        QUEUE_BACKEND: "REDIS",
        MIGRATE_ON_START: "true",
        DATABASE_POOL_SIZE: "99"
      }
    }))
    for (const name of ["FunctionsIngest", "FunctionsConsumer", "FunctionsSweep"]) {
      const vars = (
        patched[logicalId(patched, "AWS::Lambda::Function", name)]!.Properties!.Environment as {
          Variables: Record<string, unknown>
        }
      ).Variables
      expect(vars, name).toMatchObject({
        LOG_FORMAT: "json",
        RATE_LIMIT_CRM: "1000",
        SWEEP_INTERVAL_MS: "120000",
        QUEUE_BACKEND: "SQS",
        MIGRATE_ON_START: "false"
      })
      expect(vars.DATABASE_POOL_SIZE, name).not.toBe("99")
    }
  })

  it("reserves the ingest's concurrency when asked (its Postgres connections: 2 each), and only then", () => {
    expect(fn("FunctionsIngest").Properties.ReservedConcurrentExecutions).toBe(40)
    for (const name of ["FunctionsConsumer", "FunctionsSweep", "FunctionsMigrate"])
      expect(fn(name).Properties.ReservedConcurrentExecutions).toBeUndefined()
    const defaults = synthServerless().resources
    const ingest = defaults[logicalId(defaults, "AWS::Lambda::Function", "FunctionsIngest")]!.Properties!
    expect(ingest.ReservedConcurrentExecutions).toBeUndefined()
    // and the default redrive: 50 attempts of a failing job (delays spend none)
    const queue = defaults[logicalId(defaults, "AWS::SQS::Queue", "QueuesJobs")]!.Properties!
    expect((queue.RedrivePolicy as { maxReceiveCount: number }).maxReceiveCount).toBe(50)
  })

  it("lets only the functions reach Postgres, only the consumer reach Redis, and nothing reach the functions", () => {
    const sg = (prefix: string) => logicalId(resources, "AWS::EC2::SecurityGroup", prefix)
    const ingressTo = (group: string) =>
      ofType(resources, "AWS::EC2::SecurityGroupIngress")
        .map(([, rule]) => rule.Properties!)
        .filter((rule) => JSON.stringify(rule.GroupId).includes(`"${group}"`))
        .map((rule) => (rule.SourceSecurityGroupId as { "Fn::GetAtt": [string] })["Fn::GetAtt"][0])
        .sort()
    expect(ingressTo(sg("NetworkDatabaseSg"))).toEqual(
      [sg("NetworkIngestSg"), sg("NetworkConsumerSg"), sg("DataRotationSg")].sort()
    )
    expect(ingressTo(sg("NetworkRedisSg"))).toEqual([sg("NetworkConsumerSg")])
    for (const group of ["NetworkIngestSg", "NetworkConsumerSg"]) {
      expect(ingressTo(sg(group))).toEqual([])
      expect(resources[sg(group)]!.Properties!.SecurityGroupIngress).toBeUndefined()
    }
    expect(ofType(resources, "AWS::ElasticLoadBalancingV2::LoadBalancer")).toEqual([])
  })

  it("sweeps on an EventBridge schedule at sweepIntervalMinutes", () => {
    template.hasResourceProperties("AWS::Events::Rule", {
      ScheduleExpression: "rate(2 minutes)",
      State: "ENABLED",
      Targets: [
        Match.objectLike({
          Arn: { "Fn::GetAtt": [logicalId(resources, "AWS::Lambda::Function", "FunctionsSweep"), "Arn"] }
        })
      ]
    })
  })

  it("runs the migrations at deploy time before the other functions change, again when the bundle changes", () => {
    const runs = ofType(resources, "Custom::RevenueFlowMigrations") as Array<[string, Fn]>
    expect(runs).toHaveLength(1)
    const [id, run] = runs[0]!
    const invoker = logicalId(resources, "AWS::Lambda::Function", "MigrationsInvoker")
    expect(run.Properties.ServiceToken).toEqual({ "Fn::GetAtt": [invoker, "Arn"] })
    expect(run.Properties.Bundle).toMatch(/^[0-9a-f]{64}$/)
    expect(run.DependsOn).toContain(logicalId(resources, "AWS::Lambda::Function", "FunctionsMigrate"))
    for (const name of ["FunctionsIngest", "FunctionsConsumer", "FunctionsSweep"])
      expect(fn(name).DependsOn).toContain(id)
    expect(fn("MigrationsInvoker").Properties.Environment).toEqual({
      Variables: { MIGRATE_FUNCTION: { Ref: logicalId(resources, "AWS::Lambda::Function", "FunctionsMigrate") } }
    })
    // the handler answers CloudFormation whatever happens, and fails the deployment on a failed migration
    const code = JSON.stringify(fn("MigrationsInvoker").Properties.Code)
    expect(code).toContain("out.FunctionError")
    expect(code).toContain("event.ResponseURL")
  })

  it("alarms on the consumer's breaker open, from the EMF lines it writes in the namespace its environment names", () => {
    const consumer = env("FunctionsConsumer")
    expect(consumer.CLOUDWATCH_METRICS).toBe("EMF")
    const breakers = ofType(resources, "AWS::CloudWatch::Alarm")
      .map(([, a]) => a.Properties as Record<string, unknown>)
      .filter((a) => a.MetricName === "CircuitBreakerOpen")
    // HubSpot, the heuristic analyser and the mock enrichment table: the CRM's breaker alone
    expect(breakers).toHaveLength(1)
    expect(breakers[0]).toMatchObject({
      Namespace: consumer.CLOUDWATCH_NAMESPACE,
      Dimensions: [{ Name: "Provider", Value: "hubspot" }],
      Statistic: "Maximum",
      Threshold: 1,
      EvaluationPeriods: 2,
      TreatMissingData: "notBreaching"
    })
    expect(breakers[0]!.AlarmDescription).toContain("the CRM is failing")
    // the ingest runs no breaker: it writes no EMF line
    expect(env("FunctionsIngest").CLOUDWATCH_METRICS).toBeUndefined()
  })

  it("alarms on dead letters growing, the oldest message's age and each function's errors and throttles", () => {
    const topic = ofType(resources, "AWS::SNS::Topic")[0]![0]
    const alarms = ofType(resources, "AWS::CloudWatch::Alarm").map(([, a]) => a.Properties as Record<string, unknown>)
    for (const alarm of alarms) expect(JSON.stringify(alarm.AlarmActions)).toContain(topic)
    const on = (metric: string) => alarms.filter((a) => a.MetricName === metric)
    const dimension = (alarm: Record<string, unknown>) => JSON.stringify(alarm.Dimensions)
    // on growth: a DLQ keeps its letters 14 days, and an alarm left in ALARM by the first would not page for the next
    expect(on("ApproximateNumberOfMessagesVisible")).toEqual([])
    type Query = {
      Id: string
      Expression?: string
      ReturnData?: boolean
      MetricStat?: { Metric: Record<string, unknown> }
    }
    const growing = alarms.filter((a) =>
      (a.Metrics as Array<Query> | undefined)?.some((m) => m.Expression === "DIFF(deadLetters)")
    )
    expect(growing).toHaveLength(1)
    const dlq = growing[0]!
    // DIFF has a value only with the period before it in the evaluated range: two periods, one rise enough
    expect(dlq).toMatchObject({
      Threshold: 0,
      ComparisonOperator: "GreaterThanThreshold",
      EvaluationPeriods: 2,
      DatapointsToAlarm: 1,
      TreatMissingData: "notBreaching"
    })
    const source = (dlq.Metrics as Array<Query>).find((m) => m.Id === "deadLetters")!.MetricStat!.Metric
    expect(source).toMatchObject({ MetricName: "ApproximateNumberOfMessagesVisible", Namespace: "AWS/SQS" })
    expect(JSON.stringify(source.Dimensions)).toContain("QueuesDeadLetters")
    // the serverless stack has no CLI in the VPC (README "Not in the stack"): the way to replay is the ingest's route
    expect(dlq.AlarmDescription).toContain("POST /leads/{id}/replay")
    expect(dlq.AlarmDescription).not.toContain("CLI")
    const [age] = on("ApproximateAgeOfOldestMessage")
    expect(age).toMatchObject({ Namespace: "AWS/SQS", Threshold: 150, EvaluationPeriods: 5 })
    expect(dimension(age!)).toContain("QueuesJobs")
    for (const metric of ["Errors", "Throttles"]) {
      const found = on(metric)
      expect(found.map((a) => a.Namespace)).toEqual(["AWS/Lambda", "AWS/Lambda", "AWS/Lambda"])
      for (const name of ["FunctionsIngest", "FunctionsConsumer", "FunctionsSweep"])
        expect(found.some((a) => dimension(a).includes(name))).toBe(true)
    }
  })
})
