import * as Either from "effect/Either"
import * as Schema from "effect/Schema"

/**
 * The lead statuses the pipeline plans, independent of any CRM. Each CRM stores its own values (HubSpot's
 * hs_lead_status options, a Salesforce org's Lead Status picklist), so every executor maps these to its own.
 */
export const plannedLeadStatuses = ["New", "Working", "Nurture", "Unqualified"] as const
export type PlannedLeadStatus = (typeof plannedLeadStatuses)[number]
export const PlannedLeadStatus = Schema.Literal(...plannedLeadStatuses)

/** One CRM's value for each planned status. */
export type LeadStatusMap = Readonly<Record<PlannedLeadStatus, string>>

/** HubSpot's default hs_lead_status options: NEW, OPEN, IN_PROGRESS, OPEN_DEAL, UNQUALIFIED, ATTEMPTED_TO_CONTACT, CONNECTED, BAD_TIMING. */
export const hubSpotLeadStatuses: LeadStatusMap = {
  New: "NEW",
  Working: "IN_PROGRESS",
  // a good fit that is not ready to buy: HubSpot's own option for "not now"
  Nurture: "BAD_TIMING",
  Unqualified: "UNQUALIFIED"
}

/** Salesforce's default Lead Status picklist: Open - Not Contacted, Working - Contacted, Closed - (Not) Converted. */
export const salesforceLeadStatuses: LeadStatusMap = {
  New: "Open - Not Contacted",
  Working: "Working - Contacted",
  // nurtured by marketing, not worked by sales yet: still open and not contacted
  Nurture: "Open - Not Contacted",
  Unqualified: "Closed - Not Converted"
}

const isPlanned = (name: string): name is PlannedLeadStatus =>
  (plannedLeadStatuses as ReadonlyArray<string>).includes(name)

/**
 * Reads "Nurture=IN_PROGRESS,Working=CONNECTED" over `defaults`: each entry names a planned status and the CRM value
 * to write for it (1-64 characters, no comma). Left with a message naming every bad entry.
 */
export const parseLeadStatusMap = (text: string, defaults: LeadStatusMap): Either.Either<LeadStatusMap, string> => {
  const map: Record<PlannedLeadStatus, string> = { ...defaults }
  const problems: Array<string> = []
  for (const entry of text.split(",")) {
    if (entry.trim() === "") continue
    const at = entry.indexOf("=")
    const name = (at < 0 ? entry : entry.slice(0, at)).trim()
    const value = at < 0 ? "" : entry.slice(at + 1).trim()
    if (!isPlanned(name)) problems.push(`"${name}" is not a planned status (${plannedLeadStatuses.join(", ")})`)
    else if (value === "" || value.length > 64) problems.push(`${name} needs a value of 1-64 characters`)
    else map[name] = value
  }
  return problems.length > 0 ? Either.left(problems.join("; ")) : Either.right(map)
}
