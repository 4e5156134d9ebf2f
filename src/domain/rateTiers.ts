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

/** The HTTP calls one action costs, and the CRM's own per-interval call limit when it has one (HubSpot's burst). */
export interface ActionCalls {
  readonly cost: number
  readonly window?: { readonly limit: number; readonly intervalMs: number } | undefined
}

/**
 * Rate-limit tiers for one CRM action: per lead and per account domain (one permit per action: they stop one lead
 * or account from crowding out the rest), CRM-wide (one permit per HTTP call the action may make, since a CRM's
 * quota counts calls) and, when the CRM has one, its interval limit, per call too. A cost above a tier's limit is
 * cut to the limit, so no action can wait for ever.
 */
export const tiersFor = (
  lead: Pick<LeadRecord, "leadKey" | "input">,
  provider: string,
  limits: TierLimits,
  usage?: { readonly used: number; readonly limit: number },
  calls: ActionCalls = { cost: 1 }
) => {
  const crmLimit = crmTierLimit(limits.crm, usage)
  const tiers = [
    { name: "lead", key: `lead:${lead.leadKey}`, limit: limits.perLead, windowMs: limits.windowMs },
    {
      name: "account",
      key: `account:${accountDomain(lead.input)}`,
      limit: limits.perAccount,
      windowMs: limits.windowMs
    },
    {
      name: "crm",
      key: `crm:${provider}`,
      limit: crmLimit,
      windowMs: limits.windowMs,
      cost: Math.min(calls.cost, crmLimit)
    }
  ]
  if (calls.window === undefined) return tiers
  const { limit, intervalMs } = calls.window
  return [
    ...tiers,
    {
      name: "crm_interval",
      key: `crm-interval:${provider}`,
      limit,
      windowMs: intervalMs,
      cost: Math.min(calls.cost, limit)
    }
  ]
}
