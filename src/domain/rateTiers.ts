import { accountDomain } from "./lead.js"
import type { LeadRecord } from "./record.js"

/** Configured per-window limits of the three tiers. */
export interface TierLimits {
  readonly perLead: number
  readonly perAccount: number
  readonly crm: number
  readonly windowMs: number
}

/** Share of the CRM's own quota below which the CRM-wide tier starts to tighten. */
export const TIGHTEN_BELOW_REMAINING = 0.1

/**
 * The CRM-wide limit, tightened when the CRM says its quota is nearly spent: full until 10 % of the quota is
 * left, then shrinking linearly with what remains, never below 1 (a trickle keeps the usage reading fresh).
 */
export const crmTierLimit = (limit: number, usage: { readonly used: number; readonly limit: number } | undefined) => {
  if (usage === undefined || usage.limit <= 0) return limit
  const remaining = Math.max(0, (usage.limit - usage.used) / usage.limit)
  if (remaining >= TIGHTEN_BELOW_REMAINING) return limit
  return Math.max(1, Math.floor((limit * remaining) / TIGHTEN_BELOW_REMAINING))
}

/** Rate-limit tiers for one CRM call: per lead, per account domain, CRM-wide (per provider). */
export const tiersFor = (
  lead: Pick<LeadRecord, "leadKey" | "input">,
  provider: string,
  limits: TierLimits,
  usage?: { readonly used: number; readonly limit: number }
) => [
  { name: "lead", key: `lead:${lead.leadKey}`, limit: limits.perLead, windowMs: limits.windowMs },
  { name: "account", key: `account:${accountDomain(lead.input)}`, limit: limits.perAccount, windowMs: limits.windowMs },
  { name: "crm", key: `crm:${provider}`, limit: crmTierLimit(limits.crm, usage), windowMs: limits.windowMs }
]
