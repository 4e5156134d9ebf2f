import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { describe, expect, it } from "vitest"
import { HubSpotCallFailed } from "../../layers/hubspot/call.js"
import { defaultProperties } from "../../layers/hubspot/config.js"
import { type HubSpotApi, callCost as hubSpotCallCost, makeTools as hubSpotTools } from "../../layers/hubspot/tools.js"
import { SalesforceCallFailed } from "../../layers/salesforce/call.js"
import { defaultFields } from "../../layers/salesforce/config.js"
import {
  type SalesforceApi,
  callCost as salesforceCallCost,
  makeTools as salesforceTools
} from "../../layers/salesforce/tools.js"
import type { Decision, Intent } from "../../src/domain/analysis.js"
import type { Enrichment } from "../../src/domain/enrichment.js"
import type { LeadInput } from "../../src/domain/lead.js"
import { leadKey } from "../../src/domain/leadKey.js"
import { planActions } from "../../src/domain/plan.js"
import type { LeadRecord } from "../../src/domain/record.js"
import type { CrmAction } from "../../src/domain/tools.js"
import type { CrmCall } from "../../services/CrmExecutor.js"
import {
  crmCallsPerAction,
  crmCallsPerLead,
  crmSignInCalls,
  longestPlan,
  type PlannedTool,
  perLeadWorstCaseMs,
  type RealCrm
} from "../lib/config.js"

/**
 * The serverless consumer's timeout is sized from the CRM calls one lead may make one after another (config.ts), each
 * with CRM_TIMEOUT_MS of its own. These figures are the programs' own: every plan the consumer makes, and each of its
 * actions run by each CRM's tools down their longest path at a fake API, the calls counted.
 */

const input: LeadInput = {
  email: "ada@globex.com",
  campaignId: "spring",
  firstName: "Ada",
  lastName: "Lovelace",
  company: "Globex",
  website: "globex.com",
  // the person's own country: the Salesforce Lead write carries one
  country: "USA"
}
const lead: LeadRecord = {
  id: "0b6a7a52-7d5e-4d62-9a8e-5e2b3c9d1f00",
  leadKey: leadKey(input.email, input.campaignId),
  source: "api",
  status: "PROCESSING",
  input,
  createdAt: new Date("2026-12-01T10:00:00Z"),
  updatedAt: new Date("2026-12-01T10:00:00Z")
}
const company: Enrichment = {
  domain: "globex.com",
  name: "Globex",
  industry: "Software",
  employees: 250,
  annualRevenue: 5e7,
  country: "DE"
}
const intents: ReadonlyArray<Intent> = ["Low Fit", "Medium Fit", "High Fit", "Manual Review"]
const decisions: ReadonlyArray<Decision> = ["Route to SDR", "Nurture", "Ignore"]
const enrichments: ReadonlyArray<Option.Option<Enrichment>> = [
  Option.none(),
  Option.some(company),
  Option.some({ domain: company.domain, name: company.name })
]
const plan = (intent: Intent, decision: Decision, enrichment: Option.Option<Enrichment>) =>
  planActions(
    lead,
    {
      outcome: "VALID",
      reasons: [],
      analysis: { fitScore: 80, intent, decision, reasoning: "", evidence: [] }
    },
    enrichment
  )
const plans = intents.flatMap((intent) =>
  decisions.flatMap((decision) => enrichments.map((enrichment) => plan(intent, decision, enrichment)))
)
const calls = (actions: ReadonlyArray<CrmAction>): ReadonlyArray<CrmCall> =>
  actions.map((action) => ({ ...action, actionKey: `key-${action.tool}` }) as CrmCall)
/** The routed, enriched lead's actions, and Nurture's status: every tool the consumer plans. */
const planned = calls([
  ...plan("High Fit", "Route to SDR", Option.some(company)),
  ...plan("Medium Fit", "Nurture", Option.none()).filter((action) => action.tool === "update_lead_status")
])

/** HubSpot's API down its rare paths: a contact answered 409 naming itself, a found company gone (404), no name. */
const fakeHubSpot = () => {
  const sent: Array<string> = []
  const send = <A>(what: string, answer: Effect.Effect<A, HubSpotCallFailed>) =>
    Effect.suspend(() => {
      sent.push(what)
      return answer
    })
  const refused = (status: number, message?: string) =>
    Effect.fail(new HubSpotCallFailed({ failure: { status, body: message === undefined ? undefined : { message } } }))
  const api: HubSpotApi = {
    upsert: (type) =>
      send(
        `upsert ${type}`,
        type === "contacts"
          ? refused(409, "Contact already exists. Existing ID: 101")
          : Effect.succeed({ id: `${type}-1`, created: false })
      ),
    findCompanyByDomain: () => send("search companies", Effect.succeed({ id: "found-1", name: undefined })),
    companyByKey: () => send("read company by key", Effect.succeed(undefined)),
    contactByEmail: () => send("read contact", Effect.succeed(undefined)),
    companyName: () => send("read company name", Effect.succeed(undefined)),
    update: (type, id) => send(`update ${type}`, id === "found-1" ? refused(404) : Effect.void),
    associate: () => send("associate", Effect.void),
    definitions: () => send("read definitions", Effect.succeed({ definitions: new Map(), readNow: true })),
    forgetDefinitions: () => Effect.void,
    now: Effect.succeed(0)
  }
  return { api, sent }
}

/**
 * Salesforce's API down its rare paths: a Lead write refused for its country (picklists), a Lead without a country
 * of its own, a Task write refused for a status read earlier (as many as `refuseTaskWrites` says).
 */
