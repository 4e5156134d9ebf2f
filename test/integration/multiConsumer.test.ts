import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { auditSignature, busiestWindow, countActions, signatureOf } from "../../scripts/lib/crmLedger.js"
import { startCrmProxy } from "../../scripts/lib/crmProxy.js"
import { succeededActions, tally, waitForStatuses } from "../../scripts/lib/db.js"
import { makeIsolation } from "../../scripts/lib/isolation.js"
import { isAccepted, leadBody, metricSum, postLeads, scrapeMetrics } from "../../scripts/lib/leads.js"
import { stopProgram } from "../../scripts/lib/processes.js"
import { hubSpotEnv, programEnv, startAll, startConsumer, startIngest } from "../../scripts/lib/stack.js"
import { cumulativeExcess } from "../support/rateWindows.js"
import { fakeHubSpot } from "./setup.js"

const LEADS = 120
const WINDOW_MS = 1000
/** HTTP calls per window: each action takes a permit per call it can make (about 12 per lead). */
const CRM_LIMIT = 60
const ACCOUNT_LIMIT = 20
const ACCOUNTS = 5

describe("one ingest, two consumers, one CRM (real Postgres + Redis)", () => {
  it.scopedLive(
    "every lead ends SYNCED, each CRM action happens once, no rate-limit tier is exceeded",
    () =>
      Effect.gen(function* () {
        const iso = yield* makeIsolation()
        const fake = yield* fakeHubSpot
        const crm = yield* startCrmProxy(fake.url)
        const env = programEnv(iso, hubSpotEnv(crm.url), {
          RATE_LIMIT_WINDOW_MS: String(WINDOW_MS),
          RATE_LIMIT_CRM: String(CRM_LIMIT),
          RATE_LIMIT_PER_ACCOUNT: String(ACCOUNT_LIMIT),
          RATE_LIMIT_PER_LEAD: "10",
          WORKER_CONCURRENCY: "8",
          JOB_ATTEMPTS: "8"
        })
        const [ingest, consumerA, consumerB] = yield* startAll([
          startIngest(env),
          startConsumer(env, "consumer-a"),
          startConsumer(env, "consumer-b")
        ])

        const run = iso.prefix.slice(-10)
        // no permit can have been taken before there were leads
        const postedAt = Date.now()
        const posted = yield* postLeads(
          ingest.url,
          Array.from({ length: LEADS }, (_, i) => leadBody(run, i, ACCOUNTS))
        )
        expect(posted.filter((p) => p.status === 202)).toHaveLength(LEADS)
        const ids = posted.filter(isAccepted).map((p) => p.id as string)

        const done = yield* waitForStatuses(iso.sql, ids, ["SYNCED", "REJECTED", "FAILED"], 45_000)
        expect(tally(ids, done.statuses)).toEqual({ SYNCED: LEADS })

        // the limiter was reached (so the checks below are not vacuous: the consumers' first leads alone ask for more
        // CRM calls than a window allows) and both consumers did work
        const metricsA = yield* scrapeMetrics(consumerA.url)
        const metricsB = yield* scrapeMetrics(consumerB.url)
        const refusals = (text: string) => metricSum(text, "revenueflow_rate_limit_refusals_total")
        expect(refusals(metricsA) + refusals(metricsB)).toBeGreaterThan(0)
        const synced = (text: string) => metricSum(text, "revenueflow_leads_finished_total", 'status="SYNCED"')
        expect(synced(metricsA)).toBeGreaterThan(0)
        expect(synced(metricsB)).toBeGreaterThan(0)

        // exactly once, counted where the CRM sees it
        const counted = countActions(crm.effective())
        expect(counted.repeated.map((a) => a.key)).toEqual([])
        expect(counted.total).toBe(counted.distinct)
        const audit = yield* Effect.promise(() => succeededActions(iso.sql))
        expect(new Set(counted.actions.map((a) => a.key))).toEqual(new Set(audit.map(auditSignature)))
        const contacts = fake.records.contacts ?? []
        expect(contacts).toHaveLength(LEADS)
        expect(new Set(contacts.map((c) => c.properties.email)).size).toBe(LEADS)
        for (const type of ["notes", "tasks"]) {
          const keys = (fake.records[type] ?? []).map((o) => o.properties.revenueflow_action_key)
          expect(new Set(keys).size).toBe(keys.length)
        }

        // no tier over its limit, across both processes, counted where the CRM sees the requests: every request takes
        // a CRM-wide permit (an action takes one per call it can make), every action's own write an account permit
        const emailByAction = new Map(audit.map((row) => [row.action_key, row.email]))
        const crmWide = cumulativeExcess(
          crm.records.map((record) => ({ at: record.receivedAt, group: "crm" })),
          postedAt,
          CRM_LIMIT,
          WINDOW_MS
        )
        expect(crmWide).toEqual([])
        const byAccount = cumulativeExcess(
          crm.records.flatMap((record) => {
            const signature = signatureOf(record)
            const email =
              signature?.email ?? (signature?.actionKey ? emailByAction.get(signature.actionKey) : undefined)
            return signature === undefined ? [] : [{ at: record.receivedAt, group: email?.split("@")[1] ?? "?" }]
          }),
          postedAt,
          ACCOUNT_LIMIT,
          WINDOW_MS
        )
        expect(byAccount).toEqual([])
        // shown, not asserted: how busy the CRM was depends on the machine
        const busiest = busiestWindow(crm.records, WINDOW_MS)
        const tools: Record<string, number> = {}
        for (const a of counted.actions) tools[a.key.split(":")[0]!] = (tools[a.key.split(":")[0]!] ?? 0) + 1
        console.log(
          `multiConsumer: ${LEADS} leads SYNCED in ${done.elapsedMs} ms; CRM requests ${crm.records.length}, ` +
            `actions ${counted.distinct} ${JSON.stringify(tools)}; refusals a=${refusals(metricsA)} b=${refusals(metricsB)}; ` +
            `synced a=${synced(metricsA)} b=${synced(metricsB)}; busiest window ${busiest}/${CRM_LIMIT}`
        )

        yield* Effect.all(
          [stopProgram(ingest, 10_000), stopProgram(consumerA, 10_000), stopProgram(consumerB, 10_000)],
          {
            concurrency: "unbounded"
          }
        )
      }),
    90_000
  )
})
