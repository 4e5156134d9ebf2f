import { Duration } from "aws-cdk-lib"
import * as appscaling from "aws-cdk-lib/aws-applicationautoscaling"
import * as cloudwatch from "aws-cdk-lib/aws-cloudwatch"
import * as actions from "aws-cdk-lib/aws-cloudwatch-actions"
import * as elbv2 from "aws-cdk-lib/aws-elasticloadbalancingv2"
import type * as sns from "aws-cdk-lib/aws-sns"
import { Construct } from "constructs"
import { alarmTopic, breakerAlarms, dataAlarms, ingestServerErrors } from "./alarms.js"
import type { StackConfig } from "./config.js"
import type { Data } from "./data.js"
import type { Services } from "./services.js"

/** The programs' EMF metric names (layers/observability/CloudWatchEmf.ts). */
export const MetricNames = {
  queueDepth: "QueueDepth",
  oldestWaitingJobAge: "OldestWaitingJobAgeSeconds",
  deadLetters: "DeadLetters",
  breakerOpen: "CircuitBreakerOpen"
} as const

/**
 * Scaling and alarms. The consumer scales on the work waiting for it, which CPU does not show (a consumer waiting on
 * a slow CRM is idle yet behind): queue depth both ways (absolute depth, not depth per task), and the oldest waiting
 * job's age outwards only, since that is the latency a lead feels. The ingest is CPU-bound (see README
 * "Performance"), so it scales on CPU, memory and requests per task. Alarms: the programs' queue and breakers, the
 * stores (./alarms.ts), the load balancer and the ingest's 5xx.
 */
export class Scaling extends Construct {
  readonly alarmTopic: sns.Topic
  readonly backlogAlarm: cloudwatch.Alarm
  readonly deadLettersAlarm: cloudwatch.Alarm
  /** The CRM's breaker open. */
  readonly breakerAlarm: cloudwatch.Alarm
  /** Each breaker the consumer runs open (`breakerAlarms`): the CRM's first. */
  readonly breakerAlarms: ReadonlyArray<cloudwatch.Alarm>
  readonly infrastructureAlarms: ReadonlyArray<cloudwatch.Alarm>

