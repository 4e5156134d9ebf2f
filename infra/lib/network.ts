import * as ec2 from "aws-cdk-lib/aws-ec2"
import * as logs from "aws-cdk-lib/aws-logs"
import { RemovalPolicy } from "aws-cdk-lib"
import { Construct } from "constructs"

/**
 * The VPC and its security groups. Public subnets hold only the load balancer (and the NAT gateways tasks reach
 * the CRM and AWS APIs through); tasks run in private subnets; RDS and Redis in isolated ones with no route out.
 * Every group starts with no egress, so the only paths are the ones granted here and by `connections` later:
 * internet -> ALB, ALB -> ingest, tasks -> RDS / Redis, tasks -> HTTPS out. The serverless variant has no load
 * balancer (API Gateway invokes the ingest function): no ALB group, and the function groups take no inbound at all.
 */
export class Network extends Construct {
  readonly vpc: ec2.Vpc
  /** The load balancer's group (Fargate variant only). */
  readonly albSg: ec2.SecurityGroup | undefined
  readonly ingestSg: ec2.SecurityGroup
  readonly consumerSg: ec2.SecurityGroup
  readonly dbSg: ec2.SecurityGroup
  readonly redisSg: ec2.SecurityGroup

  constructor(
    scope: Construct,
    id: string,
    props: { readonly natGateways: number; readonly https: boolean; readonly variant?: "fargate" | "serverless" }
  ) {
    super(scope, id)
    const flowLogs = new logs.LogGroup(this, "FlowLogs", {
      retention: logs.RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY
    })
    this.vpc = new ec2.Vpc(this, "Vpc", {
      maxAzs: 2,
      natGateways: props.natGateways,
      // the CDK would add a Lambda-backed custom resource to empty the default group; nothing here uses it
      restrictDefaultSecurityGroup: false,
      subnetConfiguration: [
        { name: "public", subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24, mapPublicIpOnLaunch: false },
        { name: "tasks", subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 22 },
        { name: "data", subnetType: ec2.SubnetType.PRIVATE_ISOLATED, cidrMask: 24 }
      ],
      flowLogs: { all: { destination: ec2.FlowLogDestination.toCloudWatchLogs(flowLogs) } }
    })
    const group = (name: string, description: string) =>
      new ec2.SecurityGroup(this, name, { vpc: this.vpc, description, allowAllOutbound: false })
    const serverless = props.variant === "serverless"
    this.albSg = serverless
      ? undefined
      : group("AlbSg", "RevenueFlow load balancer: HTTP(S) from the internet, to the ingest only")
    this.ingestSg = serverless
      ? group("IngestSg", "RevenueFlow ingest, sweep and migrate functions: no inbound")
      : group("IngestSg", "RevenueFlow ingest tasks: from the load balancer only")
    this.consumerSg = group("ConsumerSg", `RevenueFlow consumer ${serverless ? "function" : "tasks"}: no inbound`)
    this.dbSg = group("DatabaseSg", "RevenueFlow Postgres: from the tasks (and the rotation function) only")
    this.redisSg = group("RedisSg", "RevenueFlow Redis: from the tasks only")

    const ports = props.https ? [443, 80] : [80] // 80 only redirects when a certificate is given
    const albSg = this.albSg
    for (const port of albSg ? ports : []) {
      albSg?.addIngressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(port), `internet to the load balancer (${port})`)
    }
    // Tasks call the CRM, Bedrock, Secrets Manager and CloudWatch over HTTPS through the NAT gateway.
    for (const sg of [this.ingestSg, this.consumerSg]) {
      sg.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), "HTTPS to AWS APIs and the CRM")
    }
  }
}
