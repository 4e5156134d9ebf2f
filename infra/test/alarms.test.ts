import { Stack } from "aws-cdk-lib"
import { beforeAll, describe, expect, it } from "vitest"
import { dataAlarms } from "../lib/alarms.js"
import { Data } from "../lib/data.js"
import { Network } from "../lib/network.js"
import {
  configOf,
  fargateBase,
  logicalId,
  ofType,
  type Resources,
  SYNTH_TIMEOUT_MS,
  synth,
  synthesize,
  synthServerless
} from "./synth.js"

type Statement = {
  Effect: string
  Principal?: { Service?: string }
  Action: string | Array<string>
  Condition?: Record<string, Record<string, unknown>>
}
const list = (value: string | Array<string>) => (Array.isArray(value) ? value : [value])
const props = (r: Resources, id: string) => r[id]!.Properties as Record<string, unknown>

/**
 * Every alarm's notification must be deliverable: alarm -> topic -> the topic's key lets CloudWatch use it, and the
 * topic's policy lets CloudWatch publish (a topic with a policy has no default one left).
 */
const deliverable = (r: Resources) => {
  // every alarm but the scaling policies' own notifies a topic
  const toTopics = ofType(r, "AWS::CloudWatch::Alarm").map(([, alarm]) =>
    ((alarm.Properties!.AlarmActions as Array<{ Ref?: string }> | undefined) ?? [])
      .map((action) => action.Ref)
      .filter((ref): ref is string => ref !== undefined && r[ref]!.Type === "AWS::SNS::Topic")
  )
  expect(toTopics.filter((topics) => topics.length > 0).length).toBeGreaterThanOrEqual(5)
  for (const topics of toTopics) {
    for (const topic of topics) {
      // a key of the stack's own (not alias/aws/sns, whose policy CloudWatch is not in), rotated
      const key = (props(r, topic).KmsMasterKeyId as { "Fn::GetAtt": [string, string] })["Fn::GetAtt"][0]
      expect(r[key]!.Type).toBe("AWS::KMS::Key")
      expect(props(r, key).EnableKeyRotation).toBe(true)
      const keyStatements = (props(r, key).KeyPolicy as { Statement: Array<Statement> }).Statement
      const forCloudWatch = keyStatements.find((s) => s.Principal?.Service === "cloudwatch.amazonaws.com")!
      expect(forCloudWatch.Effect).toBe("Allow")
      expect(list(forCloudWatch.Action).sort()).toEqual(["kms:Decrypt", "kms:GenerateDataKey*"])
      expect(forCloudWatch.Condition).toEqual({ StringEquals: { "aws:SourceAccount": { Ref: "AWS::AccountId" } } })
      // the topic policy: CloudWatch may publish (this account's alarms), nobody without TLS
      const policy = ofType(r, "AWS::SNS::TopicPolicy").find(([, p]) =>
        JSON.stringify(p.Properties!.Topics).includes(`"${topic}"`)
      )!
      const statements = (policy[1].Properties!.PolicyDocument as { Statement: Array<Statement> }).Statement
      const publish = statements.find((s) => s.Principal?.Service === "cloudwatch.amazonaws.com")!
      expect(publish).toMatchObject({ Effect: "Allow", Action: "sns:Publish" })
      expect(publish.Condition!.StringEquals).toEqual({ "aws:SourceAccount": { Ref: "AWS::AccountId" } })
      expect(JSON.stringify(publish.Condition!.ArnLike)).toContain(":alarm:*")
      expect(JSON.stringify(statements)).toContain('"aws:SecureTransport":"false"')
    }
  }
}

const alarmsBy = (r: Resources, predicate: (alarm: Record<string, unknown>) => boolean) =>
  ofType(r, "AWS::CloudWatch::Alarm")
    .map(([, alarm]) => alarm.Properties as Record<string, unknown>)
    .filter(predicate)

