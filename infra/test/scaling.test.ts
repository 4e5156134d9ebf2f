import { Match } from "aws-cdk-lib/assertions"
import { beforeAll, describe, expect, it } from "vitest"
import { CRM_SECRET_ARN, ofType, type Resources, synth, SYNTH_TIMEOUT_MS } from "./synth.js"

const NAMESPACE = "RevenueFlow/RevenueFlow"

describe("scaling and alarms", { timeout: SYNTH_TIMEOUT_MS }, () => {
  let resources: Resources
  let template: ReturnType<typeof synth>["template"]
  beforeAll(() => {
    ;({ resources, template } = synth({
      crmProvider: "SALESFORCE",
      crmSecretArn: CRM_SECRET_ARN,
      backlogPerTask: 50,
      maxWaitSeconds: 30
    }))
  }, SYNTH_TIMEOUT_MS)

  const alarmsOn = (metricName: string) =>
    ofType(resources, "AWS::CloudWatch::Alarm")
      .map(([, alarm]) => alarm.Properties as Record<string, unknown>)
      .filter((alarm) => alarm.MetricName === metricName)
  const policyArn = (alarm: Record<string, unknown>) => JSON.stringify(alarm.AlarmActions)

  it("scales the consumer out and in on queue depth, through step scaling on the published metric", () => {
    const [lower, upper] = alarmsOn("QueueDepth").sort((a, b) => Number(a.Threshold) - Number(b.Threshold))
    for (const alarm of [lower!, upper!]) {
      expect(alarm).toMatchObject({ Namespace: NAMESPACE, Statistic: "Maximum", Period: 60 })
      expect(alarm.Dimensions).toEqual([{ Name: "Queue", Value: "lead-processing" }])
      expect(policyArn(alarm)).toContain("ConsumerServiceTaskCountTargetQueueDepth")
    }
    expect(lower!.Threshold).toBe(0)
    expect(upper!.Threshold).toBe(50)
    template.hasResourceProperties("AWS::ApplicationAutoScaling::ScalingPolicy", {
      PolicyType: "StepScaling",
      StepScalingPolicyConfiguration: Match.objectLike({
        AdjustmentType: "ChangeInCapacity",
        StepAdjustments: Match.arrayWith([Match.objectLike({ ScalingAdjustment: 1, MetricIntervalLowerBound: 0 })])
      })
    })
  })

  it("scales the consumer out (never in) when the oldest waiting job is older than the limit", () => {
    const alarms = alarmsOn("OldestWaitingJobAgeSeconds").filter((a) => policyArn(a).includes("OldestWaitingJobAge"))
    expect(alarms).toHaveLength(1)
    expect(alarms[0]).toMatchObject({
      Namespace: NAMESPACE,
      Statistic: "Maximum",
      Threshold: 30,
      ComparisonOperator: "GreaterThanOrEqualToThreshold"
    })
  })

  it("scales the consumer between its minimum and maximum task counts", () => {
    const targets = ofType(resources, "AWS::ApplicationAutoScaling::ScalableTarget").map(([, t]) => t.Properties!)
    const consumer = targets.filter((t) => JSON.stringify(t.ResourceId).includes("ServicesConsumerService"))
    expect(consumer).toHaveLength(1)
    expect(consumer[0]).toMatchObject({
      MinCapacity: 1,
      MaxCapacity: 20,
      ScalableDimension: "ecs:service:DesiredCount"
    })
  })

  it("scales the ingest on CPU, memory and requests per task", () => {
    const tracking = ofType(resources, "AWS::ApplicationAutoScaling::ScalingPolicy")
      .map(
        ([, p]) =>
          p.Properties as {
            TargetTrackingScalingPolicyConfiguration?: {
              PredefinedMetricSpecification: { PredefinedMetricType: string }
              TargetValue: number
            }
          }
      )
      .flatMap((p) => (p.TargetTrackingScalingPolicyConfiguration ? [p.TargetTrackingScalingPolicyConfiguration] : []))
      .map((c) => [c.PredefinedMetricSpecification.PredefinedMetricType, c.TargetValue])
    expect(tracking.sort()).toEqual(
      [
        ["ALBRequestCountPerTarget", 30000],
        ["ECSServiceAverageCPUUtilization", 60],
        ["ECSServiceAverageMemoryUtilization", 75]
      ].sort()
    )
  })

  it("alarms on a backlog, on dead letters growing and on the CRM's breaker open, to the alarm topic", () => {
    const topic = ofType(resources, "AWS::SNS::Topic")[0]![0]
    const backlog = alarmsOn("OldestWaitingJobAgeSeconds").filter((a) => policyArn(a).includes(topic))
    expect(backlog).toHaveLength(1)
    expect(backlog[0]).toMatchObject({
      Threshold: 150,
      EvaluationPeriods: 5,
      ComparisonOperator: "GreaterThanThreshold"
    })

    const breaker = alarmsOn("CircuitBreakerOpen")
    expect(breaker).toHaveLength(1)
    expect(breaker[0]).toMatchObject({ Namespace: NAMESPACE, Statistic: "Maximum", Threshold: 1, EvaluationPeriods: 2 })
    expect(breaker[0]!.Dimensions).toEqual([{ Name: "Provider", Value: "salesforce" }])
    expect(policyArn(breaker[0]!)).toContain(topic)

    const deadLetters = ofType(resources, "AWS::CloudWatch::Alarm")
      .map(
        ([, a]) =>
          a.Properties as {
            Metrics?: Array<{ Expression?: string; MetricStat?: { Metric: { MetricName: string; Namespace: string } } }>
            AlarmActions: unknown
            EvaluationPeriods: number
            DatapointsToAlarm?: number
          }
      )
      .filter((a) => a.Metrics?.some((m) => m.Expression === "DIFF(deadLetters)"))
    expect(deadLetters).toHaveLength(1)
    // DIFF has a value only with the period before it in the evaluated range: two periods, one rise enough
    expect(deadLetters[0]).toMatchObject({ EvaluationPeriods: 2, DatapointsToAlarm: 1 })
    const source = deadLetters[0]!.Metrics!.find((m) => m.MetricStat)!.MetricStat!.Metric
    expect(source).toMatchObject({ MetricName: "DeadLetters", Namespace: NAMESPACE })
    expect(JSON.stringify(deadLetters[0]!.AlarmActions)).toContain(topic)
  })
})