  constructor(
    scope: Construct,
    id: string,
    props: { readonly config: StackConfig; readonly services: Services; readonly data: Data }
  ) {
    super(scope, id)
    const { config, services, data } = props
    const metric = (metricName: string, dimensionsMap: Record<string, string>, period = Duration.minutes(1)) =>
      new cloudwatch.Metric({
        namespace: services.metricsNamespace,
        metricName,
        dimensionsMap,
        // every replica publishes the same queue figures: the maximum is the truth, a sum would double them
        statistic: cloudwatch.Stats.MAXIMUM,
        period
      })
    const queue = { Queue: services.queueName }
    const queueDepth = metric(MetricNames.queueDepth, queue)
    const oldestAge = metric(MetricNames.oldestWaitingJobAge, queue)

    const consumer = services.consumer.autoScaleTaskCount({
      minCapacity: config.consumer.minTasks,
      maxCapacity: config.consumer.maxTasks
    })
    consumer.scaleOnMetric("QueueDepth", {
      metric: queueDepth,
      adjustmentType: appscaling.AdjustmentType.CHANGE_IN_CAPACITY,
      scalingSteps: [
        { upper: 0, change: -1 },
        { lower: config.backlogPerTask, change: +1 },
        { lower: config.backlogPerTask * 5, change: +3 },
        { lower: config.backlogPerTask * 20, change: +5 }
      ],
      evaluationPeriods: 2,
      cooldown: Duration.seconds(60)
    })
    consumer.scaleOnMetric("OldestWaitingJobAge", {
      metric: oldestAge,
      adjustmentType: appscaling.AdjustmentType.CHANGE_IN_CAPACITY,
      scalingSteps: [
        { upper: config.maxWaitSeconds, change: 0 },
        { lower: config.maxWaitSeconds, change: +2 },
        { lower: config.maxWaitSeconds * 5, change: +4 }
      ],
      cooldown: Duration.seconds(60)
    })

    const ingest = services.ingest.autoScaleTaskCount({
      minCapacity: config.ingest.minTasks,
      maxCapacity: config.ingest.maxTasks
    })
    ingest.scaleOnCpuUtilization("Cpu", { targetUtilizationPercent: 60 })
    ingest.scaleOnMemoryUtilization("Memory", { targetUtilizationPercent: 75 })
    ingest.scaleOnRequestCount("Requests", {
      requestsPerTarget: config.requestsPerTarget,
      targetGroup: services.targetGroup
    })

    this.alarmTopic = alarmTopic(this, config)
    const notify = new actions.SnsAction(this.alarmTopic)

    this.backlogAlarm = new cloudwatch.Alarm(this, "Backlog", {
      alarmDescription: `The oldest waiting lead has waited over ${config.maxWaitSeconds * 5} s for 5 minutes: consumers at their maximum, or stuck`,
      metric: oldestAge,
      threshold: config.maxWaitSeconds * 5,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 5,
      treatMissingData: cloudwatch.TreatMissingData.BREACHING
    })
    this.deadLettersAlarm = new cloudwatch.Alarm(this, "DeadLettersGrowing", {
      alarmDescription:
        "Dead letters grew in the last 5 minutes: leads FAILED after every attempt (replay with the CLI)",
      metric: new cloudwatch.MathExpression({
        expression: "DIFF(deadLetters)",
        usingMetrics: { deadLetters: metric(MetricNames.deadLetters, queue, Duration.minutes(5)) },
        label: "dead letters added",
        period: Duration.minutes(5)
      }),
      threshold: 0,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      // DIFF needs the period before the one it reports: evaluating two periods fetches it, and one rise suffices
      evaluationPeriods: 2,
      datapointsToAlarm: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING
    })
    this.breakerAlarms = breakerAlarms(this, config, (provider) =>
      metric(MetricNames.breakerOpen, { Provider: provider })
    )
    this.breakerAlarm = this.breakerAlarms[0]!
    this.infrastructureAlarms = [
      ...dataAlarms(this, { data }),
      new cloudwatch.Alarm(this, "UnhealthyIngest", {
        alarmDescription:
          "The load balancer has counted an unhealthy ingest task for 3 minutes (GET /healthz failing): tasks crashing or not starting",
        metric: services.targetGroup.metrics.unhealthyHostCount({
          statistic: cloudwatch.Stats.MAXIMUM,
          period: Duration.minutes(1)
        }),
        threshold: 0,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 3,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING
      }),
      new cloudwatch.Alarm(this, "LoadBalancer5xx", {
        alarmDescription:
          "The load balancer itself answered 5xx more than 10 times in 5 minutes (502 / 503 / 504: no healthy ingest, or tasks closing connections)",
        metric: services.alb.metrics.httpCodeElb(elbv2.HttpCodeElb.ELB_5XX_COUNT, {
          statistic: cloudwatch.Stats.SUM,
          period: Duration.minutes(5)
        }),
        threshold: 10,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING
      }),
      // the tasks' own 5xx, which neither alarm above sees: a 503 of a task is no load balancer error, and the task
      // stays healthy (/healthz is liveness)
      ingestServerErrors(this, {
        metric: services.targetGroup.metrics.httpCodeTarget(elbv2.HttpCodeTarget.TARGET_5XX_COUNT),
        source: "The ingest tasks (behind the load balancer)"
      })
    ]
    for (const alarm of [
      this.backlogAlarm,
      this.deadLettersAlarm,
      ...this.breakerAlarms,
      ...this.infrastructureAlarms
    ]) {
      alarm.addAlarmAction(notify)
      alarm.addOkAction(notify)
    }
  }
}
