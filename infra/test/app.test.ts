import { execFile } from "node:child_process"
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll, describe, expect, it } from "vitest"
import { LOG_RETENTION_FUNCTION_ID } from "../lib/nag.js"
import { CRM_SECRET_ARN, FIXTURE_BUNDLES } from "./synth.js"

const infraDir = join(dirname(fileURLToPath(import.meta.url)), "..")

/** `npm run synth -- <args>` in infra/, with no credentials or profile of the caller's: synth must not need them. */
const synth = (out: string, args: ReadonlyArray<string>) => {
  const env: Record<string, string> = { PATH: process.env.PATH ?? "", HOME: out, CDK_DISABLE_CLI_TELEMETRY: "true" }
  return new Promise<{ code: number; output: string }>((resolve) =>
    execFile(
      "npm",
      ["run", "synth", "--", "-o", out, ...args],
      { cwd: infraDir, env, timeout: 240_000 },
      (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, output: stdout + stderr })
    )
  )
}

describe("npm run synth", () => {
  const out = mkdtempSync(join(tmpdir(), "rf-cdk-out-"))
  afterAll(() => rmSync(out, { recursive: true, force: true }))

  it("writes the template with the CDK CLI, from cdk.json, with no AWS credentials, and passes cdk-nag", async () => {
    const result = await synth(out, [
      "-c",
      "crmProvider=HUBSPOT",
      "-c",
      `crmSecretArn=${CRM_SECRET_ARN}`,
      "-c",
      "ecrRepository=revenueflow",
      "-c",
      "allowPlainHttp=true"
    ])
    expect(result.code, result.output).toBe(0)
    const template = JSON.parse(readFileSync(join(out, "RevenueFlow.template.json"), "utf8")) as {
      Resources: Record<
        string,
        {
          Type: string
          Properties: { ContainerDefinitions?: Array<{ Environment: Array<{ Name: string; Value: unknown }> }> }
        }
      >
    }
    const task = Object.values(template.Resources).find((r) => r.Type === "AWS::ECS::TaskDefinition")!
    expect(task.Properties.ContainerDefinitions![0]!.Environment).toContainEqual({
      Name: "CRM_PROVIDER",
      Value: "HUBSPOT"
    })
  }, 300_000)

  it("writes the serverless stack instead with -c variant=serverless, its function bundles staged as assets", async () => {
    const serverlessOut = join(out, "serverless")
    const result = await synth(serverlessOut, ["-c", "variant=serverless", "-c", `lambdaBundles=${FIXTURE_BUNDLES}`])
    expect(result.code, result.output).toBe(0)
    expect(existsSync(join(serverlessOut, "RevenueFlow.template.json"))).toBe(false)
    const template = JSON.parse(readFileSync(join(serverlessOut, "RevenueFlowServerless.template.json"), "utf8")) as {
      Resources: Record<string, { Type: string; Metadata?: Record<string, string> }>
    }
    // the program bundles; CDK's log-retention function (data.ts) is staged from aws-cdk-lib
    const functions = Object.entries(template.Resources)
      .filter(([id, r]) => r.Type === "AWS::Lambda::Function" && !id.startsWith(LOG_RETENTION_FUNCTION_ID))
      .map(([, r]) => r)
    const staged = functions.flatMap((fn) => (fn.Metadata?.["aws:asset:path"] ? [fn.Metadata["aws:asset:path"]] : []))
    expect(staged).toHaveLength(4) // ingest, consumer, sweep, migrate (the sweep bundle); the invoker is inline
    for (const asset of staged) expect(existsSync(join(serverlessOut, asset, "index.mjs"))).toBe(true)
  }, 300_000)

  it("refuses the serverless variant when the bundles are not built", async () => {
    const result = await synth(join(out, "missing"), ["-c", "variant=serverless", "-c", `lambdaBundles=${out}`])
    expect(result.code).not.toBe(0)
    expect(result.output).toContain("run `npm run build:bundles` at the repository root first")
  }, 300_000)
})
