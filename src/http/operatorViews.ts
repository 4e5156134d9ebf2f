import { maskEmail, redact, redactText } from "../domain/redact.js"
import type { ActionRecord, LeadRecord } from "../domain/record.js"
import type { LeadAudit, LeadSummary } from "./views.js"

/**
 * A lead list row: the email masked to its domain, which names the account but not the person; the free text shown
 * beside it (campaign, company) with any email or phone number in it masked, as the audit view masks them.
 */
export const leadSummary = (lead: LeadRecord): LeadSummary => ({
  id: lead.id,
  source: lead.source,
  status: lead.status,
  email: maskEmail(lead.input.email),
  campaignId: redactText(lead.input.campaignId),
  ...(lead.input.company ? { company: redactText(lead.input.company) } : {}),
  ...(lead.grounding ? { decision: lead.grounding.analysis.decision, grounding: lead.grounding.outcome } : {}),
  ...(lead.error ? { error: lead.error } : {}),
  createdAt: lead.createdAt.toISOString(),
  updatedAt: lead.updatedAt.toISOString()
})

/** What happened to a lead, for an operator's screen: input with PII masked, the audit rows as stored (redacted). */
export const leadAudit = (lead: LeadRecord, actions: ReadonlyArray<ActionRecord>): LeadAudit => ({
  id: lead.id,
  source: lead.source,
  status: lead.status,
  input: redact(lead.input) as Record<string, unknown>,
  ...(lead.analysis ? { analysis: lead.analysis } : {}),
  ...(lead.grounding ? { grounding: lead.grounding } : {}),
  ...(lead.error ? { error: lead.error } : {}),
  actions: actions.map((action) => ({
    id: action.id,
    actionKey: action.actionKey,
    tool: action.tool,
    provider: action.provider,
    status: action.status,
    params: action.params,
    ...(action.crmId ? { crmId: action.crmId } : {}),
    ...(action.result !== undefined ? { result: redact(action.result) } : {}),
    ...(action.error ? { error: action.error } : {}),
    durationMs: action.durationMs,
    ...(action.source ? { source: action.source } : {}),
    createdAt: action.createdAt.toISOString()
  })),
  createdAt: lead.createdAt.toISOString(),
  updatedAt: lead.updatedAt.toISOString()
})

/** A dead letter row: the lead's masked email, its campaign (emails and phone numbers in it masked) and why it failed. */
export const deadLetter = (lead: LeadRecord) => ({
  id: lead.id,
  email: maskEmail(lead.input.email),
  campaignId: redactText(lead.input.campaignId),
  error: lead.error ?? "failed",
  failedAt: lead.updatedAt.toISOString()
})
