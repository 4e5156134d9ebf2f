import { Aws, Duration, RemovalPolicy, Size, Stack } from "aws-cdk-lib"
import * as ec2 from "aws-cdk-lib/aws-ec2"
import * as ecr from "aws-cdk-lib/aws-ecr"
import * as ecs from "aws-cdk-lib/aws-ecs"
import * as elbv2 from "aws-cdk-lib/aws-elasticloadbalancingv2"
import * as iam from "aws-cdk-lib/aws-iam"
import * as logs from "aws-cdk-lib/aws-logs"
import { Construct } from "constructs"
import { invokeModelStatements } from "./bedrock.js"
import { programSettings, type StackConfig } from "./config.js"
import { type Data, type ReadableSecret, readSecrets } from "./data.js"
import type { Network } from "./network.js"

const INGEST_PORT = 3000
const METRICS_PORT = 9464
/**
 * How long a starting task may take before its health checks count: it applies pending migrations before it answers,
 * which may wait for another task's migration (the advisory lock, up to 120 s) and then give way to long readers
 * (lock waits tried again for up to 2 minutes; layers/postgres/migrations.ts). ECS allows at most 300.
 */
const MIGRATION_START_SECONDS = 270
/** The collector sidecar's OTLP/HTTP receiver, on the task's own loopback. */
const COLLECTOR_ENDPOINT = "http://127.0.0.1:4318"

/** The ADOT collector's configuration: OTLP in, X-Ray out. */
const XRAY_COLLECTOR_CONFIG = `receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:4318
processors:
  batch: {}
exporters:
  awsxray: {}
service:
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [awsxray]
`

/**
 * The awslogs driver, pinned rather than left to the account's default mode. Non-blocking: a slow CloudWatch Logs
 * never stalls the program on a stdout write (the event loop would wait in blocking mode); the price is that lines
 * beyond the buffer are dropped, EMF metric lines included, which the scaling alarms then see as a gap. 25 MiB holds
 * minutes of the programs' output (an EMF line every 15 s, JSON log lines) while CloudWatch Logs is unreachable.
 */
const awsLogs = (streamPrefix: string, logGroup: logs.ILogGroup) =>
  ecs.LogDrivers.awsLogs({
    streamPrefix,
    logGroup,
    mode: ecs.AwsLogDriverMode.NON_BLOCKING,
    maxBufferSize: Size.mebibytes(25)
  })

/**
 * The ingest (behind the ALB) and the consumer as Fargate services in the private subnets, without public IPs.
 * Each task role may read only its own secrets (and the consumer may invoke only the configured model; the ingest
 * reads the CRM secret too with `mcpOnIngest`, for /mcp).
 */
export class Services extends Construct {
  readonly cluster: ecs.Cluster
  readonly alb: elbv2.ApplicationLoadBalancer
  readonly targetGroup: elbv2.ApplicationTargetGroup
  readonly ingest: ecs.FargateService
  readonly consumer: ecs.FargateService
  readonly ingestTask: ecs.FargateTaskDefinition
  readonly consumerTask: ecs.FargateTaskDefinition
  /** CloudWatch namespace of the programs' EMF metrics. */
  readonly metricsNamespace: string
  readonly queueName: string

