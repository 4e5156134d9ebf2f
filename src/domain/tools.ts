import * as Schema from "effect/Schema"
import { Decision, Intent } from "./analysis.js"
import { canonicalJson } from "./canonical.js"
import { PlannedLeadStatus } from "./leadStatus.js"
import { sha256Hex } from "./leadKey.js"
import { refuseUnsendable } from "./text.js"

/** A text argument: at most `max` characters, none a control but tab / LF / CR nor an unpaired surrogate (text.ts). */
const Text = (max: number) => Schema.String.pipe(Schema.maxLength(max), refuseUnsendable)
/**
 * A required text the CRM refuses empty (a name, a stage, a subject): refused here, naming it, before any call. The
 * MCP read tools' required arguments (src/mcp/catalog.ts) use it too.
 */
export const RequiredText = (max: number) =>
  Schema.String.pipe(Schema.minLength(1), Schema.maxLength(max), refuseUnsendable)
const LeadKey = Schema.String.pipe(Schema.pattern(/^[0-9a-f]{64}$/, { message: () => "leadKey must be 64 hex chars" }))
const CrmId = Schema.String.pipe(
  Schema.pattern(/^[A-Za-z0-9_-]{1,64}$/, { message: () => "CRM ids are 1-64 [A-Za-z0-9_-]" })
)
/**
 * A day that exists, in the range both CRMs store: Salesforce's date fields take 1700-01-01 to 4000-12-31, and
 * HubSpot refuses a day that is not one ("2026-02-30"). Checked here so a planned action with such a date is refused
 * by the guard, naming it, before any CRM call, instead of failing at the CRM.
 */
const isCalendarDate = (text: string) => {
  const year = Number(text.slice(0, 4))
  const month = Number(text.slice(5, 7))
  const day = Number(text.slice(8, 10))
  if (year < 1700 || year > 4000 || month < 1 || month > 12 || day < 1) return false
  // day 0 of the next month is this month's last
  return day <= new Date(Date.UTC(year, month, 0)).getUTCDate()
}
const IsoDate = Schema.String.pipe(
  Schema.pattern(/^\d{4}-\d{2}-\d{2}$/, { message: () => "dates are YYYY-MM-DD" }),
  Schema.filter(isCalendarDate, {
    message: (issue) => `${String(issue.actual)} is no calendar date from 1700-01-01 to 4000-12-31`,
    jsonSchema: { format: "date" },
    arbitrary: () => (fc) =>
      fc
        .date({ min: new Date("1700-01-01T00:00:00Z"), max: new Date("4000-12-31T00:00:00Z"), noInvalidDate: true })
        .map((date) => date.toISOString().slice(0, 10))
  })
)
const Domain = Schema.String.pipe(
  // the top-level label letters, or an internationalised one in its punycode form (.рф is xn--p1ai)
  Schema.pattern(/^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+(?:[a-z]{2,63}|xn--[a-z0-9-]{1,59})$/, {
    message: () => "domain must be a DNS name"
  })
)

/**
 * Numbers as the CRMs' fields hold them: Salesforce refuses a value with more integer digits than its field has
 * (NUMBER_OUTSIDE_VALID_RANGE) and rounds extra decimals to the field's scale; HubSpot's number properties take any
 * of these. So decimals pass (Salesforce rounds an amount to cents, a revenue to whole units; HubSpot keeps them),
 * integer digits are bounded: Lead.NumberOfEmployees is an int (at most 2^31 - 1), Lead.AnnualRevenue a
 * Currency(18, 0) (under 10^18) and Opportunity.Amount a Currency(16, 2) (at most 99,999,999,999,999.99, so no value
 * rounds up to a 15th digit). Out-of-range values are refused here, naming the field, not by the CRM after the
 * rate limits were spent.
 */
const Employees = Schema.Int.pipe(
  Schema.between(0, 2_147_483_647, { message: () => "must be an integer from 0 to 2147483647 (an int at the CRM)" })
)
const AnnualRevenue = Schema.Number.pipe(
  Schema.nonNegative(),
  Schema.lessThan(1e18, { message: () => "must be below 10^18 (18 integer digits at the CRM)" })
)
const Amount = Schema.Number.pipe(
  Schema.nonNegative(),
  // the double nearest 99,999,999,999,999.99 (JSON's 99999999999999.99 parses to it)
  Schema.lessThanOrEqualTo(99_999_999_999_999.98, {
    message: () => "must be at most 99999999999999.99 (14 integer digits and cents at the CRM)"
  })
)
/** A Salesforce StageName holds 40 characters (HubSpot's deal stage ids are shorter). */
const Stage = RequiredText(40)

