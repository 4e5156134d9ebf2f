import { Duration } from "aws-cdk-lib"
import * as cloudwatch from "aws-cdk-lib/aws-cloudwatch"
import * as actions from "aws-cdk-lib/aws-cloudwatch-actions"
import type * as lambda from "aws-cdk-lib/aws-lambda"
import type * as sns from "aws-cdk-lib/aws-sns"
import { Construct } from "constructs"
import { alarmTopic, breakerAlarms, dataAlarms, ingestServerErrors } from "./alarms.js"
import type { StackConfig } from "./config.js"
import type { Data } from "./data.js"
import type { Functions } from "./functions.js"
import type { Queues } from "./queues.js"

/**
 * The serverless variant's alarms: on AWS's own metrics (SQS and Lambda publish them) dead letters growing, the
 * oldest job's age, each function's errors and throttles, the HTTP API's 5xx and the stores' (./alarms.ts); on the
 * EMF lines the consumer writes after each batch, each of its circuit breakers open (as the Fargate stack's).
 * Lambda scales the consumer itself (up to consumerMaxConcurrency), so there is no scaling policy, only these signals.
 */
export class ServerlessAlarms extends Construct {
  readonly alarmTopic: sns.Topic
  readonly deadLetters: cloudwatch.Alarm
  readonly oldestMessage: cloudwatch.Alarm
  readonly functionAlarms: ReadonlyArray<cloudwatch.Alarm>
  readonly serverErrors: cloudwatch.Alarm
  /** Each breaker the consumer runs open, from the EMF lines it writes after each batch: the CRM's first. */
  readonly breakerAlarms: ReadonlyArray<cloudwatch.Alarm>
  readonly infrastructureAlarms: ReadonlyArray<cloudwatch.Alarm>

  constructor(
    scope: Construct,
    id: string,
    props: {
      readonly config: StackConfig
      readonly queues: Queues
      readonly functions: Functions
      readonly data: Data
    }
  ) {
    super(scope, id)
    const { config, queues, functions, data } = props
    this.alarmTopic = alarmTopic(this, config)
    const notify = new actions.SnsAction(this.alarmTopic)

    // On growth, not on a non-empty DLQ: it keeps letters 14 days, and an alarm already in ALARM sends nothing for
    // the next dead letter. As the Fargate stack's DeadLettersGrowing (scaling.ts).
    this.deadLetters = new cloudwatch.Alarm(this, "DeadLetters", {
      alarmDescription:
        "Dead letters grew in the last 5 minutes: a lead job reached the dead-letter queue, its lead FAILED after every attempt or a permanent error (GET /dead-letters lists them; replay one with POST /leads/{id}/replay once the cause is fixed)",
      metric: new cloudwatch.MathExpression({
        expression: "DIFF(deadLetters)",
        usingMetrics: {
          deadLetters: queues.deadLetters.metricApproximateNumberOfMessagesVisible({
            statistic: cloudwatch.Stats.MAXIMUM,
            period: Duration.minutes(5)
          })
        },
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
    const maxAge = config.maxWaitSeconds * 5
    this.oldestMessage = new cloudwatch.Alarm(this, "OldestMessage", {
      alarmDescription: `The oldest lead job has waited over ${maxAge} s for 5 minutes: the consumer is at its concurrency limit, throttled or failing (delayed jobs count too)`,
      metric: queues.queue.metricApproximateAgeOfOldestMessage({
        statistic: cloudwatch.Stats.MAXIMUM,
        period: Duration.minutes(1)
      }),
      threshold: maxAge,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 5,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING
    })
    const perFunction = (name: string, fn: lambda.Function) => [
      new cloudwatch.Alarm(this, `${name}Errors`, {
        alarmDescription: `The ${name.toLowerCase()} function failed invocations (an exception or a timeout, not a job's own failure)`,
        metric: fn.metricErrors({ statistic: cloudwatch.Stats.SUM, period: Duration.minutes(5) }),
        threshold: 0,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING
      }),
      new cloudwatch.Alarm(this, `${name}Throttles`, {
        alarmDescription: `The ${name.toLowerCase()} function was throttled (the account's or region's concurrency limit)`,
        metric: fn.metricThrottles({ statistic: cloudwatch.Stats.SUM, period: Duration.minutes(5) }),
        threshold: 0,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING
      })
    ]
    this.functionAlarms = [
      ...perFunction("Ingest", functions.ingest),
      ...perFunction("Consumer", functions.consumer),
      ...perFunction("Sweep", functions.sweep)
    ]
    // A lead refused with 503 is an answer of the function, not an error of it (IngestErrors stays quiet): the stage's
    // 5xx (AWS/ApiGateway `5xx`, ApiId and Stage) count it, with API Gateway's own (the function failed or timed out)
    this.serverErrors = ingestServerErrors(this, {
      metric: functions.stage.metricServerError(),
      source: "The HTTP API (the ingest function's answers, and API Gateway's own 502 / 504 when the function fails)"
    })
    this.breakerAlarms = breakerAlarms(
      this,
      config,
      (provider) =>
        new cloudwatch.Metric({
          namespace: functions.metricsNamespace,
          metricName: "CircuitBreakerOpen",
          dimensionsMap: { Provider: provider },
          // every concurrent instance writes its view of the shared (Redis) breaker: any one open counts
          statistic: cloudwatch.Stats.MAXIMUM,
          period: Duration.minutes(1)
        })
    )
    this.infrastructureAlarms = dataAlarms(this, { data })
    for (const alarm of [
      this.deadLetters,
      this.oldestMessage,
      ...this.functionAlarms,
      this.serverErrors,
      ...this.breakerAlarms,
      ...this.infrastructureAlarms
    ]) {
      alarm.addAlarmAction(notify)
      alarm.addOkAction(notify)
    }
  }
}
