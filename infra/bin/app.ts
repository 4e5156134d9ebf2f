import { App, Validations } from "aws-cdk-lib"
import nag from "cdk-nag"
import { fromContext } from "../lib/config.js"
import { RevenueFlowServerlessStack } from "../lib/serverlessStack.js"
import { RevenueFlowStack } from "../lib/stack.js"

const app = new App()
const config = fromContext((key) => app.node.tryGetContext(key))
const name = (fallback: string) => String(app.node.tryGetContext("stackName") ?? fallback)
// One stack per synth, chosen by `-c variant=...`: each defines its own VPC and database, so both at once would be
// two production databases; and a distinct default name keeps one variant from being deployed over the other.
if (config.variant === "serverless") {
  new RevenueFlowServerlessStack(app, name("RevenueFlowServerless"), {
    config,
    description:
      "RevenueFlow serverless: HTTP API + Lambda (ingest, consumer on SQS, sweep), RDS Postgres (infra/ in the repo)"
  })
} else {
  new RevenueFlowStack(app, name("RevenueFlow"), {
    config,
    description: "RevenueFlow: ingest + consumer on ECS Fargate, RDS Postgres, ElastiCache Redis (infra/ in the repo)"
  })
}
// Every synth is checked against cdk-nag's AwsSolutions pack: an unacknowledged finding fails it.
Validations.of(app).addPlugins(new nag.AwsSolutionsChecks(app, { verbose: false }))
app.synth()
