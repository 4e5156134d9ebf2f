import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { App, type Stack } from "aws-cdk-lib"
import { Template } from "aws-cdk-lib/assertions"
import nag from "cdk-nag"
import { fromContext, type StackConfig } from "../lib/config.js"
import { LOG_RETENTION_FUNCTION_ID } from "../lib/nag.js"
import { RevenueFlowServerlessStack } from "../lib/serverlessStack.js"
import { RevenueFlowStack } from "../lib/stack.js"

export type Resources = Record<string, { Type: string; Properties?: Record<string, unknown> }>

/**
 * The stack that `build` makes in an app with `context`, synthesized into a directory of its own that is removed
 * once the template is read (left to itself, the CDK synthesizes into a new `cdk.out*` directory under the system's
 * temp directory for every app and never removes it).
 */
export const synthesize = <S extends Stack>(context: Record<string, unknown>, build: (app: App) => S) => {
  const outdir = mkdtempSync(join(tmpdir(), "rf-cdk-test-"))
  try {
    const app = new App({ context, outdir })
    const stack = build(app)
    const template = Template.fromStack(stack)
    const resources = template.toJSON().Resources as Resources
    return { app, stack, template, resources }
  } finally {
    rmSync(outdir, { recursive: true, force: true })
  }
}

export const configOf = (app: App) => fromContext((key) => app.node.tryGetContext(key))

/**
 * What the Fargate stack refuses to guess (config.ts), for the tests that are not about it: where the image comes
 * from (unless the test names an ECR repository), and plain HTTP asked for explicitly.
 */
export const fargateBase = (context: Record<string, unknown>): Record<string, unknown> => ({
  allowPlainHttp: true,
  ...(context.ecrRepository === undefined ? { image: "registry.example/revenueflow:test" } : {}),
  ...context
})

/** A CRM secret created before the deploy, by its complete ARN (with Secrets Manager's 6-character suffix). */
export const CRM_SECRET_ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:revenueflow/crm-AbC123"

/**
 * The logical id of the CRM secret the templates before `crmSecretArn` created (`git show 8eaaa43:infra/lib/data.ts`,
 * synthesized): literal here, so that no change of the code can move it unnoticed.
 */
export const LEGACY_CRM_SECRET_ID = "DataCrmCredentialsCEFA338F"

/** What a test changes in the configuration, past config.ts's checks (to test what those checks alone prevent). */
type ConfigPatch = (config: StackConfig) => StackConfig

/** Synthesizes the stack with `context` over the defaults (what `cdk synth -c key=value` does). */
export const synth = (context: Record<string, unknown> = {}, patch: ConfigPatch = (config) => config) =>
  synthesize(fargateBase(context), (app) => new RevenueFlowStack(app, "RevenueFlow", { config: patch(configOf(app)) }))

/**
 * Stand-ins for dist/lambda/{ingest,consumer,sweep}: the template depends on where the bundles are, not on what
 * they contain, so the tests need no `npm run build:bundles` (a deploy does: config.ts refuses a missing bundle).
 */
export const FIXTURE_BUNDLES = join(dirname(fileURLToPath(import.meta.url)), "fixtures", "bundles")

/** Synthesizes the serverless variant (`-c variant=serverless`) with `context` over the defaults. */
export const synthServerless = (context: Record<string, unknown> = {}, patch: ConfigPatch = (config) => config) =>
  synthesize(
    { variant: "serverless", lambdaBundles: FIXTURE_BUNDLES, ...context },
    (app) => new RevenueFlowServerlessStack(app, "RevenueFlowServerless", { config: patch(configOf(app)) })
  )

/** The logical id of the one resource of `type` whose id starts with `prefix`. */
export const logicalId = (resources: Resources, type: string, prefix: string): string => {
  const ids = Object.keys(resources).filter((id) => resources[id]!.Type === type && id.startsWith(prefix))
  if (ids.length !== 1) throw new Error(`expected one ${type} named ${prefix}*, found ${ids.join(", ") || "none"}`)
  return ids[0]!
}

export const ofType = (resources: Resources, type: string) =>
  Object.entries(resources).filter(([, resource]) => resource.Type === type)

/** The AwsSolutions findings cdk-nag reports (acknowledged ones are not reported). */
export const nagFindings = (scope: { readonly app: App; readonly stack: Stack }) =>
  new nag.AwsSolutionsChecks(scope.app)
    .validateScope(scope.stack)
    .violations.flatMap((violation) =>
      violation.violatingResources.map(
        (resource) => `${violation.ruleName} at ${resource.constructPath ?? resource.resourceLogicalId}`
      )
    )

export interface Statement {
  readonly Sid?: string
  readonly Effect: string
  readonly Action: string | ReadonlyArray<string>
  readonly Resource: unknown
}

/** Every IAM statement of the template: inline role policies, AWS::IAM::Policy and managed policies. */
export const statements = (
  resources: Resources
): ReadonlyArray<{ readonly owner: string; readonly statement: Statement }> =>
  Object.entries(resources).flatMap(([id, resource]) => {
    const props = resource.Properties ?? {}
    const docs: Array<unknown> = []
    if (resource.Type === "AWS::IAM::Policy" || resource.Type === "AWS::IAM::ManagedPolicy")
      docs.push(props.PolicyDocument)
    if (resource.Type === "AWS::IAM::Role") {
      for (const policy of (props.Policies as Array<{ PolicyDocument: unknown }> | undefined) ?? [])
        docs.push(policy.PolicyDocument)
    }
    return docs.flatMap((doc) =>
      ((doc as { Statement: ReadonlyArray<Statement> }).Statement ?? []).map((statement) => ({ owner: id, statement }))
    )
  })

/** The statements attached to the role whose logical id starts with `rolePrefix` (its default policy). */
export const roleStatements = (resources: Resources, rolePrefix: string) => {
  const role = logicalId(resources, "AWS::IAM::Role", rolePrefix)
  return statements(resources)
    .filter(({ owner }) => {
      const roles = (resources[owner]!.Properties!.Roles as Array<{ Ref: string }> | undefined) ?? []
      return owner === role || roles.some((r) => r.Ref === role)
    })
    .map(({ statement }) => statement)
}

/** Statements with a "*" in an action or a literal resource. */
export const allWildcards = (resources: Resources) =>
  statements(resources).filter(
    ({ statement }) =>
      asList(statement.Action).some((action) => action.includes("*")) ||
      asList(statement.Resource).some((resource) => typeof resource === "string" && resource.includes("*"))
  )

/**
 * The one statement with a "*" the stack accepts on purpose: aws-cdk-lib's log-retention function may set the
 * retention of any log group (data.ts, nag.ts); data.test.ts checks it is exactly this.
 */
export const isLogRetentionStatement = (owner: string, statement: Statement) =>
  owner.startsWith(LOG_RETENTION_FUNCTION_ID) &&
  JSON.stringify([...asList(statement.Action)].sort()) ===
    JSON.stringify(["logs:DeleteRetentionPolicy", "logs:PutRetentionPolicy"]) &&
  statement.Resource === "*"

/** Statements with a "*" in an action or a literal resource, but the log-retention function's. */
export const wildcards = (resources: Resources) =>
  allWildcards(resources).filter(({ owner, statement }) => !isLogRetentionStatement(owner, statement))

export const asList = <A>(value: A | ReadonlyArray<A>): ReadonlyArray<A> =>
  Array.isArray(value) ? value : [value as A]

/** Loading aws-cdk-lib and synthesizing takes 10-40 s on a busy 2-core machine: each synthesizing test may take this. */
export const SYNTH_TIMEOUT_MS = 180_000
