import { maskEmail, redactPersonalTextFor, redactWith } from "../domain/redact.js"
import type { ActionRecord, LeadRecord } from "../domain/record.js"
import type { LeadAudit, LeadSummary } from "./views.js"

/**
 * How an operator's view masks free text about one lead: emails, phone numbers and URL passwords (`redactText`), and
 * this lead's own names, email and phone in any spelling (`redactPersonalTextFor`). The company stays: it names the
 * account (a company that quotes the person's names has them masked).
 */
const maskFor = (lead: LeadRecord) => redactPersonalTextFor(lead.input)

/**
 * A lead list row: the email masked to its domain, which names the account but not the person; the free text shown
 * beside it (campaign, company, error) with any email, phone number or of the lead's own names in it masked, as the
 * audit view masks them.
 */
export const leadSummary = (lead: LeadRecord): LeadSummary => {
  const mask = maskFor(lead)
  return {
    id: lead.id,
    source: lead.source,
    status: lead.status,
    email: maskEmail(lead.input.email),
    campaignId: mask(lead.input.campaignId),
    ...(lead.input.company ? { company: mask(lead.input.company) } : {}),
    ...(lead.grounding ? { decision: lead.grounding.analysis.decision, grounding: lead.grounding.outcome } : {}),
    ...(lead.error ? { error: mask(lead.error) } : {}),
    createdAt: lead.createdAt.toISOString(),
    updatedAt: lead.updatedAt.toISOString()
  }
}

/**
 * What happened to a lead, for an operator's screen: its input, analysis (evidence values, reasoning), grounding
 * (reasons) and audit rows with PII masked, the lead's own names, email and phone included wherever they appear (rows
 * stored before a rule was added are masked again here).
 */
export const leadAudit = (lead: LeadRecord, actions: ReadonlyArray<ActionRecord>): LeadAudit => {
  const mask = maskFor(lead)
  const masked = <A>(value: A): A => redactWith(value, mask) as A
  return {
    id: lead.id,
    source: lead.source,
    status: lead.status,
    input: masked(lead.input) as unknown as Record<string, unknown>,
    ...(lead.analysis ? { analysis: masked(lead.analysis) } : {}),
    ...(lead.grounding ? { grounding: masked(lead.grounding) } : {}),
    ...(lead.error ? { error: mask(lead.error) } : {}),
    actions: actions.map((action) => ({
      id: action.id,
      actionKey: action.actionKey,
      tool: action.tool,
      provider: action.provider,
      status: action.status,
      params: masked(action.params),
      ...(action.crmId ? { crmId: action.crmId } : {}),
      ...(action.result !== undefined ? { result: masked(action.result) } : {}),
      ...(action.error ? { error: mask(action.error) } : {}),
      durationMs: action.durationMs,
      ...(action.source ? { source: action.source } : {}),
      createdAt: action.createdAt.toISOString()
    })),
    createdAt: lead.createdAt.toISOString(),
    updatedAt: lead.updatedAt.toISOString()
  }
}

/**
 * A dead letter row: the lead's masked email, its campaign and why it failed (emails, phone numbers and the lead's
 * own names masked).
 */
export const deadLetter = (lead: LeadRecord) => {
  const mask = maskFor(lead)
  return {
    id: lead.id,
    email: maskEmail(lead.input.email),
    campaignId: mask(lead.input.campaignId),
    error: mask(lead.error ?? "failed"),
    failedAt: lead.updatedAt.toISOString()
  }
}
