import { join } from "node:path"
import { Duration, RemovalPolicy, Stack } from "aws-cdk-lib"
import * as apigw from "aws-cdk-lib/aws-apigateway"
import * as apigwv2 from "aws-cdk-lib/aws-apigatewayv2"
import { HttpLambdaIntegration } from "aws-cdk-lib/aws-apigatewayv2-integrations"
import * as ec2 from "aws-cdk-lib/aws-ec2"
import * as events from "aws-cdk-lib/aws-events"
import * as targets from "aws-cdk-lib/aws-events-targets"
import * as iam from "aws-cdk-lib/aws-iam"
import * as lambda from "aws-cdk-lib/aws-lambda"
import { SqsEventSource } from "aws-cdk-lib/aws-lambda-event-sources"
import * as logs from "aws-cdk-lib/aws-logs"
import { Construct } from "constructs"
import { invokeModelStatements } from "./bedrock.js"
import { programSettings, type StackConfig } from "./config.js"
import { type Data, type ReadableSecret, readSecrets } from "./data.js"
import type { Network } from "./network.js"
import type { Queues } from "./queues.js"

/** What the functions' VPC attachment needs from EC2 (ENIs); AWS maintains the list. */
export const VPC_ACCESS_POLICY = "service-role/AWSLambdaVPCAccessExecutionRole"

/** What the bundles hold besides what runs: source maps and esbuild's metafile. */
export const BUNDLE_EXCLUDE = ["*.map", "meta.json"]

/** The HTTP API's access log line (HTTP API $context variables only). */
const ACCESS_LOG = JSON.stringify({
  requestId: "$context.requestId",
  ip: "$context.identity.sourceIp",
  time: "$context.requestTime",
  method: "$context.httpMethod",
  path: "$context.path",
  status: "$context.status",
  responseLength: "$context.responseLength",
  latencyMs: "$context.responseLatency",
  integrationError: "$context.integrationErrorMessage"
})

interface FunctionOptions {
  readonly bundle: "ingest" | "consumer" | "sweep"
  readonly description: string
  readonly memoryMiB: number
  readonly timeout: Duration
  readonly securityGroup: ec2.ISecurityGroup
  /** AWS_SECRETS_IDS, in order (a later secret wins a key two of them hold) */
  readonly secrets: ReadonlyArray<ReadableSecret>
  readonly environment: Readonly<Record<string, string>>
  readonly reservedConcurrency?: number | undefined
}

/**
 * The handlers of `revenueflow/lambda` as functions (Node.js 24, the bundles of `npm run build:bundles`), all in the
 * private subnets since all of them reach Postgres:
 * - ingest behind an HTTP API (payload 2.0, $default stage: the Host header and raw path are the public URL HubSpot
 *   signs), throttled and access-logged at the stage;
 * - consumer on the SQS queue (ReportBatchItemFailures, bounded concurrency);
 * - sweep on an EventBridge schedule;
 * - migrate: the sweep bundle with MIGRATE_ON_START=true, invoked at deploy time (see migrations.ts).
 * Each has its own role: its log group, GetSecretValue on its own secrets, SQS actions on the stack's queues only.
 */
export class Functions extends Construct {
  readonly ingest: lambda.Function
  readonly consumer: lambda.Function
  readonly sweep: lambda.Function
  readonly migrate: lambda.Function
  readonly api: apigwv2.HttpApi
  readonly stage: apigwv2.HttpStage
  readonly schedule: events.Rule
  /** Where the consumer's EMF lines put its breakers' states (CircuitBreakerOpen by Provider), as the Fargate tasks'. */
  readonly metricsNamespace: string

