import { CfnOutput, Stack, type StackProps } from "aws-cdk-lib"
import type { Construct } from "constructs"
import type { StackConfig } from "./config.js"
import { Data } from "./data.js"
import { acknowledgeFindings } from "./nag.js"
import { Network } from "./network.js"
import { Scaling } from "./scaling.js"
import { Services } from "./services.js"

/**
 * RevenueFlow in production: ALB -> ingest (Fargate) -> RDS Postgres + ElastiCache Redis (BullMQ) -> consumer
 * (Fargate) -> CRM, with secrets in Secrets Manager, scaling on the programs' queue metrics and alarms.
 * Environment-agnostic (no account / region, no look-ups), so `cdk synth` needs neither credentials nor network.
 */
export class RevenueFlowStack extends Stack {
  readonly network: Network
  readonly data: Data
  readonly services: Services
  readonly scaling: Scaling

  constructor(scope: Construct, id: string, props: StackProps & { readonly config: StackConfig }) {
    super(scope, id, props)
    const { config } = props
    this.network = new Network(this, "Network", {
      natGateways: config.natGateways,
      https: config.certificateArn !== undefined
    })
    this.data = new Data(this, "Data", { config, network: this.network })
    this.services = new Services(this, "Services", { config, network: this.network, data: this.data })
    this.scaling = new Scaling(this, "Scaling", { config, services: this.services, data: this.data })
    acknowledgeFindings(this, config)

    new CfnOutput(this, "Url", {
      value: `${config.certificateArn ? "https" : "http"}://${this.services.alb.loadBalancerDnsName}`
    })
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
    new CfnOutput(this, "AlarmTopicArn", { value: this.scaling.alarmTopic.topicArn })
    new CfnOutput(this, "RedisReplicationGroupId", {
      description: "For the AUTH token rotation (aws elasticache modify-replication-group --replication-group-id …)",
      value: this.data.redis.ref
    })
    // what `aws ecs run-task` needs to run the CLI (replay, stats, migrate) in the VPC, beside the stores
    new CfnOutput(this, "ClusterName", { value: this.services.cluster.clusterName })
    new CfnOutput(this, "ConsumerTaskDefinitionArn", { value: this.services.consumerTask.taskDefinitionArn })
    new CfnOutput(this, "TaskSubnetIds", {
      value: this.network.vpc.privateSubnets.map((subnet) => subnet.subnetId).join(",")
    })
    new CfnOutput(this, "ConsumerSecurityGroupId", { value: this.network.consumerSg.securityGroupId })
  }
}