const fakeSalesforce = () => {
  const state = { sent: [] as Array<string>, refuseTaskWrites: 0 }
  const refused = (errorCode: string, fields: ReadonlyArray<string>) =>
    Effect.fail(
      new SalesforceCallFailed({ failure: { status: 400, body: [{ errorCode, fields, message: "refused" }] } })
    )
  const answer = (method: string, path: string, body?: object): Effect.Effect<unknown, SalesforceCallFailed> => {
    if (method === "PATCH" && path.startsWith("/sobjects/Lead/"))
      return typeof (body as { Country?: unknown }).Country === "string"
        ? refused("FIELD_INTEGRITY_EXCEPTION", ["Country"])
        : Effect.succeed({ id: "00Q000000000001", created: false })
    if (method === "PATCH" && path.startsWith("/sobjects/Task/")) {
      if (state.refuseTaskWrites === 0) return Effect.succeed({ id: "00T000000000001", created: false })
      state.refuseTaskWrites--
      return refused("INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", ["Status"])
    }
    if (method === "GET" && path.startsWith("/query"))
      return Effect.succeed({
        records: [
          { ApiName: "Not Started", IsClosed: false, IsDefault: true },
          { ApiName: "Completed", IsClosed: true, IsDefault: false }
        ]
      })
    if (method === "GET" && path.includes("?fields=Id,Country"))
      return Effect.succeed({ Id: "00Q000000000001", Country: "" })
    if (method === "GET") return Effect.succeed({ Id: "00Q000000000001" })
    return Effect.die(`unexpected ${method} ${path}`)
  }
  const api: SalesforceApi = {
    rest: <A>(method: "GET" | "PATCH" | "POST", path: string, body?: object) =>
      Effect.suspend(() => {
        state.sent.push(`${method} ${path.split("?")[0]}`)
        return answer(method, path, body) as Effect.Effect<A, SalesforceCallFailed>
      }),
    convertLead: () => Effect.die("not planned"),
    userId: Effect.die("not planned")
  }
  return { api, state }
}

/** The calls `call` makes, sent alone by a HubSpot executor's tools, down the longest paths. */
const hubSpotCalls = (call: CrmCall): ReadonlyArray<string> => {
  const { api, sent } = fakeHubSpot()
  Effect.runSync(Effect.either(hubSpotTools(api, defaultProperties)(call)))
  return sent
}

/**
 * The calls `call` makes by a Salesforce executor's tools that knows the org's Task statuses already (another lead's
 * task read them) but not this lead's id, the statuses then refused once (an admin edited the picklist since).
 */
const salesforceCalls = (call: CrmCall): ReadonlyArray<string> => {
  const { api, state } = fakeSalesforce()
  const tools = salesforceTools(api, defaultFields)
  const another = calls(plan("High Fit", "Route to SDR", Option.none()))
    .filter((c) => c.tool === "log_activity")
    .map((c) => ({ ...c, params: { ...c.params, leadKey: "another-lead" } }) as CrmCall)
  for (const warmUp of another) Effect.runSync(Effect.either(tools(warmUp)))
  state.sent.length = 0
  state.refuseTaskWrites = 1
  Effect.runSync(Effect.either(tools(call)))
  return state.sent
}

const counted: Record<RealCrm, (call: CrmCall) => ReadonlyArray<string>> = {
  HUBSPOT: hubSpotCalls,
  SALESFORCE: salesforceCalls
}
const callCost: Record<RealCrm, (call: CrmCall) => number> = {
  HUBSPOT: hubSpotCallCost,
  SALESFORCE: salesforceCallCost
}

describe("the CRM calls one lead may make, one after another", () => {
  it("takes the longest plan the consumer makes: an enriched lead routed to an SDR; every other costs no more", () => {
    expect(plan("High Fit", "Route to SDR", Option.some(company)).map((action) => action.tool)).toEqual([
      ...longestPlan
    ])
    for (const crm of ["HUBSPOT", "SALESFORCE"] as const) {
      const cost = (actions: ReadonlyArray<CrmAction>) =>
        actions.reduce((sum, action) => sum + crmCallsPerAction[crm][action.tool as PlannedTool], 0)
      for (const actions of plans) {
        for (const action of actions) expect(Object.keys(crmCallsPerAction[crm])).toContain(action.tool)
        expect(cost(actions)).toBeLessThanOrEqual(cost(calls(plan("High Fit", "Route to SDR", Option.some(company)))))
      }
    }
  })

  it.each(["HUBSPOT", "SALESFORCE"] as const)(
    "%s: counts each planned action's calls as its tools make them down their longest path",
    (crm) => {
      const made = Object.fromEntries(planned.map((call) => [call.tool, counted[crm](call).length]))
      expect(made).toEqual(crmCallsPerAction[crm])
      // never fewer than the tools' own count of their usual calls (HubSpot's burst budget, the CRM-wide rate limit)
      for (const call of planned) expect(made[call.tool]).toBeGreaterThanOrEqual(callCost[crm](call))
    }
  )

  it("adds one change of credentials to the longest plan's calls, and CRM_TIMEOUT_MS for each", () => {
    expect(crmCallsPerLead("HUBSPOT")).toBe(2 + 8 + 2 + 3 + 3 + crmSignInCalls.HUBSPOT)
    expect(crmCallsPerLead("SALESFORCE")).toBe(2 + 3 + 1 + 4 + 4 + crmSignInCalls.SALESFORCE)
    expect(perLeadWorstCaseMs({ analyzer: "HEURISTIC", crmProvider: "HUBSPOT", environment: {} }).ms).toBe(
      crmCallsPerLead("HUBSPOT") * 10_000
    )
  })
})