describe("circuit breaker alarms, one per breaker the consumer runs", { timeout: SYNTH_TIMEOUT_MS }, () => {
  const breakerAlarms = (resources: Resources) =>
    ofType(resources, "AWS::CloudWatch::Alarm")
      .map(([, alarm]) => alarm.Properties as Record<string, unknown>)
      .filter((alarm) => alarm.MetricName === "CircuitBreakerOpen")
  const providers = (resources: Resources) =>
    breakerAlarms(resources).map((alarm) => (alarm.Dimensions as Array<{ Value: string }>)[0]!.Value)

  it("alarms on Bedrock's breaker with analyzer=BEDROCK and the enrichment provider's with ENRICHMENT_PROVIDER=HTTP", () => {
    const { resources } = synth({
      analyzer: "BEDROCK",
      bedrockModelId: "eu.anthropic.claude-haiku-4-5-20251001-v1:0",
      // the enrichment provider's key is read from the CRM secret
      crmSecretArn: CRM_SECRET_ARN,
      environment: { ENRICHMENT_PROVIDER: "HTTP" }
    })
    const topic = ofType(resources, "AWS::SNS::Topic")[0]![0]
    expect(providers(resources).sort()).toEqual(["bedrock", "enrichment", "mock"])
    for (const alarm of breakerAlarms(resources)) {
      expect(alarm).toMatchObject({
        Namespace: NAMESPACE,
        Statistic: "Maximum",
        Period: 60,
        Threshold: 1,
        EvaluationPeriods: 2,
        ComparisonOperator: "GreaterThanOrEqualToThreshold",
        TreatMissingData: "notBreaching"
      })
      expect(alarm.Dimensions).toHaveLength(1)
      expect(JSON.stringify(alarm.AlarmActions)).toContain(topic)
      expect(JSON.stringify(alarm.OKActions)).toContain(topic)
    }
  })

  it("alarms on each only when the stack selects it: the heuristic analyser and the mock enrichment table run none", () => {
    const http = { crmSecretArn: CRM_SECRET_ARN, environment: { ENRICHMENT_PROVIDER: "HTTP" } }
    expect(providers(synth(http).resources).sort()).toEqual(["enrichment", "mock"])
    const bedrock = { analyzer: "BEDROCK", bedrockModelId: "eu.anthropic.claude-haiku-4-5-20251001-v1:0" }
    expect(providers(synth({ ...bedrock, environment: { ENRICHMENT_PROVIDER: "MOCK" } }).resources).sort()).toEqual([
      "bedrock",
      "mock"
    ])
  })
})
