import { Duration } from "aws-cdk-lib"
import * as appscaling from "aws-cdk-lib/aws-applicationautoscaling"
import * as cloudwatch from "aws-cdk-lib/aws-cloudwatch"
import * as actions from "aws-cdk-lib/aws-cloudwatch-actions"
import * as kms from "aws-cdk-lib/aws-kms"
import * as sns from "aws-cdk-lib/aws-sns"
import * as subscriptions from "aws-cdk-lib/aws-sns-subscriptions"
import { Construct } from "constructs"
import type { StackConfig } from "./config.js"
import type { Services } from "./services.js"

/** The programs' EMF metric names (layers/observability/CloudWatchEmf.ts). */
export const MetricNames = {
  queueDepth: "QueueDepth",
  oldestWaitingJobAge: "OldestWaitingJobAgeSeconds",
  deadLetters: "DeadLetters",
  breakerOpen: "CircuitBreakerOpen"
} as const

/** The breaker's name in the programs is the CRM executor's provider, in lower case. */
const providerName = (crm: StackConfig["crmProvider"]) => crm.toLowerCase()

/**
 * Scaling and alarms. The consumer scales on the work waiting for it, which CPU does not show (a consumer waiting on
 * a slow CRM is idle yet behind): queue depth both ways, and the oldest waiting job's age outwards only, since that
 * is the latency a lead feels. The ingest is CPU-bound (see README "Performance"), so it scales on CPU, memory and
 * requests per task.
 */
export class Scaling extends Construct {
  readonly alarmTopic: sns.Topic
  readonly backlogAlarm: cloudwatch.Alarm
  readonly deadLettersAlarm: cloudwatch.Alarm
  readonly breakerAlarm: cloudwatch.Alarm

  constructor(scope: Construct, id: string, props: { readonly config: StackConfig; readonly services: Services }) {
    super(scope, id)
    const { config, services } = props
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
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING
    })
    this.breakerAlarm = new cloudwatch.Alarm(this, "CircuitBreakerOpen", {
      alarmDescription: `The ${providerName(config.crmProvider)} circuit breaker has been open for over a minute: the CRM is failing`,
      metric: metric(MetricNames.breakerOpen, { Provider: providerName(config.crmProvider) }),
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 2,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING
    })
    for (const alarm of [this.backlogAlarm, this.deadLettersAlarm, this.breakerAlarm]) {
      alarm.addAlarmAction(notify)
      alarm.addOkAction(notify)
    }
  }
}

/** The SNS topic every alarm of a stack notifies (encrypted, TLS only), with the operator's e-mail when given. */
export const alarmTopic = (scope: Construct, config: StackConfig): sns.Topic => {
  const topic = new sns.Topic(scope, "Alarms", {
    displayName: "RevenueFlow alarms",
    enforceSSL: true,
    masterKey: kms.Alias.fromAliasName(scope, "SnsKey", "alias/aws/sns")
  })
  if (config.alarmEmail) topic.addSubscription(new subscriptions.EmailSubscription(config.alarmEmail))
  return topic
}
