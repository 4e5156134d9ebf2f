import { Aws, Duration, Fn, RemovalPolicy } from "aws-cdk-lib"
import * as cloudwatch from "aws-cdk-lib/aws-cloudwatch"
import * as iam from "aws-cdk-lib/aws-iam"
import * as kms from "aws-cdk-lib/aws-kms"
import type * as rds from "aws-cdk-lib/aws-rds"
import * as sns from "aws-cdk-lib/aws-sns"
import * as subscriptions from "aws-cdk-lib/aws-sns-subscriptions"
import type { Construct } from "constructs"
import { BEDROCK_BREAKER, consumerBreakers, ENRICHMENT_BREAKER } from "../../src/domain/breakers.js"
import type { StackConfig } from "./config.js"
import type { Data } from "./data.js"

const GiB = 1024 ** 3
/** The storage alarm's threshold, a fraction of the first allocation: half of storage autoscaling's 10 % trigger. */
const LOW_STORAGE_FRACTION = 0.05

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
 * - Postgres free storage below 5 % of the instance's allocated storage for 15 minutes. Storage autoscaling acts
 *   when less than 10 % of the *current* allocation is free (for 5 minutes, at most once in 6 hours, up to the
 *   maximum), and the allocation only grows, so 5 % of the first one is below its trigger at every size: a routine
 *   increase never raises the alarm. It fires when autoscaling did not act in time: the maximum is reached, the
 *   last increase was less than 6 hours ago, or the disk fills faster than an increase completes.
 */
export const dataAlarms = (scope: Construct, props: { readonly data: Data }): ReadonlyArray<cloudwatch.Alarm> => {
  const { data } = props
  // a replication group's member clusters are <group id>-001, -002, …, each with the one node 0001: as many as the
  // group has (read from it, so the alarm follows any change of the group)
  const clusters = data.redis.numCacheClusters
  if (clusters === undefined) throw new Error("dataAlarms: the Redis replication group sets no numCacheClusters")
  const nodes = Array.from(
    { length: clusters },
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
  // the instance's own allocation and autoscaling bound, read from it
  const instance = data.database.node.defaultChild as rds.CfnDBInstance
  const allocatedGiB = Number(instance.allocatedStorage)
  const maxGiB = instance.maxAllocatedStorage
  if (!(allocatedGiB > 0) || maxGiB === undefined)
    throw new Error("dataAlarms: the Postgres instance sets no allocatedStorage / maxAllocatedStorage")
  const lowStorageGiB = allocatedGiB * LOW_STORAGE_FRACTION
  const databaseStorage = new cloudwatch.Alarm(scope, "DatabaseStorageLow", {
    alarmDescription: `Postgres has less than ${lowStorageGiB} GiB free for 15 minutes, half of what makes storage autoscaling act (10 % free): it did not act in time. Either the storage is at its maximum (${maxGiB} GiB: free space, or raise dbAllocatedStorageGiB to 10 % or more above the current allocation; the maximum is 5x it), the last increase was less than 6 hours ago, or the disk fills faster than an increase completes`,
    metric: data.database.metricFreeStorageSpace({ statistic: cloudwatch.Stats.MINIMUM, period: Duration.minutes(5) }),
    threshold: lowStorageGiB * GiB,
    comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
    // longer than autoscaling's own 5 minutes plus the time an increase takes to apply
    evaluationPeriods: 3
  })
  return [redisMemory, databaseStorage]
}

/** Ingest 5xx in each of this many consecutive minutes raise IngestServerErrors. */
const SERVER_ERROR_MINUTES = 2
/** At least this many 5xx a minute count toward it. */
const SERVER_ERRORS_PER_MINUTE = 2

/**
 * 5xx answered to the ingest's clients (`metric`, a count), the one sign of a lead store outage both variants have:
 * Postgres not answering, the ingest refuses every lead with 503 while its liveness check (/healthz) passes, nothing
 * is queued and no function fails. At least 2 a minute, 2 minutes running: an outage refuses every lead, so any stack
 * taking a lead every 30 s or more often pages within 2 minutes of it (a Multi-AZ failover too, 1 to 2 minutes of
 * refusals), while one failing request, or a client's retry of it a minute later, never does. Sum per minute, no
 * data (no 5xx at all) counting as fine.
 */
export const ingestServerErrors = (
  scope: Construct,
  props: { readonly metric: cloudwatch.Metric; readonly source: string }
): cloudwatch.Alarm =>
  new cloudwatch.Alarm(scope, "IngestServerErrors", {
    alarmDescription: `${props.source} answered 5xx at least ${SERVER_ERRORS_PER_MINUTE} times a minute for ${SERVER_ERROR_MINUTES} minutes. 503: the lead store (Postgres) is not answering and every lead is refused (check the database: RDS events, connections, a failover); 500: a defect (the ingest's logs)`,
    metric: props.metric.with({ statistic: cloudwatch.Stats.SUM, period: Duration.minutes(1) }),
    threshold: SERVER_ERRORS_PER_MINUTE,
    comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    evaluationPeriods: SERVER_ERROR_MINUTES,
    datapointsToAlarm: SERVER_ERROR_MINUTES,
    treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING
  })

/** What a breaker's opening means to an operator, and its alarm's id, by its name (src/domain/breakers.ts). */
const breakerMeaning: Readonly<Record<string, string>> = {
  [ENRICHMENT_BREAKER]: "the HTTP enrichment provider is failing (5xx, timeouts); leads that need enrichment wait",
  [BEDROCK_BREAKER]: "Bedrock is failing (5xx, timeouts); leads that need an analysis wait"
}
const breakerAlarmId: Readonly<Record<string, string>> = {
  [ENRICHMENT_BREAKER]: "EnrichmentCircuitBreakerOpen",
  [BEDROCK_BREAKER]: "BedrockCircuitBreakerOpen"
}

/**
 * One alarm per circuit breaker the consumer runs with this configuration (src/domain/breakers.ts names them, as the
 * programs' EMF lines do in the Provider dimension of CircuitBreakerOpen): open over two minutes of samples. The CRM's
 * comes first and keeps the alarm's first id, so a stack deployed before the others keeps its alarm. `openMetric`
 * is the CircuitBreakerOpen metric of one provider in the stack's namespace (Maximum over a minute: any replica's
 * breaker open counts).
 */
export const breakerAlarms = (
  scope: Construct,
  config: Pick<StackConfig, "crmProvider" | "analyzer" | "environment">,
  openMetric: (provider: string) => cloudwatch.IMetric
): ReadonlyArray<cloudwatch.Alarm> =>
  consumerBreakers({
    crmProvider: config.crmProvider,
    enrichmentProvider: config.environment.ENRICHMENT_PROVIDER,
    analyzer: config.analyzer
  }).map((provider, i) => {
    const [id, meaning] =
      i === 0 ? ["CircuitBreakerOpen", "the CRM is failing"] : [breakerAlarmId[provider]!, breakerMeaning[provider]!]
    return new cloudwatch.Alarm(scope, id, {
      alarmDescription: `The ${provider} circuit breaker has been open for over a minute: ${meaning}`,
      metric: openMetric(provider),
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 2,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING
    })
  })
