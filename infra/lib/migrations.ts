import { CustomResource, Duration, FileSystem, RemovalPolicy } from "aws-cdk-lib"
import * as iam from "aws-cdk-lib/aws-iam"
import * as lambda from "aws-cdk-lib/aws-lambda"
import * as logs from "aws-cdk-lib/aws-logs"
import { Construct, type IDependable } from "constructs"
import { BUNDLE_EXCLUDE } from "./functions.js"

/**
 * CloudFormation's custom-resource handler: invokes the migrate function and reports its outcome. It retries a
 * failed run (the database password may be mid-rotation on a first deploy; migrations are idempotent under an
 * advisory lock), and always answers, so a failure fails the deployment instead of hanging it for an hour.
 */
const INVOKER = `
const { LambdaClient, InvokeCommand } = require("@aws-sdk/client-lambda")
const lambda = new LambdaClient({})
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
const migrate = async (context) => {
  let reason = ""
  for (let attempt = 1; attempt <= 3; attempt++) {
    try {
      const out = await lambda.send(new InvokeCommand({ FunctionName: process.env.MIGRATE_FUNCTION, Payload: "{}" }))
      if (!out.FunctionError) return undefined
      reason = "migrations failed: " + Buffer.from(out.Payload ?? []).toString("utf8")
    } catch (error) {
      reason = "could not invoke the migrate function: " + String(error)
    }
    console.log(JSON.stringify({ attempt, reason }))
    if (attempt === 3 || context.getRemainingTimeInMillis() < 400000) break
    await sleep(15000)
  }
  return reason
}
exports.handler = async (event, context) => {
  const reason = event.RequestType === "Delete" ? undefined : await migrate(context)
  const body = JSON.stringify({
    Status: reason === undefined ? "SUCCESS" : "FAILED",
    Reason: (reason ?? (event.RequestType === "Delete" ? "nothing to undo" : "migrations applied")).slice(0, 1000) + " (log stream " + context.logStreamName + ")",
    PhysicalResourceId: event.PhysicalResourceId ?? "revenueflow-migrations",
    StackId: event.StackId,
    RequestId: event.RequestId,
    LogicalResourceId: event.LogicalResourceId
  })
  await fetch(event.ResponseURL, { method: "PUT", headers: { "content-type": "" }, body })
}
`

/**
 * Migrations at deploy time: a custom resource whose handler invokes the migrate function (the sweep bundle with
 * MIGRATE_ON_START=true, in the VPC) on create and whenever the bundle changes, before the other functions are
 * updated (they depend on it). A custom resource rather than "run the CLI": Postgres is in isolated subnets, which a
 * deploying machine cannot reach, and the stack has no cluster to run a one-off task on.
 */
export class Migrations extends Construct {
  readonly invoker: lambda.Function
  readonly run: CustomResource

  constructor(
    scope: Construct,
    id: string,
    props: {
      readonly migrate: lambda.IFunction
      /** The migrate function's bundle: a change re-runs the migrations. */
      readonly bundleDir: string
      readonly logRetentionDays: number
      /** What must exist before the first run (the database's security group rules). */
      readonly after: ReadonlyArray<IDependable>
    }
  ) {
    super(scope, id)
    const logGroup = new logs.LogGroup(this, "InvokerLogs", {
      retention: props.logRetentionDays as logs.RetentionDays,
      removalPolicy: RemovalPolicy.DESTROY
    })
    const role = new iam.Role(this, "InvokerRole", {
      assumedBy: new iam.ServicePrincipal("lambda.amazonaws.com"),
      description: "RevenueFlow migrations at deploy time: invokes the migrate function, writes its own log group"
    })
    logGroup.grantWrite(role)
    // not grantInvoke: that adds the function's every version and alias (ARN:*); the unqualified ARN is enough
    role.addToPolicy(
      new iam.PolicyStatement({
        sid: "InvokeMigrate",
        actions: ["lambda:InvokeFunction"],
        resources: [props.migrate.functionArn]
      })
    )
    // Outside the VPC: it calls the Lambda API and answers CloudFormation's S3 URL, nothing else
    this.invoker = new lambda.Function(this, "Invoker", {
      description: "RevenueFlow: runs the migrate function for CloudFormation",
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      handler: "index.handler",
      code: lambda.Code.fromInline(INVOKER),
      timeout: Duration.minutes(15),
      role,
      logGroup,
      environment: { MIGRATE_FUNCTION: props.migrate.functionName }
    })
    this.run = new CustomResource(this, "Run", {
      serviceToken: this.invoker.functionArn,
      resourceType: "Custom::RevenueFlowMigrations",
      properties: { Bundle: FileSystem.fingerprint(props.bundleDir, { exclude: BUNDLE_EXCLUDE }) }
    })
    this.run.node.addDependency(props.migrate, ...props.after)
  }
}