  constructor(
    scope: Construct,
    id: string,
    props: { readonly config: StackConfig; readonly network: Network; readonly data: Data; readonly queues: Queues }
  ) {
    super(scope, id)
    const { config, network, data, queues } = props
    const s = config.serverless
    this.metricsNamespace = `RevenueFlow/${Stack.of(this).stackName}`

    const common: Record<string, string> = {
      // first, so the stack's own settings below always win (config.ts also refuses the keys the stack sets), as in
      // the Fargate tasks (services.ts)
      ...config.environment,
      ...programSettings(config),
      SWEEP_INTERVAL_MS: String(s.sweepIntervalMinutes * 60_000),
      ...(config.tracing === "otlp" && config.otlpEndpoint ? { OTEL_EXPORTER_OTLP_ENDPOINT: config.otlpEndpoint } : {}),
      // the handlers' defaults, spelled out, and the queues this stack created
      QUEUE_BACKEND: "SQS",
      MIGRATE_ON_START: "false",
      SQS_QUEUE_URL: queues.queue.queueUrl,
      SQS_DLQ_URL: queues.deadLetters.queueUrl
    }

    const fn = (name: string, options: FunctionOptions) => {
      const logGroup = new logs.LogGroup(this, `${name}Logs`, {
        retention: config.logRetentionDays as logs.RetentionDays,
        removalPolicy: RemovalPolicy.DESTROY
      })
      // An explicit role: the CDK's default would add AWSLambdaBasicExecutionRole (logs on every group)
      const role = new iam.Role(this, `${name}Role`, {
        assumedBy: new iam.ServicePrincipal("lambda.amazonaws.com"),
        description: `RevenueFlow ${name.toLowerCase()} function: ${options.description}`,
        managedPolicies: [iam.ManagedPolicy.fromAwsManagedPolicyName(VPC_ACCESS_POLICY)]
      })
      logGroup.grantWrite(role)
      role.addToPolicy(readSecrets("ReadOwnSecrets", options.secrets))
      return new lambda.Function(this, name, {
        description: `RevenueFlow ${name.toLowerCase()}: ${options.description}`,
        runtime: lambda.Runtime.NODEJS_24_X,
        // the bundles are plain JavaScript (no native module): Graviton is the cheaper choice
        architecture: lambda.Architecture.ARM_64,
        handler: "index.handler",
        code: lambda.Code.fromAsset(join(s.bundles, options.bundle), { exclude: BUNDLE_EXCLUDE }),
        memorySize: options.memoryMiB,
        timeout: options.timeout,
        role,
        logGroup,
        vpc: network.vpc,
        vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
        securityGroups: [options.securityGroup],
        ...(options.reservedConcurrency === undefined
          ? {}
          : { reservedConcurrentExecutions: options.reservedConcurrency }),
        environment: {
          ...common,
          ...options.environment,
          AWS_SECRETS_IDS: options.secrets.map((secret) => secret.id).join(",")
        }
      })
    }

    const { database, redisUrl, webhooks, apiKeys } = data.readableSecrets()
    this.ingest = fn("Ingest", {
      bundle: "ingest",
      description: "POST /leads and the webhooks, behind the HTTP API",
      memoryMiB: s.ingestMemoryMiB,
      // API Gateway gives up on an integration after 30 s
      timeout: Duration.seconds(20),
      securityGroup: network.ingestSg,
      // the webhook secret after the API-key secret: an INGEST_API_KEYS kept there (stacks deployed before the
      // API-key secret existed) wins over the generated key until it is moved; a new stack's has none
      secrets: [database, apiKeys, webhooks],
      // one request at a time per instance: a small pool each, many instances (as many as reserved concurrency lets)
      environment: { DATABASE_POOL_SIZE: "2", OTEL_SERVICE_NAME: "revenueflow-ingest" },
      reservedConcurrency: s.ingestReservedConcurrency
    })
    this.consumer = fn("Consumer", {
      bundle: "consumer",
      description: "processes the SQS lead jobs",
      memoryMiB: s.consumerMemoryMiB,
      timeout: Duration.seconds(s.consumerTimeoutSeconds),
      securityGroup: network.consumerSg,
      // Redis: one rate limit, idempotency fast path and breaker shared by every concurrent instance
      secrets: [database, redisUrl, ...(data.crmSecret === undefined ? [] : [data.crmSecret])],
      environment: {
        CIRCUIT_BREAKER: "REDIS",
        // each batch ends with the breakers' states as EMF lines, which the breaker alarms read
        CLOUDWATCH_METRICS: "EMF",
        CLOUDWATCH_NAMESPACE: this.metricsNamespace,
        DATABASE_POOL_SIZE: String(config.workerConcurrency),
        OTEL_SERVICE_NAME: "revenueflow-consumer"
      }
    })
    const sweepOptions = {
      bundle: "sweep",
      memoryMiB: 512,
      securityGroup: network.ingestSg,
      secrets: [database]
    } as const
    this.sweep = fn("Sweep", {
      ...sweepOptions,
      description: "the outbox sweep, on a schedule",
      timeout: Duration.seconds(60),
      environment: { DATABASE_POOL_SIZE: "2", OTEL_SERVICE_NAME: "revenueflow-sweep" }
    })
    this.migrate = fn("Migrate", {
      ...sweepOptions,
      description: "applies the migrations (then sweeps once), invoked at deploy time",
      timeout: Duration.minutes(5),
      environment: { DATABASE_POOL_SIZE: "2", OTEL_SERVICE_NAME: "revenueflow-migrate", MIGRATE_ON_START: "true" }
    })

    // functions -> Postgres (and the consumer -> Redis); the connections API adds the matching egress
    data.database.connections.allowDefaultPortFrom(network.ingestSg, "ingest, sweep and migrate functions to Postgres")
    data.database.connections.allowDefaultPortFrom(network.consumerSg, "consumer function to Postgres")
    network.redisSg.connections.allowFrom(network.consumerSg, ec2.Port.tcp(6379), "consumer function to Redis")
    if (config.tracing === "otlp" && config.otlpEndpoint) {
      const url = new URL(config.otlpEndpoint)
      const port = Number(url.port || (url.protocol === "https:" ? 443 : 80))
      for (const sg of [network.ingestSg, network.consumerSg]) {
        sg.addEgressRule(ec2.Peer.ipv4(network.vpc.vpcCidrBlock), ec2.Port.tcp(port), "OTLP traces to the collector")
      }
    }

    // SQS, what layers/sqs/JobQueue.ts calls for each handler (test/sqsGrants.test.ts drives it against these
    // grants), on these two queues only:
    // - ingest, sweep and migrate send (enqueue; GetQueueAttributes is the ingest's queue stats);
    // - the ingest also replays a dead letter (POST /leads/{id}/replay, a corrected resubmission of a FAILED lead):
    //   receives from the DLQ, makes the letters it passes over visible again, deletes the one it re-sent; and
    //   counts the DLQ for /readyz, /ops/state and its metrics;
    // - the consumer: its event source receives and deletes, the handler sends a delayed job again as a fresh message
    //   (a delivery kept for a delay would spend a receive; hidden by ChangeMessageVisibility when that send fails),
    //   reads the redrive policy (GetQueueAttributes) and moves permanent failures to the DLQ.
    for (const sender of [this.ingest, this.sweep, this.migrate, this.consumer]) queues.queue.grantSendMessages(sender)
    queues.deadLetters.grant(
      this.ingest,
      "sqs:ReceiveMessage",
      "sqs:ChangeMessageVisibility",
      "sqs:DeleteMessage",
      "sqs:GetQueueAttributes"
    )
    this.consumer.addEventSource(
      new SqsEventSource(queues.queue, {
        batchSize: s.batchSize,
        ...(s.maxBatchingWindowSeconds > 0 ? { maxBatchingWindow: Duration.seconds(s.maxBatchingWindowSeconds) } : {}),
        reportBatchItemFailures: true,
        maxConcurrency: s.maxConcurrency
      })
    )
    queues.deadLetters.grantSendMessages(this.consumer)
    if (config.analyzer === "BEDROCK") {
      for (const statement of invokeModelStatements(config.bedrockModelId)) this.consumer.addToRolePolicy(statement)
    }

    this.api = new apigwv2.HttpApi(this, "Api", {
      description: "RevenueFlow ingest (POST /leads, webhooks, /docs): every route to the ingest function",
      createDefaultStage: false,
      defaultIntegration: new HttpLambdaIntegration("Ingest", this.ingest, {
        payloadFormatVersion: apigwv2.PayloadFormatVersion.VERSION_2_0
      })
    })
    const accessLogs = new logs.LogGroup(this, "ApiAccessLogs", {
      retention: config.logRetentionDays as logs.RetentionDays,
      removalPolicy: RemovalPolicy.DESTROY
    })
    this.stage = this.api.addStage("Stage", {
      stageName: "$default",
      autoDeploy: true,
      throttle: { rateLimit: s.apiRateLimit, burstLimit: s.apiBurstLimit },
      accessLogSettings: {
        destination: new apigwv2.LogGroupLogDestination(accessLogs),
        format: apigw.AccessLogFormat.custom(ACCESS_LOG)
      }
    })

    this.schedule = new events.Rule(this, "SweepSchedule", {
      description: "RevenueFlow outbox sweep: re-enqueues leads left RECEIVED / QUEUED",
      schedule: events.Schedule.rate(Duration.minutes(s.sweepIntervalMinutes)),
      // a failed sweep is simply the next tick's work
      targets: [new targets.LambdaFunction(this.sweep, { retryAttempts: 0 })]
    })
  }
}
