import { Aws, Duration, Fn, RemovalPolicy } from "aws-cdk-lib"
import * as cloudwatch from "aws-cdk-lib/aws-cloudwatch"
import * as iam from "aws-cdk-lib/aws-iam"
import * as kms from "aws-cdk-lib/aws-kms"
import * as sns from "aws-cdk-lib/aws-sns"
import * as subscriptions from "aws-cdk-lib/aws-sns-subscriptions"
import type { Construct } from "constructs"
import type { StackConfig } from "./config.js"
import type { Data } from "./data.js"

const GiB = 1024 ** 3

/**
 * The SNS topic every alarm of a stack notifies (encrypted, TLS only), with the operator's e-mail when given.
 * CloudWatch must be able to deliver to it, which takes two grants a topic does not have by default:
 * - the key: a customer-managed one, since the policy of AWS's `aws/sns` key cannot be changed and does not let
 *   cloudwatch.amazonaws.com generate data keys with it (alarm actions to such a topic fail with KMS AccessDenied);
 * - the topic policy: once a topic has a policy (here, the TLS-only deny), SNS's default policy is gone, and
 *   CloudWatch's publish needs an Allow of its own.
 * Both only for this account's alarms (aws:SourceAccount), the topic's only for alarms of this Region.
 */
export const alarmTopic = (scope: Construct, config: StackConfig): sns.Topic => {
  const cloudwatchService = new iam.ServicePrincipal("cloudwatch.amazonaws.com")
  const ownAccount = { "aws:SourceAccount": Aws.ACCOUNT_ID }
  const key = new kms.Key(scope, "AlarmsKey", {
    description: "RevenueFlow alarm topic: encrypts the alarm notifications, usable by CloudWatch alarms",
    enableKeyRotation: true,
    // it protects notifications in flight only; nothing stays encrypted with it once the topic is gone
    removalPolicy: RemovalPolicy.DESTROY
  })
  key.addToResourcePolicy(
    new iam.PolicyStatement({
      sid: "CloudWatchAlarmsUseKey",
      principals: [cloudwatchService],
      actions: ["kms:Decrypt", "kms:GenerateDataKey*"],
      resources: ["*"], // in a key policy, "*" is this key
      conditions: { StringEquals: ownAccount }
    })
  )
  const topic = new sns.Topic(scope, "Alarms", {
    displayName: "RevenueFlow alarms",
    enforceSSL: true,
    masterKey: key
  })
  topic.addToResourcePolicy(
    new iam.PolicyStatement({
      sid: "CloudWatchAlarmsPublish",
      principals: [cloudwatchService],
      actions: ["sns:Publish"],
      resources: [topic.topicArn],
      conditions: {
        StringEquals: ownAccount,
        ArnLike: { "aws:SourceArn": `arn:${Aws.PARTITION}:cloudwatch:${Aws.REGION}:${Aws.ACCOUNT_ID}:alarm:*` }
      }
    })
  )
  if (config.alarmEmail) topic.addSubscription(new subscriptions.EmailSubscription(config.alarmEmail))
  return topic
}

/**
 * Alarms on the stores themselves, the same in both variants:
 * - Redis memory at 80 % on any node: with `noeviction` (BullMQ must not lose keys), a full Redis refuses writes,
 *   so enqueueing, rate limits, idempotency claims and the breaker all fail; 80 % leaves time to act;
 * - Postgres free storage below 10 % of the allocated storage (at least 2 GiB): storage autoscaling also acts at
 *   10 %, at most once in 6 hours and up to 5x, so an alarm that stays means the disk fills faster than that or
 *   has reached its limit.
 */
export const dataAlarms = (
  scope: Construct,
  props: { readonly config: StackConfig; readonly data: Data }
): ReadonlyArray<cloudwatch.Alarm> => {
  const { config, data } = props
  // a replication group's member clusters are <group id>-001, -002, …, each with the one node 0001
  const nodes = Array.from(
    { length: config.multiAz ? 2 : 1 },
    (_, i) =>
      new cloudwatch.Metric({
        namespace: "AWS/ElastiCache",
        metricName: "DatabaseMemoryUsagePercentage",
        dimensionsMap: { CacheClusterId: Fn.join("-", [data.redis.ref, `00${i + 1}`]), CacheNodeId: "0001" },
        statistic: cloudwatch.Stats.MAXIMUM,
        period: Duration.minutes(1)
      })
  )
  const redisMemory = new cloudwatch.Alarm(scope, "RedisMemory", {
    alarmDescription:
      "Redis uses 80 % of its memory for 5 minutes; with noeviction, a full Redis refuses every write (enqueue, limits, idempotency, breaker): clean failed jobs or take a larger redisNodeType",
    metric: new cloudwatch.MathExpression({
      expression: `MAX([${nodes.map((_, i) => `node${i}`).join(", ")}])`,
      usingMetrics: Object.fromEntries(nodes.map((metric, i) => [`node${i}`, metric])),
      label: "Redis memory used (%), the fullest node",
      period: Duration.minutes(1)
    }),
    threshold: 80,
    comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    evaluationPeriods: 5
  })
  const lowStorageGiB = Math.max(2, config.dbAllocatedStorageGiB / 10)
  const databaseStorage = new cloudwatch.Alarm(scope, "DatabaseStorageLow", {
    alarmDescription: `Postgres has less than ${lowStorageGiB} GiB free for 10 minutes: storage autoscaling is at its limit (5x dbAllocatedStorageGiB) or slower than the growth`,
    metric: data.database.metricFreeStorageSpace({ statistic: cloudwatch.Stats.MINIMUM, period: Duration.minutes(5) }),
    threshold: lowStorageGiB * GiB,
    comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
    evaluationPeriods: 2
  })
  return [redisMemory, databaseStorage]
}
