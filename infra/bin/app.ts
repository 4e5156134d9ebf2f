import { App, Validations } from "aws-cdk-lib"
import nag from "cdk-nag"
import { fromContext } from "../lib/config.js"
import { RevenueFlowStack } from "../lib/stack.js"

const app = new App()
const config = fromContext((key) => app.node.tryGetContext(key))
new RevenueFlowStack(app, String(app.node.tryGetContext("stackName") ?? "RevenueFlow"), {
  config,
  description: "RevenueFlow: ingest + consumer on ECS Fargate, RDS Postgres, ElastiCache Redis (infra/ in the repo)"
})
// Every synth is checked against cdk-nag's AwsSolutions pack: an unacknowledged finding fails it.
Validations.of(app).addPlugins(new nag.AwsSolutionsChecks(app, { verbose: false }))
app.synth()