  constructor(
    scope: Construct,
    id: string,
    props: { readonly config: StackConfig; readonly network: Network; readonly data: Data }
  ) {
    super(scope, id)
    const { config, network, data } = props
    const albSg = network.albSg
    if (albSg === undefined) throw new Error("Services: the network has no load balancer group (variant=serverless)")
    this.metricsNamespace = `RevenueFlow/${Stack.of(this).stackName}`
    this.queueName = config.environment.QUEUE_NAME ?? "lead-processing"

    this.cluster = new ecs.Cluster(this, "Cluster", {
      vpc: network.vpc,
      containerInsightsV2: ecs.ContainerInsights.ENABLED
    })

    const image =
      config.ecrRepository !== undefined
        ? ecs.ContainerImage.fromEcrRepository(
            ecr.Repository.fromRepositoryName(this, "Repository", config.ecrRepository),
            config.imageTag
          )
        : config.image !== undefined
          ? ecs.ContainerImage.fromRegistry(config.image)
          : undefined
    if (image === undefined) throw new Error("Services: no image (config.ts requires image or ecrRepository)")

    const common: Record<string, string> = {
      // first, so the stack's own wiring below always wins (config.ts also refuses the keys the stack sets)
      ...config.environment,
      // the AWS SDK (Secrets Manager, Bedrock) needs the region; the stack's own, resolved at deploy time
      AWS_REGION: Aws.REGION,
      ...programSettings(config),
      // several consumers: one breaker shared through Redis, not one per task
      CIRCUIT_BREAKER: "REDIS",
      CLOUDWATCH_METRICS: "EMF",
      CLOUDWATCH_NAMESPACE: this.metricsNamespace,
      ...(config.tracing === "xray" ? { OTEL_EXPORTER_OTLP_ENDPOINT: COLLECTOR_ENDPOINT } : {}),
      ...(config.tracing === "otlp" && config.otlpEndpoint ? { OTEL_EXPORTER_OTLP_ENDPOINT: config.otlpEndpoint } : {})
    }

    const task = (
      name: string,
      program: "ingest" | "consumer",
      size: StackConfig["ingest"],
      /** AWS_SECRETS_IDS, in order (a later secret wins a key two of them hold) */
      secrets: ReadonlyArray<ReadableSecret>,
      statements: ReadonlyArray<iam.PolicyStatement>
    ) => {
      const logGroup = new logs.LogGroup(this, `${name}Logs`, {
        retention: config.logRetentionDays as logs.RetentionDays,
        removalPolicy: RemovalPolicy.DESTROY
      })
      const taskRole: iam.Role = new iam.Role(this, `${name}TaskRole`, {
        assumedBy: new iam.ServicePrincipal("ecs-tasks.amazonaws.com"),
        description: `RevenueFlow ${program}: reads its own secrets${program === "consumer" && config.analyzer === "BEDROCK" ? ", invokes the configured model" : ""}`
      })
      // The programs read AWS_SECRETS_IDS themselves (and re-read them), so the task role, not the execution
      // role, needs the permission: GetSecretValue only, on exactly these secrets.
      for (const statement of statements) taskRole.addToPolicy(statement)
      const definition = new ecs.FargateTaskDefinition(this, `${name}Task`, {
        cpu: size.cpu,
        memoryLimitMiB: size.memoryMiB,
        taskRole,
        runtimePlatform: {
          cpuArchitecture: ecs.CpuArchitecture.X86_64,
          operatingSystemFamily: ecs.OperatingSystemFamily.LINUX
        }
      })
      const container = definition.addContainer(program, {
        image,
        command: [program],
        essential: true,
        environment: {
          ...common,
          AWS_SECRETS_IDS: secrets.map((secret) => secret.id).join(","),
          OTEL_SERVICE_NAME: `revenueflow-${program}`
        },
        logging: awsLogs(program, logGroup),
        // ECS ignores the image's HEALTHCHECK; this is the same probe
        healthCheck: {
          command: [
            "CMD",
            "node",
            "-e",
            `fetch('http://127.0.0.1:${program === "ingest" ? INGEST_PORT : METRICS_PORT}/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))`
          ],
          interval: Duration.seconds(15),
          timeout: Duration.seconds(5),
          // migrations must not get a starting task killed as unhealthy; a start that answers sooner (within a
          // second, as nearly every one does) counts as healthy then
          startPeriod: Duration.seconds(MIGRATION_START_SECONDS),
          retries: 3
        },
        // the program's drain on SIGTERM (config.ts, stopTimeouts)
        stopTimeout: Duration.seconds(config.stopTimeoutSeconds[program])
      })
      if (program === "ingest") container.addPortMappings({ containerPort: INGEST_PORT })
      if (config.tracing === "xray") {
        definition.addContainer("otel-collector", {
          image: ecs.ContainerImage.fromRegistry("public.ecr.aws/aws-observability/aws-otel-collector:v0.40.0"),
          essential: false,
          environment: { AOT_CONFIG_CONTENT: XRAY_COLLECTOR_CONFIG },
          logging: awsLogs("otel-collector", logGroup),
          memoryReservationMiB: 64
        })
        // X-Ray's trace-writing actions cannot be scoped to a resource (AWS supports only "*" for them).
        taskRole.addToPolicy(
          new iam.PolicyStatement({
            sid: "WriteTraces",
            actions: [
              "xray:PutTraceSegments",
              "xray:PutTelemetryRecords",
              "xray:GetSamplingRules",
              "xray:GetSamplingTargets"
            ],
            resources: ["*"]
          })
        )
      }
      return definition
    }

    const { database, redisUrl, webhooks, apiKeys } = data.readableSecrets()
    const crm = data.crmSecret
    // /mcp on the ingest builds the CRM client from the CRM secret: a statement of its own, so the widening shows.
    // The API-key secret, then the webhook secret, last: an INGEST_API_KEYS kept in the webhook secret (where stacks
    // deployed before the API-key secret existed hold their keys) wins over the generated one until it is moved;
    // a new stack's webhook secret has none. The CRM secret (yours) comes before both and replaces neither.
    const mcpCrm = config.mcpOnIngest && crm !== undefined ? [crm] : []
    this.ingestTask = task(
      "Ingest",
      "ingest",
      config.ingest,
      [database, redisUrl, ...mcpCrm, apiKeys, webhooks],
      [
        readSecrets("ReadOwnSecrets", [database, redisUrl, apiKeys, webhooks]),
        ...(mcpCrm.length > 0 ? [readSecrets("ReadCrmSecretForMcp", mcpCrm)] : [])
      ]
    )
    const ingestTask = this.ingestTask
    const consumerSecrets = [database, redisUrl, ...(crm === undefined ? [] : [crm])]
    this.consumerTask = task("Consumer", "consumer", config.consumer, consumerSecrets, [
      readSecrets("ReadOwnSecrets", consumerSecrets)
    ])
    const consumerTask = this.consumerTask
    if (config.analyzer === "BEDROCK") {
      for (const statement of invokeModelStatements(config.bedrockModelId))
        consumerTask.taskRole.addToPrincipalPolicy(statement)
    }

    const taskSubnets = { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS }
    this.ingest = new ecs.FargateService(this, "IngestService", {
      cluster: this.cluster,
      taskDefinition: ingestTask,
      desiredCount: config.ingest.minTasks,
      assignPublicIp: false,
      vpcSubnets: taskSubnets,
      securityGroups: [network.ingestSg],
      circuitBreaker: { rollback: true },
      minHealthyPercent: 100,
      // as the container's start period: the load balancer's checks fail until the migrations are applied
      healthCheckGracePeriod: Duration.seconds(MIGRATION_START_SECONDS)
    })
    this.consumer = new ecs.FargateService(this, "ConsumerService", {
      cluster: this.cluster,
      taskDefinition: consumerTask,
      desiredCount: config.consumer.minTasks,
      assignPublicIp: false,
      vpcSubnets: taskSubnets,
      securityGroups: [network.consumerSg],
      circuitBreaker: { rollback: true },
      minHealthyPercent: 100
    })

    // tasks -> Postgres and Redis; the connections API adds the matching egress on the task groups
    for (const service of [this.ingest, this.consumer]) {
      data.database.connections.allowDefaultPortFrom(service, "tasks to Postgres")
      network.redisSg.connections.allowFrom(service, ec2.Port.tcp(6379), "tasks to Redis")
    }
    if (config.tracing === "otlp" && config.otlpEndpoint) {
      const url = new URL(config.otlpEndpoint)
      const port = Number(url.port || (url.protocol === "https:" ? 443 : 80))
      for (const sg of [network.ingestSg, network.consumerSg]) {
        sg.addEgressRule(ec2.Peer.ipv4(network.vpc.vpcCidrBlock), ec2.Port.tcp(port), "OTLP traces to the collector")
      }
    }

    this.alb = new elbv2.ApplicationLoadBalancer(this, "Alb", {
      vpc: network.vpc,
      internetFacing: true,
      securityGroup: albSg,
      vpcSubnets: { subnetType: ec2.SubnetType.PUBLIC },
      dropInvalidHeaderFields: true,
      // shorter than the ingest's keep-alive (KEEP_ALIVE_TIMEOUT_MS, 65 s): the balancer closes an idle connection
      // first, so it never sends a request on one the ingest is closing (a 502 to the client)
      idleTimeout: Duration.seconds(60)
    })
    this.targetGroup = new elbv2.ApplicationTargetGroup(this, "IngestTargets", {
      vpc: network.vpc,
      port: INGEST_PORT,
      protocol: elbv2.ApplicationProtocol.HTTP,
      targetType: elbv2.TargetType.IP,
      healthCheck: { path: "/healthz", healthyHttpCodes: "200", interval: Duration.seconds(15) },
      // the ingest answers in-flight requests within SHUTDOWN_TIMEOUT_MS (10 s) of SIGTERM
      deregistrationDelay: Duration.seconds(15)
    })
    this.ingest.attachToApplicationTargetGroup(this.targetGroup)
    if (config.certificateArn) {
      this.alb.addListener("Https", {
        port: 443,
        protocol: elbv2.ApplicationProtocol.HTTPS,
        certificates: [elbv2.ListenerCertificate.fromArn(config.certificateArn)],
        sslPolicy: elbv2.SslPolicy.RECOMMENDED_TLS,
        defaultTargetGroups: [this.targetGroup],
        open: false
      })
      this.alb.addRedirect({ sourcePort: 80, targetPort: 443, open: false })
    } else {
      this.alb.addListener("Http", {
        port: 80,
        protocol: elbv2.ApplicationProtocol.HTTP,
        defaultTargetGroups: [this.targetGroup],
        open: false
      })
    }
  }
}
