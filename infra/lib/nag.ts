import { Stack, Validations } from "aws-cdk-lib"
import type { IConstruct } from "constructs"
import { bedrockModel, type StackConfig } from "./config.js"
import type { Data } from "./data.js"
import type { RevenueFlowServerlessStack } from "./serverlessStack.js"
import type { RevenueFlowStack } from "./stack.js"

const acknowledge = (scope: IConstruct, id: string, reason: string) =>
  Validations.of(scope).acknowledge({ id: `AwsSolutions-${id}`, reason })

/** With a geographic inference profile, the consumer's role may invoke its model in the profile's Regions (any). */
const acknowledgeInferenceProfile = (role: IConstruct, config: StackConfig): void => {
  const { profile, foundationModel } = bedrockModel(config.bedrockModelId)
  if (config.analyzer !== "BEDROCK" || profile === undefined) return
  acknowledge(
    role,
    `IAM5[Resource::arn:<AWS::Partition>:bedrock:*::foundation-model/${foundationModel}]`,
    "A cross-Region inference profile routes each call to its model in one of the profile's Regions, which AWS extends over time: the one model, in any Region, and only through this profile (bedrock:InferenceProfileArn condition)"
  )
}

/**
 * The cdk-nag AwsSolutions findings this stack accepts on purpose, each on the one construct it concerns and with
 * its reason. Anything else the pack reports fails `npm run synth` and the infra tests.
 */
export const acknowledgeFindings = (stack: RevenueFlowStack, config: StackConfig): void => {
  const { network, data, services } = stack
  acknowledge(
    network.albSg!,
    "EC23",
    "The internet-facing load balancer is the public entry point: it accepts HTTP(S) from anywhere and forwards only to the ingest's port"
  )
  acknowledgeData(data, config)
  for (const task of [services.ingestTask, services.consumerTask]) {
    acknowledge(
      task,
      "ECS2",
      "Only non-secret settings are plain environment variables; every secret is read from Secrets Manager (AWS_SECRETS_IDS)"
    )
  }
  acknowledge(
    services.alb,
    "ELB2",
    "Requests are logged by the ingest itself (JSON lines in CloudWatch Logs) and counted in ALB metrics; access logs need a region-bound bucket policy this account-agnostic stack does not create"
  )
  if (config.tracing === "xray") {
    for (const task of [services.ingestTask, services.consumerTask]) {
      acknowledge(
        task.taskRole,
        "IAM5[Resource::*]",
        "xray:PutTraceSegments, PutTelemetryRecords, GetSamplingRules and GetSamplingTargets support no resource-level permission: AWS requires Resource *"
      )
    }
  }
  acknowledgeInferenceProfile(services.consumerTask.taskRole, config)
  if (config.ecrRepository !== undefined) {
    for (const task of [services.ingestTask, services.consumerTask]) {
      acknowledge(
        task.executionRole!,
        "IAM5[Resource::*]",
        "ecr:GetAuthorizationToken supports no resource-level permission; the image pull itself is scoped to the repository"
      )
    }
  }
}

/** The findings the serverless stack accepts, on the same terms. */
export const acknowledgeServerlessFindings = (stack: RevenueFlowServerlessStack, config: StackConfig): void => {
  const { data, functions } = stack
  acknowledgeData(data, config)
  for (const fn of [functions.ingest, functions.consumer, functions.sweep, functions.migrate]) {
    acknowledge(
      fn.role!,
      "IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole]",
      "A function in a VPC needs ec2:CreateNetworkInterface, DescribeNetworkInterfaces, DeleteNetworkInterface, ...: AWS's managed policy for exactly that (they accept no narrower resource); everything else is an inline statement on named resources"
    )
  }
  acknowledgeInferenceProfile(functions.consumer.role!, config)
  acknowledge(
    functions.api,
    "APIG4",
    "The ingest authenticates every request itself, as behind the load balancer: an API key (INGEST_API_KEYS, one generated at creation, so never open) or the webhook's signature / shared token; /healthz and /docs are public on purpose"
  )
}

/**
 * The id aws-cdk-lib gives the one function behind every LogRetention of a stack (aws-logs, LogRetention), which sets
 * the retention of the log groups RDS and the rotation function's Lambda create themselves (data.ts).
 */
export const LOG_RETENTION_FUNCTION_ID = "LogRetentionaae0aa3c5b4d4f87b02d85b201efdd8a"

/** Postgres, Redis and the secrets: the same in both variants. */
const acknowledgeData = (data: Data, config: StackConfig): void => {
  const logRetention = Stack.of(data).node.findChild(LOG_RETENTION_FUNCTION_ID)
  acknowledge(
    logRetention,
    "IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
    "aws-cdk-lib's log-retention function (a deploy-time custom resource) writes its own logs with AWS's basic execution policy; it is not configurable"
  )
  acknowledge(
    logRetention,
    "IAM5[Resource::*]",
    "aws-cdk-lib's log-retention function sets the retention of log groups others create (RDS's postgresql export, the rotation function's, and its own, whose name CloudFormation generates): logs:PutRetentionPolicy / DeleteRetentionPolicy only, on any group, added by the construct itself"
  )
  acknowledge(
    data.database,
    "RDS11",
    "A non-default port is obscurity, not control: only the task and rotation security groups can reach Postgres, in isolated subnets"
  )
  acknowledge(
    data.redis,
    "AEC5",
    "A non-default port is obscurity, not control: only the task security groups can reach Redis, in isolated subnets, with TLS and AUTH"
  )
  acknowledge(
    data.webhookSecret,
    "SMG4",
    "Issued by a third party (HubSpot, Marketo): rotated at the issuer, then written here; read by the ingest when it starts (README: Deploy to AWS)"
  )
  acknowledge(
    data.apiKeySecret,
    "SMG4",
    "API keys are handed to clients: rotated by adding a new key beside the old, moving every client, then removing the old (README: Deploy to AWS); a rotation function cannot move the clients"
  )
  acknowledge(
    data.legacyCrmSecret,
    "SMG4",
    "The CRM secret of earlier templates, kept unchanged for one release so that an upgrade does not delete it; CRM credentials are rotated at the issuer, then written (README: Deploy to AWS)"
  )
  for (const secret of [data.redisToken, data.redisUrlSecret]) {
    acknowledge(
      secret,
      "SMG4",
      "ElastiCache AUTH tokens have no managed rotation function: rotated with the ROTATE / SET strategy documented in the README (Deploy to AWS)"
    )
  }
  if (!config.multiAz) {
    const reason =
      "Single-AZ chosen explicitly with multiAz=false (a test or staging stack); production keeps the default, multi-AZ"
    acknowledge(data.database, "RDS3", reason)
    acknowledge(data.redis, "AEC4", reason)
  }
}
