import { Validations } from "aws-cdk-lib"
import { beforeAll, describe, expect, it } from "vitest"
import { LOG_RETENTION_FUNCTION_ID } from "../lib/nag.js"
import {
  asList,
  logicalId,
  nagFindings,
  type Resources,
  roleStatements,
  type Statement,
  statements,
  SYNTH_TIMEOUT_MS,
  synthServerless,
  wildcards
} from "./synth.js"

const MODEL = "anthropic.claude-haiku-4-5-20251001-v1:0"
const FUNCTIONS = ["Ingest", "Consumer", "Sweep", "Migrate"] as const

describe("serverless variant: IAM and cdk-nag", { timeout: SYNTH_TIMEOUT_MS }, () => {
  let resources: Resources
  let bedrock: Resources
  beforeAll(() => {
    resources = synthServerless().resources
    bedrock = synthServerless({ analyzer: "BEDROCK", bedrockModelId: MODEL }).resources
  }, SYNTH_TIMEOUT_MS)

  const of = (r: Resources, fn: string) => roleStatements(r, `Functions${fn}Role`)
  const ref = (r: Resources, type: string, prefix: string) => ({ Ref: logicalId(r, type, prefix) })
  const arn = (r: Resources, type: string, prefix: string) => ({ "Fn::GetAtt": [logicalId(r, type, prefix), "Arn"] })
  const sorted = (list: ReadonlyArray<unknown>) => list.map((x) => JSON.stringify(x)).sort()

  it("has no '*' in any action or resource of the stack's statements, with or without Bedrock", () => {
    expect(statements(resources).length).toBeGreaterThan(10)
    expect(wildcards(resources)).toEqual([])
    expect(wildcards(bedrock)).toEqual([])
  })

  it("attaches no managed policy but AWSLambdaVPCAccessExecutionRole to the VPC functions (and CDK's log-retention function its basic one)", () => {
    const all = Object.entries(resources)
      .filter(([, r]) => r.Type === "AWS::IAM::Role")
      .flatMap(([id, r]) => ((r.Properties!.ManagedPolicyArns as Array<unknown> | undefined) ?? []).map((p) => [id, p]))
    const logRetention = all.filter(([id]) => String(id).startsWith(LOG_RETENTION_FUNCTION_ID))
    expect(logRetention).toHaveLength(1)
    expect(JSON.stringify(logRetention[0]![1])).toContain("service-role/AWSLambdaBasicExecutionRole")
    const managed = all.filter(([id]) => !String(id).startsWith(LOG_RETENTION_FUNCTION_ID))
    expect(managed.map(([id]) => String(id).replace(/[0-9A-F]{8}$/, "")).sort()).toEqual(
      FUNCTIONS.map((fn) => `Functions${fn}Role`).sort()
    )
    for (const [, policy] of managed)
      expect(JSON.stringify(policy)).toContain("service-role/AWSLambdaVPCAccessExecutionRole")
  })

  it("allows SQS actions on the stack's two queues only: send for ingest / sweep / migrate, replay from the DLQ for the ingest, consume for the consumer", () => {
    const queue = arn(resources, "AWS::SQS::Queue", "QueuesJobs")
    const dlq = arn(resources, "AWS::SQS::Queue", "QueuesDeadLetters")
    const sqs = (fn: string) =>
      of(resources, fn)
        .filter((s) => asList(s.Action).some((a) => a.startsWith("sqs:")))
        .map((s) => ({ actions: [...asList(s.Action)].sort(), resources: asList(s.Resource) }))
    const send = ["sqs:GetQueueAttributes", "sqs:GetQueueUrl", "sqs:SendMessage"]
    for (const fn of ["Sweep", "Migrate"]) expect(sqs(fn)).toEqual([{ actions: send, resources: [queue] }])
    // replay (POST /leads/{id}/replay) and the DLQ's count in the ingest's queue stats: see sqsGrants.test.ts
    expect(sqs("Ingest")).toEqual(
      expect.arrayContaining([
        { actions: send, resources: [queue] },
        {
          actions: ["sqs:ChangeMessageVisibility", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage"],
          resources: [dlq]
        }
      ])
    )
    expect(sqs("Ingest")).toHaveLength(2)
    expect(sqs("Consumer")).toEqual(
      expect.arrayContaining([
        {
          actions: [
            "sqs:ChangeMessageVisibility",
            "sqs:DeleteMessage",
            "sqs:GetQueueAttributes",
            "sqs:GetQueueUrl",
            "sqs:ReceiveMessage"
          ],
          resources: [queue]
        },
        { actions: send, resources: [dlq] },
        // a delayed job sent again as a fresh message
        { actions: send, resources: [queue] }
      ])
    )
    expect(sqs("Consumer")).toHaveLength(3)
  })

  it("lets each function call GetSecretValue on its own secrets only", () => {
    const secrets = (fn: string) => {
      const found = of(resources, fn).filter((s) => s.Sid === "ReadOwnSecrets")
      expect(found).toHaveLength(1)
      expect(found[0]!.Action).toBe("secretsmanager:GetSecretValue")
      return sorted(asList(found[0]!.Resource))
    }
    const db = ref(resources, "AWS::SecretsManager::SecretTargetAttachment", "DataPostgresCredentialsAttachment")
    const secret = (prefix: string) => ref(resources, "AWS::SecretsManager::Secret", prefix)
    expect(secrets("Ingest")).toEqual(sorted([db, secret("DataWebhookSecrets"), secret("DataApiKeys")]))
    // the mock CRM and no crmSecretArn: no CRM secret at all
    expect(secrets("Consumer")).toEqual(sorted([db, secret("DataRedisUrl")]))
    expect(secrets("Sweep")).toEqual(sorted([db]))
    expect(secrets("Migrate")).toEqual(sorted([db]))
    const readers = statements(resources).filter(({ statement }) =>
      asList(statement.Action).includes("secretsmanager:GetSecretValue")
    )
    expect(readers).toHaveLength(4)
  })

  it("lets only the consumer invoke the configured model, and only when the analyser is Bedrock", () => {
    expect(JSON.stringify(resources)).not.toContain("bedrock:")
    const invoke = (fn: string): ReadonlyArray<Statement> =>
      of(bedrock, fn).filter((s) => asList(s.Action).some((a) => a.startsWith("bedrock:")))
    expect(invoke("Consumer")).toEqual([
      {
        Sid: "InvokeConfiguredModel",
        Effect: "Allow",
        Action: "bedrock:InvokeModel",
        Resource: {
          "Fn::Join": [
            "",
            ["arn:", { Ref: "AWS::Partition" }, ":bedrock:", { Ref: "AWS::Region" }, `::foundation-model/${MODEL}`]
          ]
        }
      }
    ])
    for (const fn of ["Ingest", "Sweep", "Migrate"]) expect(invoke(fn)).toEqual([])
  })

  it("lets the migrations' invoker invoke the migrate function and nothing else", () => {
    const invoke = roleStatements(resources, "MigrationsInvokerRole").filter((s) => s.Sid === "InvokeMigrate")
    expect(invoke).toEqual([
      {
        Sid: "InvokeMigrate",
        Effect: "Allow",
        Action: "lambda:InvokeFunction",
        Resource: arn(resources, "AWS::Lambda::Function", "FunctionsMigrate")
      }
    ])
    const invokers = statements(resources).filter(({ statement }) =>
      asList(statement.Action).some((a) => a.startsWith("lambda:"))
    )
    expect(invokers).toHaveLength(1)
  })

  it.each([
    ["the defaults", {}],
    [
      "Bedrock through an inference profile, OTLP traces, single-AZ, an alarm e-mail",
      {
        analyzer: "BEDROCK",
        bedrockModelId: "us.anthropic.claude-haiku-4-5-20251001-v1:0",
        tracing: "otlp",
        otlpEndpoint: "http://10.0.0.10:4318",
        multiAz: false,
        alarmEmail: "ops@example.com"
      }
    ]
  ])("reports no unacknowledged cdk-nag AwsSolutions finding with %s", (_name, context) => {
    expect(nagFindings(synthServerless(context))).toEqual([])
  })

  it("gives every acknowledgement a reason", () => {
    const acks = synthServerless()
      .stack.node.findAll()
      .flatMap((construct) =>
        construct.node.metadata
          .filter((entry) => entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
          .flatMap((entry) => Object.entries(entry.data as Record<string, { reason?: string } | string>))
      )
    expect(acks.map(([id]) => id)).toEqual(expect.arrayContaining(["Annotation::AwsSolutions-APIG4"]))
    for (const [, ack] of acks) {
      const reason = typeof ack === "string" ? ack : ack.reason
      expect(reason?.length ?? 0).toBeGreaterThan(40)
    }
  })
})
