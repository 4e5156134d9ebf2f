import { join } from "node:path"
import { CfnOutput, Stack, type StackProps } from "aws-cdk-lib"
import type { Construct } from "constructs"
import type { StackConfig } from "./config.js"
import { Data } from "./data.js"
import { Functions } from "./functions.js"
import { Migrations } from "./migrations.js"
import { acknowledgeServerlessFindings } from "./nag.js"
import { Network } from "./network.js"
import { Queues } from "./queues.js"
import { ServerlessAlarms } from "./serverlessAlarms.js"

/**
 * RevenueFlow on Lambda (`-c variant=serverless`): HTTP API -> ingest function -> RDS Postgres + SQS -> consumer
 * function -> CRM, the outbox sweep on a schedule, migrations run by a custom resource at deploy time. The VPC, the
 * database, Redis (the consumer's shared rate limits, idempotency and breaker) and the secrets are the Fargate
 * stack's constructs; the queue is SQS instead of BullMQ. Offline and account-agnostic like the Fargate stack.
 */
export class RevenueFlowServerlessStack extends Stack {
  readonly network: Network
  readonly data: Data
  readonly queues: Queues
  readonly functions: Functions
  readonly migrations: Migrations
  readonly alarms: ServerlessAlarms

  constructor(scope: Construct, id: string, props: StackProps & { readonly config: StackConfig }) {
    super(scope, id, props)
    const { config } = props
    this.network = new Network(this, "Network", {
      natGateways: config.natGateways,
      https: false,
      variant: "serverless"
    })
    this.data = new Data(this, "Data", { config, network: this.network })
    this.queues = new Queues(this, "Queues", { config: config.serverless })
    this.functions = new Functions(this, "Functions", {
      config,
      network: this.network,
      data: this.data,
      queues: this.queues
    })
    this.migrations = new Migrations(this, "Migrations", {
      migrate: this.functions.migrate,
      bundleDir: join(config.serverless.bundles, "sweep"),
      logRetentionDays: config.logRetentionDays,
      // the rules letting the migrate function reach Postgres (and Secrets Manager) must exist before it runs
      after: [this.network.dbSg, this.network.ingestSg]
    })
    // new code takes traffic only once its migrations are in
    for (const fn of [this.functions.ingest, this.functions.consumer, this.functions.sweep]) {
      fn.node.addDependency(this.migrations.run)
    }
    this.alarms = new ServerlessAlarms(this, "Alarms", {
      config,
      queues: this.queues,
      functions: this.functions,
      data: this.data
    })
    acknowledgeServerlessFindings(this, config)

    new CfnOutput(this, "Url", { value: this.functions.stage.url })
    new CfnOutput(this, "HubSpotWebhookUrl", {
      description: "The URL to give HubSpot (and the one it signs, unless HUBSPOT_WEBHOOK_URL says otherwise)",
      value: `${this.functions.stage.url}webhooks/hubspot`
    })
    new CfnOutput(this, "MigrateFunctionName", {
      description: "Invoke to apply the migrations by hand (the deployment does it on its own)",
      value: this.functions.migrate.functionName
    })
    new CfnOutput(this, "QueueUrl", { value: this.queues.queue.queueUrl })
    new CfnOutput(this, "DeadLetterQueueUrl", { value: this.queues.deadLetters.queueUrl })
    if (this.data.crmSecret) new CfnOutput(this, "CrmSecretArn", { value: this.data.crmSecret.id })
    new CfnOutput(this, "LegacyCrmSecretArn", {
      description:
        "The CRM secret of earlier templates, kept for one release (a stack upgraded from them: pass it as crmSecretArn)",
      value: this.data.legacyCrmSecret.ref
    })
    new CfnOutput(this, "WebhookSecretArn", { value: this.data.webhookSecret.secretArn })
    new CfnOutput(this, "ApiKeySecretArn", {
      description:
        "INGEST_API_KEYS (the first key generated): read it with get-secret-value, add keys with put-secret-value",
      value: this.data.apiKeySecret.secretArn
    })
    new CfnOutput(this, "RedisReplicationGroupId", { value: this.data.redis.ref })
    new CfnOutput(this, "AlarmTopicArn", { value: this.alarms.alarmTopic.topicArn })
  }
}
