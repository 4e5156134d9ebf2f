/**
 * Sends a handful of sample leads to a running ingest (DEMO_URL, else http://localhost:$PORT, PORT defaulting to
 * 3000, the port `npm start` uses) and prints what became of each. With nothing listening there, it starts the
 * embedded stack in this process on a throw-away data folder, and removes that folder when it ends.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"

const samples: ReadonlyArray<{ readonly label: string; readonly body: unknown }> = [
  {
    label: "high-fit lead, demo requested",
    body: {
      email: "grace.hopper@globex.com",
      campaignId: "demo-webinar",
      firstName: "Grace",
      lastName: "Hopper",
      title: "VP Engineering",
      activity: { demoRequested: true, pricingPageVisits: 4, pageViews: 18 }
    }
  },
  {
    label: "the same lead again (duplicate)",
    body: { email: "  Grace.Hopper@GLOBEX.com ", campaignId: "demo-webinar" }
  },
  {
    label: "analyser hallucinates an industry",
    body: {
      email: "alan.turing@initech.com",
      campaignId: "demo-webinar",
      title: "Director of IT",
      activity: { pageViews: 6 },
      attributes: { "demo.hallucinate": true }
    }
  },
  {
    label: "CRM rejects the email",
    body: { email: "bounce@nowhere.invalid", campaignId: "demo-webinar", activity: { pageViews: 2 } }
  },
  {
    label: "free-mail, no company",
    body: { email: "someone@gmail.com", campaignId: "demo-webinar" }
  },
  {
    label: "invalid input",
    body: { email: "not-an-email", campaignId: "", isAdmin: true }
  }
]

/** The parts of the API's answers the demo prints. */
interface LeadJson {
  readonly id: string
  readonly status: string
  readonly detail?: string
  readonly error?: string
  readonly errors?: ReadonlyArray<{ readonly field: string }>
  readonly grounding?: {
    readonly outcome: string
    readonly analysis: { readonly intent: string; readonly decision: string }
  }
  readonly actions?: ReadonlyArray<{ readonly tool: string; readonly status: string }>
}

const reachable = async (url: string) => {
  try {
    return (await fetch(`${url}/healthz`)).ok
  } catch {
    return false
  }
}

/** The throw-away data folder of an embedded stack this demo started, removed on exit. */
let tempDir: string | undefined
const cleanUp = () => {
  if (tempDir !== undefined) rmSync(tempDir, { recursive: true, force: true })
  tempDir = undefined
}

/** Start the embedded programs in-process on a free port with a throw-away data folder. */
const startEmbedded = async (): Promise<string> => {
  tempDir = mkdtempSync(join(tmpdir(), "revenueflow-demo-"))
  process.env.DATA_DIR = tempDir
  process.env.PORT = String(40_000 + Math.floor(Math.random() * 20_000))
  process.env.LOG_LEVEL ??= "Warn"
  const { startDev } = await import("../../src/programs/devProgram.js")
  startDev()
  const url = `http://127.0.0.1:${process.env.PORT}`
  for (let i = 0; i < 100 && !(await reachable(url)); i++) await new Promise((r) => setTimeout(r, 100))
  return url
}

const settle = async (url: string, id: string) => {
  for (let i = 0; i < 100; i++) {
    const lead = (await (await fetch(`${url}/leads/${id}`, { headers })).json()) as LeadJson
    if (["SYNCED", "REJECTED", "FAILED"].includes(lead.status)) return lead
    await new Promise((r) => setTimeout(r, 100))
  }
  return (await (await fetch(`${url}/leads/${id}`, { headers })).json()) as LeadJson
}

const headers: Record<string, string> = process.env.DEMO_API_KEY ? { "x-api-key": process.env.DEMO_API_KEY } : {}

const main = async () => {
  let url = (process.env.DEMO_URL ?? `http://localhost:${process.env.PORT || "3000"}`).replace(/\/$/, "")
  if (await reachable(url)) {
    console.log(`Using the server at ${url} (its console: ${url}/console)`)
  } else {
    console.log(`Nothing answers at ${url} (set DEMO_URL or PORT); starting the embedded stack in this process.`)
    url = await startEmbedded()
  }
  console.log(`Sending ${samples.length} sample leads to ${url}\n`)
  for (const sample of samples) {
    const response = await fetch(`${url}/leads`, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: JSON.stringify(sample.body)
    })
    const body = (await response.json()) as LeadJson
    if (!response.ok) {
      const fields = (body.errors ?? []).map((e) => e.field).join(", ")
      console.log(`- ${sample.label}: HTTP ${response.status} ${body.detail}${fields ? ` [${fields}]` : ""}`)
      continue
    }
    const lead = await settle(url, body.id)
    const verdict = lead.grounding
      ? `${lead.grounding.analysis.intent} / ${lead.grounding.analysis.decision} (${lead.grounding.outcome})`
      : "no analysis"
    const actions = (lead.actions ?? []).map((a) => `${a.tool}:${a.status}`)
    console.log(`- ${sample.label}: HTTP ${response.status} -> ${lead.status}, ${verdict}`)
    if (actions.length > 0) console.log(`    CRM: ${actions.join(", ")}`)
    if (lead.error) console.log(`    reason: ${lead.error}`)
  }
  cleanUp()
  process.exit(0)
}

main().catch((error) => {
  console.error(error instanceof Error ? error.message : error)
  cleanUp()
  process.exit(1)
})
process.once("SIGINT", () => {
  cleanUp()
  process.exit(130)
})
