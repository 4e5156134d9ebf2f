import { Validations } from "aws-cdk-lib"
import * as ec2 from "aws-cdk-lib/aws-ec2"
import { describe, expect, it } from "vitest"
import { nagFindings, synth, SYNTH_TIMEOUT_MS } from "./synth.js"

/** Every acknowledgement recorded on the stack's constructs: [rule id, reason]. */
const acknowledgements = (scope: ReturnType<typeof synth>) =>
  scope.stack.node
    .findAll()
    .flatMap((construct) =>
      construct.node.metadata
        .filter((entry) => entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
        .flatMap((entry) => Object.entries(entry.data as Record<string, { reason?: string } | string>))
    )

describe("cdk-nag AwsSolutions", { timeout: SYNTH_TIMEOUT_MS }, () => {
  it.each([
    ["the defaults", {}],
    [
      "HTTPS, Bedrock through an inference profile, X-Ray traces, an ECR image, a CRM with /mcp on the ingest",
      {
        certificateArn: "arn:aws:acm:eu-west-1:123456789012:certificate/abc",
        allowPlainHttp: false,
        analyzer: "BEDROCK",
        bedrockModelId: "eu.anthropic.claude-haiku-4-5-20251001-v1:0",
        crmProvider: "SALESFORCE",
        crmSecretArn: "arn:aws:secretsmanager:eu-west-1:123456789012:secret:revenueflow/crm-AbC123",
        mcpOnIngest: true,
        tracing: "xray",
        ecrRepository: "revenueflow",
        alarmEmail: "ops@example.com"
      }
    ],
    [
      "traces to an OTLP endpoint in the VPC, single-AZ",
      { tracing: "otlp", otlpEndpoint: "http://10.0.0.10:4318", multiAz: false }
    ]
  ])("reports no unacknowledged finding with %s", (_name, context) => {
    expect(nagFindings(synth(context))).toEqual([])
  })

  it("gives every acknowledgement a reason", () => {
    const acks = acknowledgements(synth({ tracing: "xray", ecrRepository: "revenueflow" }))
    expect(acks.length).toBeGreaterThan(5)
    for (const [, ack] of acks) {
      const reason = typeof ack === "string" ? ack : ack.reason
      expect(reason?.length ?? 0).toBeGreaterThan(40)
    }
  })

  it("fails on a finding nobody acknowledged (a group open to the internet on the database port)", () => {
    const scope = synth()
    const open = new ec2.SecurityGroup(scope.stack, "Careless", { vpc: scope.stack.network.vpc })
    open.addIngressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(5432))
    expect(nagFindings(scope)).toEqual([expect.stringMatching(/EC23.*Careless/)])
  })
})
