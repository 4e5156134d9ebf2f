import { execFile } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll, describe, expect, it } from "vitest"

const infraDir = join(dirname(fileURLToPath(import.meta.url)), "..")

describe("npm run synth", () => {
  const out = mkdtempSync(join(tmpdir(), "rf-cdk-out-"))
  afterAll(() => rmSync(out, { recursive: true, force: true }))

  it("writes the template with the CDK CLI, from cdk.json, with no AWS credentials, and passes cdk-nag", async () => {
    // no credentials or profile of the caller's: synth must not need them
    const env: Record<string, string> = { PATH: process.env.PATH ?? "", HOME: out, CDK_DISABLE_CLI_TELEMETRY: "true" }
    const result = await new Promise<{ code: number; output: string }>((resolve) =>
      execFile(
        "npm",
        ["run", "synth", "--", "-o", out, "-c", "crmProvider=HUBSPOT"],
        { cwd: infraDir, env, timeout: 240_000 },
        (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, output: stdout + stderr })
      )
    )
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
})
