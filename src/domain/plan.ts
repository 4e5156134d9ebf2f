import type * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import type { Grounding } from "./analysis.js"
import { describe, personalFieldPaths } from "./grounding.js"
import type { Enrichment } from "./enrichment.js"
import { accountDomain } from "./lead.js"
import { dropHidden } from "./text.js"
import type { LeadRecord } from "./record.js"
import { type CrmAction, ToolParams } from "./tools.js"

const DAY_MS = 24 * 3600 * 1000

/**
 * What the CRMs' fields hold (the tool's schema bounds them the same way): a provider's figure outside them, or not a
 * finite non-negative number, is left out of the firmographics sync rather than have the guard refuse the whole sync.
 */
const EMPLOYEES_BOUND = 2_147_483_648
const REVENUE_BOUND = 1e18
const within = (value: number, bound: number): number | undefined =>
  Number.isFinite(value) && value >= 0 && value < bound ? value : undefined

/** The tools' own check of a domain (a DNS name of ASCII labels): what the guard lets through. */
const isToolDomain = Schema.is(ToolParams.match_account.fields.domain)

/**
 * The account domain as the CRMs' company keys hold it, or undefined when it is no DNS name the guard accepts. A
 * lead's website is written by hand: the fully qualified form's trailing dot (`acme.com.`) is dropped, an
 * internationalised name (`münchen.de`) becomes its ASCII (punycode) form as DNS knows it, and what is still no DNS
 * name (an IP address, `acme_corp.com`) is left out, so the firmographics go to the contact alone rather than the
 * guard refusing the whole sync after the lead was written.
 */
export const crmDomain = (domain: string): string | undefined => {
  const host = domain.trim().toLowerCase().replace(/\.+$/, "")
  if (isToolDomain(host)) return host
  // the URL parser's host: IDNA to punycode, percent-decoding, IPv4 forms recognised (and then refused below)
  const parsed = URL.canParse(`http://${host}`) ? new URL(`http://${host}`).hostname.replace(/\.+$/, "") : undefined
  return parsed !== undefined && isToolDomain(parsed) ? parsed : undefined
}

/** YYYY-MM-DD, `days` after `from`. Derived from the lead's creation time so a retry plans the same action. */
const dateAfter = (from: Date, days: number) => new Date(from.getTime() + days * DAY_MS).toISOString().slice(0, 10)

/**
 * What the CRM's note and tasks say about the analysis: the decision, the fit and each verified fact it rests on
 * (personal values not repeated), then grounding's reasons — built from checked data only. The model's own
 * reasoning is not written to the CRM: it is free text grounding cannot check (a lead's planted instructions, a
 * number it made up), and a sales rep reads these notes as RevenueFlow's word. It stays with the lead in
 * RevenueFlow (GET /leads/{id}, the console).
 */
const verifiedSummary = (grounding: Grounding): string => {
  const { analysis } = grounding
  const facts = analysis.evidence.map((e) => {
    const personal = (e.source === "MARKETING" || e.source === "PRODUCT") && personalFieldPaths.has(e.fieldPath)
    return `- ${e.claimType}: ${e.source} ${e.fieldPath} = ${personal ? "(verified)" : describe(e.value)}`
  })
  return [
    `${analysis.intent}, fit ${Math.round(analysis.fitScore)}/100: ${analysis.decision}.`,
    ...(facts.length === 0 ? [] : ["Verified facts:", ...facts]),
    ...grounding.reasons.map((reason) => `Grounding: ${reason}`)
  ]
    .join("\n")
    .slice(0, 4000)
}

const defined = <T extends Record<string, unknown>>(value: T): T =>
  Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T

/**
 * The CRM actions for a grounded analysis, in the order they run. A REJECTED grounding plans nothing: an analysis
 * whose claims do not hold never reaches the CRM. Plans are deterministic, so action keys survive retries.
 */
export const planActions = (
  lead: LeadRecord,
  grounding: Grounding,
  enrichment: Option.Option<Enrichment>
): ReadonlyArray<CrmAction> => {
  if (grounding.outcome === "REJECTED") return []
  const { input } = lead
  const ref = { leadKey: lead.leadKey, email: input.email }
  const analysis = grounding.analysis
  const actions: Array<CrmAction> = [
    {
      tool: "upsert_lead",
      params: defined({
        ...ref,
        firstName: input.firstName,
        lastName: input.lastName,
        company: input.company ?? (enrichment._tag === "Some" ? enrichment.value.name : undefined),
        title: input.title,
        phone: input.phone,
        website: input.website,
        country: input.country,
        campaignId: input.campaignId,
        leadSource: input.source ?? lead.source
      })
    }
  ]
  if (enrichment._tag === "Some") {
    const company = enrichment.value
    actions.push({
      tool: "sync_firmographics",
      params: defined({
        ...ref,
        industry: company.industry === undefined ? undefined : dropHidden(company.industry),
        employees: company.employees === undefined ? undefined : within(Math.round(company.employees), EMPLOYEES_BOUND),
        annualRevenue: company.annualRevenue === undefined ? undefined : within(company.annualRevenue, REVENUE_BOUND),
        country: company.country === undefined ? undefined : dropHidden(company.country),
        domain: crmDomain(accountDomain(input))
      })
    })
  }
  if (analysis.intent === "Manual Review") {
    actions.push({
      tool: "create_task",
      params: {
        ...ref,
        subject: "Review lead: automated analysis was inconclusive",
        description: `The analysis could not decide on this lead; see lead ${lead.id} in RevenueFlow.`,
        priority: "Normal",
        dueDate: dateAfter(lead.createdAt, 2)
      }
    })
    return actions
  }
  actions.push({
    tool: "set_lead_score",
    params: { ...ref, score: Math.round(analysis.fitScore), intent: analysis.intent, decision: analysis.decision }
  })
  actions.push({
    tool: "log_activity",
    params: {
      ...ref,
      subject: `RevenueFlow: ${analysis.intent} (${Math.round(analysis.fitScore)}) - ${analysis.decision}`,
      description: verifiedSummary(grounding)
    }
  })
  if (analysis.decision === "Route to SDR") {
    actions.push({
      tool: "create_task",
      params: {
        ...ref,
        subject: `Follow up with ${analysis.intent} lead`,
        description: verifiedSummary(grounding),
        priority: "High",
        dueDate: dateAfter(lead.createdAt, 1)
      }
    })
  } else if (analysis.decision === "Nurture") {
    actions.push({ tool: "update_lead_status", params: { ...ref, status: "Nurture" } })
  }
  return actions
}