/** The Redis memory alarm: MAX over the replication group's nodes (<group>-001, -002, node 0001). */
const redisNodes = (r: Resources) => {
  const [alarm] = alarmsBy(r, (a) => JSON.stringify(a.Metrics ?? []).includes("DatabaseMemoryUsagePercentage"))
  expect(alarm).toMatchObject({ Threshold: 80, ComparisonOperator: "GreaterThanOrEqualToThreshold" })
  const metrics = alarm!.Metrics as Array<{ Expression?: string; MetricStat?: { Metric: { Dimensions: unknown } } }>
  expect(metrics.find((m) => m.Expression)!.Expression).toMatch(/^MAX\(\[/)
  const group = logicalId(r, "AWS::ElastiCache::ReplicationGroup", "DataRedis")
  return metrics
    .filter((m) => m.MetricStat)
    .map((m) => m.MetricStat!.Metric.Dimensions)
    .map((dimensions) => {
      const text = JSON.stringify(dimensions)
      expect(text).toContain(`{"Ref":"${group}"}`)
      expect(text).toContain('{"Name":"CacheNodeId","Value":"0001"}')
      return text.match(/"(00\d)"/)![1]
    })
}

describe("alarms reach the operator, and watch the infrastructure too", { timeout: SYNTH_TIMEOUT_MS }, () => {
  let fargate: Resources
  let serverless: Resources
  beforeAll(() => {
    fargate = synth({ alarmEmail: "ops@example.com" }).resources
    serverless = synthServerless({ alarmEmail: "ops@example.com", multiAz: false }).resources
  }, SYNTH_TIMEOUT_MS)

  it("encrypts the alarm topic with a key CloudWatch may use, and lets CloudWatch publish to it (Fargate)", () => {
    deliverable(fargate)
  })

  it("does the same in the serverless variant", () => {
    deliverable(serverless)
  })

  it("alarms on Redis memory (80 %, every node) and Postgres free storage, in both variants", () => {
    expect(redisNodes(fargate)).toEqual(["001", "002"])
    expect(redisNodes(serverless)).toEqual(["001"]) // multiAz=false: no replica
    for (const r of [fargate, serverless]) {
      const [storage] = alarmsBy(r, (a) => a.MetricName === "FreeStorageSpace")
      expect(storage).toMatchObject({
        Namespace: "AWS/RDS",
        Statistic: "Minimum",
        Threshold: 1024 ** 3, // 5 % of the default 20 GiB
        ComparisonOperator: "LessThanThreshold"
      })
      expect(JSON.stringify(storage!.Dimensions)).toContain(logicalId(r, "AWS::RDS::DBInstance", "DataPostgres"))
    }
  })

  it("watches as many Redis nodes as the replication group has, read from the group", () => {
    // a group changed without the alarms being told: three clusters where multiAz alone would say two
    const { resources } = synthesize(fargateBase({}), (app) => {
      const stack = new Stack(app, "AlarmsOnly")
      const network = new Network(stack, "Network", { natGateways: 1, https: false })
      const data = new Data(stack, "Data", { config: configOf(app), network })
      data.redis.numCacheClusters = 3
      dataAlarms(stack, { data })
      return stack
    })
    expect(redisNodes(resources)).toEqual(["001", "002", "003"])
  })

  it("does not raise the storage alarm on storage autoscaling's own trigger, at any allocation", () => {
    // autoscaling acts below 10 % free of the current allocation, which only grows from AllocatedStorage: the alarm's
    // threshold stays below that at every size, and waits longer than autoscaling's 5 minutes plus the increase
    for (const allocated of [20, 200]) {
      const r = allocated === 20 ? fargate : synth({ dbAllocatedStorageGiB: allocated }).resources
      const db = r[logicalId(r, "AWS::RDS::DBInstance", "DataPostgres")]!.Properties!
      expect(Number(db.AllocatedStorage)).toBe(allocated)
      expect(db.MaxAllocatedStorage).toBe(allocated * 5)
      const [storage] = alarmsBy(r, (a) => a.MetricName === "FreeStorageSpace")
      const threshold = storage!.Threshold as number
      expect(threshold).toBeLessThan(0.1 * allocated * 1024 ** 3)
      expect(threshold).toBe(0.05 * allocated * 1024 ** 3)
      expect((storage!.EvaluationPeriods as number) * (storage!.Period as number)).toBeGreaterThanOrEqual(15 * 60)
    }
  })

  it("alarms on unhealthy ingest targets and the load balancer's own 5xx (Fargate)", () => {
    const [unhealthy] = alarmsBy(fargate, (a) => a.MetricName === "UnHealthyHostCount")
    expect(unhealthy).toMatchObject({
      Namespace: "AWS/ApplicationELB",
      Threshold: 0,
      ComparisonOperator: "GreaterThanThreshold",
      EvaluationPeriods: 3
    })
    const [elb5xx] = alarmsBy(fargate, (a) => a.MetricName === "HTTPCode_ELB_5XX_Count")
    expect(elb5xx).toMatchObject({ Namespace: "AWS/ApplicationELB", Statistic: "Sum", Threshold: 10 })
    expect(alarmsBy(serverless, (a) => String(a.Namespace) === "AWS/ApplicationELB")).toEqual([])
  })

  // A lead store outage: the ingest refuses every lead with 503 while its liveness check passes, the 503s are the
  // tasks' (not the load balancer's) or the function's answers (not its errors), and nothing is queued
  it("alarms on the ingest's own 5xx, 2 a minute or more for 2 minutes, to the alarm topic (both variants)", () => {
    const outage = {
      Statistic: "Sum",
      Period: 60,
      Threshold: 2,
      ComparisonOperator: "GreaterThanOrEqualToThreshold",
      EvaluationPeriods: 2,
      DatapointsToAlarm: 2,
      TreatMissingData: "notBreaching"
    }
    const notifies = (r: Resources, alarm: Record<string, unknown>) => {
      const topic = logicalId(r, "AWS::SNS::Topic", "")
      expect(alarm.AlarmActions).toEqual([{ Ref: topic }])
      expect(alarm.OKActions).toEqual([{ Ref: topic }])
      expect(alarm.AlarmDescription).toContain("503: the lead store (Postgres) is not answering")
    }
    const targets = alarmsBy(fargate, (a) => a.MetricName === "HTTPCode_Target_5XX_Count")
    expect(targets).toHaveLength(1)
    expect(targets[0]).toMatchObject({ Namespace: "AWS/ApplicationELB", ...outage })
    const dimensions = JSON.stringify(targets[0]!.Dimensions)
    expect(dimensions).toContain('"Name":"TargetGroup"')
    expect(dimensions).toContain(logicalId(fargate, "AWS::ElasticLoadBalancingV2::TargetGroup", "Services"))
    expect(dimensions).toContain('"Name":"LoadBalancer"')
    notifies(fargate, targets[0]!)

    const api = alarmsBy(serverless, (a) => a.MetricName === "5xx")
    expect(api).toHaveLength(1)
    expect(api[0]).toMatchObject({ Namespace: "AWS/ApiGateway", ...outage })
    expect(api[0]!.Dimensions).toEqual(
      expect.arrayContaining([
        { Name: "ApiId", Value: { Ref: logicalId(serverless, "AWS::ApiGatewayV2::Api", "FunctionsApi") } },
        { Name: "Stage", Value: "$default" }
      ])
    )
    expect(api[0]!.Dimensions).toHaveLength(2)
    notifies(serverless, api[0]!)
  })
})