/** Identifies the lead a tool acts on: the external id (lead key) and the email, which every CRM can look up. */
const LeadRef = { leadKey: LeadKey, email: RequiredText(254) }

/** Person fields shared by lead and contact tools. */
const Person = {
  firstName: Schema.optional(Text(80)),
  lastName: Schema.optional(Text(80)),
  company: Schema.optional(Text(255)),
  title: Schema.optional(Text(128)),
  phone: Schema.optional(Text(40)),
  website: Schema.optional(Text(255)),
  country: Schema.optional(Text(64))
}

const strict = { parseOptions: { onExcessProperty: "error" as const } }

/** Parameter schemas of every CRM tool the pipeline may call. A tool not in here is never executed. */
export const ToolParams = {
  upsert_lead: Schema.Struct({
    ...LeadRef,
    ...Person,
    campaignId: RequiredText(128),
    leadSource: Schema.optional(Text(64))
  }).annotations(strict),
  create_lead: Schema.Struct({ ...LeadRef, ...Person, campaignId: RequiredText(128) }).annotations(strict),
  convert_lead: Schema.Struct({
    ...LeadRef,
    accountId: Schema.optional(CrmId),
    convertedStatus: RequiredText(64),
    createOpportunity: Schema.Boolean
  }).annotations(strict),
  // a planned status: each executor writes its CRM's own value for it (see leadStatus.ts)
  update_lead_status: Schema.Struct({ ...LeadRef, status: PlannedLeadStatus }).annotations(strict),
  set_lead_score: Schema.Struct({
    ...LeadRef,
    score: Schema.Int.pipe(Schema.between(0, 100)),
    intent: Intent,
    decision: Decision
  }).annotations(strict),
  match_account: Schema.Struct({ ...LeadRef, domain: Domain }).annotations(strict),
  create_contact: Schema.Struct({ ...LeadRef, ...Person, accountId: Schema.optional(CrmId) }).annotations(strict),
  create_opportunity: Schema.Struct({
    ...LeadRef,
    name: RequiredText(120),
    stage: Stage,
    closeDate: IsoDate,
    amount: Schema.optional(Amount),
    accountId: Schema.optional(CrmId)
  }).annotations(strict),
  update_opportunity_stage: Schema.Struct({ ...LeadRef, opportunityId: CrmId, stage: Stage }).annotations(strict),
  create_task: Schema.Struct({
    ...LeadRef,
    subject: RequiredText(255),
    description: Schema.optional(Text(4000)),
    priority: Schema.Literal("High", "Normal", "Low"),
    dueDate: Schema.optional(IsoDate)
  }).annotations(strict),
  // description may be empty: the consumer's note is the analysis's reasoning, which may be
  log_activity: Schema.Struct({ ...LeadRef, subject: RequiredText(255), description: Text(4000) }).annotations(strict),
  sync_firmographics: Schema.Struct({
    ...LeadRef,
    industry: Schema.optional(Text(128)),
    employees: Schema.optional(Employees),
    annualRevenue: Schema.optional(AnnualRevenue),
    country: Schema.optional(Text(64)),
    domain: Schema.optional(Domain)
  }).annotations(strict)
} as const

export type ToolName = keyof typeof ToolParams
export const toolNames = Object.keys(ToolParams) as ReadonlyArray<ToolName>
export const ToolName = Schema.Literal(...toolNames)

export type ParamsOf<T extends ToolName> = (typeof ToolParams)[T]["Type"]

/** One planned CRM call. The action key makes a retried job skip what already happened. */
export type CrmAction = { readonly [T in ToolName]: { readonly tool: T; readonly params: ParamsOf<T> } }[ToolName]

export const isToolName = (name: string): name is ToolName => Object.hasOwn(ToolParams, name)

/** sha256 over lead key, tool and canonical (key-sorted) parameters: equal actions share a key across retries. */
export const actionKey = (leadKey: string, tool: string, params: unknown): string =>
  sha256Hex(`${leadKey}\n${tool}\n${canonicalJson(params)}`)
