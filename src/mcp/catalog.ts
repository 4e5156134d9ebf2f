import * as JSONSchema from "effect/JSONSchema"
import * as Schema from "effect/Schema"
import { RequiredText, type ToolName, ToolParams, toolNames } from "../domain/tools.js"

/**
 * What agents see of the tools: every CRM tool of the registry (src/domain/tools.ts) with its input JSON Schema
 * generated from the same Schema the safety guard decodes with, plus read-only tools over the store and queue.
 * Pure: no service, no SDK.
 */

const strict = { parseOptions: { onExcessProperty: "error" as const } }

/**
 * A tool that takes no arguments, refusing each one given by name: an empty Struct takes any object whatever the
 * parse options say (as the ingest's NoParams for /ops/state, src/http/api.ts).
 */
const NoArguments = Schema.Struct({}).pipe(
  Schema.filter((args) => {
    const names = Object.keys(args)
    return names.length === 0 || names.map((name) => ({ path: [name], message: "is unexpected" }))
  })
)

/** Parameter schemas of the read-only tools (decoded with the same strictness as the CRM tools'). */
export const ReadParams = {
  find_lead: Schema.Struct({ email: RequiredText(254), campaignId: RequiredText(128) }).annotations(strict),
  get_lead: Schema.Struct({ leadId: RequiredText(64) }).annotations(strict),
  get_audit_trail: Schema.Struct({
    leadId: RequiredText(64),
    limit: Schema.optional(Schema.Int.pipe(Schema.between(1, 200))),
    cursor: Schema.optional(RequiredText(64))
  }).annotations(strict),
  list_dead_letters: Schema.Struct({
    limit: Schema.optional(Schema.Int.pipe(Schema.between(1, 200)))
  }).annotations(strict),
  queue_stats: NoArguments
} as const

export type ReadToolName = keyof typeof ReadParams
export const isReadToolName = (name: string): name is ReadToolName => Object.hasOwn(ReadParams, name)

const leadRefHint =
  "The lead is named by `leadKey` and `email`: call find_lead (email + campaign id) first to get its leadKey; the " +
  "email must be that lead's. Only leads RevenueFlow has accepted can be acted on."
const safetyHint =
  "Runs through RevenueFlow's safety chain (guard, rate limits, circuit breaker, audit). The answer's `executed` " +
  "says whether this call wrote to the CRM (false: an earlier action already did, nothing was written). The very " +
  "same call again writes nothing; a tool that sets a value writes again once another value was set since."

/** One line a model can act on: what the tool does at the CRM, then how to call it safely. */
const crmDescriptions: Record<ToolName, string> = {
  upsert_lead:
    "Create or update the lead (person) record at the CRM from the lead's details, keyed by its leadKey so " +
    "repeating it never makes a second record.",
  create_lead: "Create the lead record at the CRM (prefer upsert_lead, which cannot duplicate).",
  convert_lead:
    "Convert the lead into a contact (and optionally an opportunity) with the given converted status, optionally " +
    "under an existing account id.",
  update_lead_status:
    "Set the lead's status at the CRM, one of " +
    `${ToolParams.update_lead_status.fields.status.literals.map((status) => `'${status}'`).join(", ")} ` +
    "(RevenueFlow writes the CRM's own value for it).",
  set_lead_score: "Write the lead's fit score (0-100), intent and routing decision to the CRM's RevenueFlow fields.",
  match_account: "Look up the CRM account that owns a company domain (read at the CRM; nothing is changed).",
  create_contact: "Create a contact at the CRM for the lead, optionally under an account id.",
  create_opportunity:
    "Create an opportunity (deal) for the lead with a name, stage and close date (YYYY-MM-DD), optionally an amount " +
    "and account id.",
  update_opportunity_stage: "Move an existing opportunity (by its CRM id) to another stage.",
  create_task:
    "Create a follow-up task on the lead for a sales rep: subject, priority (High / Normal / Low), optional " +
    "description and due date (YYYY-MM-DD).",
  log_activity: "Log an activity (note) with a subject and description on the lead's CRM record.",
  sync_firmographics:
    "Write company facts (industry, employees, annual revenue, country, domain) to the lead's CRM record."
}

const readDescriptions: Record<ReadToolName, string> = {
  find_lead:
    "Find a lead RevenueFlow accepted, by email and campaign id. Returns its id, leadKey (needed by every CRM " +
    "tool), status and analysis, with personal data masked. Read-only.",
  get_lead: "A lead by its id: status, analysis, grounding verdict and error, with personal data masked. Read-only.",
  get_audit_trail:
    "The CRM actions recorded for a lead (by id), oldest first, a page at a time (limit, default 50; fewer when " +
    "rows are large): tool, status " +
    "(SUCCEEDED / FAILED / BLOCKED), CRM id, error and source ('mcp' for calls made through this server), with " +
    "personal data redacted. `remaining` says how many rows follow; pass `nextCursor` as `cursor` for the next " +
    "page. Read-only.",
  list_dead_letters: "Leads whose processing failed for good (dead letters), newest last, with the reason. Read-only.",
  queue_stats:
    "Queue depth (waiting, active, delayed, failed), oldest waiting job age and leads per status, each status counted " +
    "up to leadsCountedUpTo (a count equal to it means at least that many). Read-only."
}

/** Field descriptions layered over the generated schemas (the Schemas' own texts stay the guard's error messages). */
const fieldDescriptions: Record<string, string> = {
  leadKey: "The lead's key: 64 lowercase hex characters, as find_lead returns it.",
  email: "The lead's email address (must be the email of the lead named by leadKey).",
  campaignId: "The campaign the lead came from, as it was submitted.",
  leadId: "The lead's id (a UUID), as find_lead returns it.",
  accountId:
    "A CRM account id this lead's audit trail holds (match_account's crmId, convert_lead's accountId, or a HubSpot " +
    "company from sync_firmographics with a domain); any other id is refused.",
  opportunityId:
    "The CRM id of an opportunity RevenueFlow created for this lead (create_opportunity's crmId, or convert_lead's " +
    "opportunityId); any other id is refused.",
  domain: "A company DNS domain, lowercase (e.g. globex.com).",
  closeDate: "Expected close date, YYYY-MM-DD: a day that exists, 1700-01-01 to 4000-12-31.",
  dueDate: "Due date, YYYY-MM-DD: a day that exists, 1700-01-01 to 4000-12-31.",
  score: "Fit score, an integer from 0 to 100.",
  limit: "How many to return (1-200, default 50).",
  cursor: "Where to continue: the nextCursor of the page before (leave it out for the first page).",
  subject: "The subject line, as a sales rep will see it (not empty).",
  stage:
    "The stage name exactly as the CRM spells it (a Salesforce StageName or a HubSpot deal stage id), at most 40 " +
    "characters.",
  amount: "The opportunity's amount, 0 to 99999999999999.99 (Salesforce keeps cents: it rounds further decimals).",
  employees: "The company's number of employees, an integer from 0 to 2147483647.",
  annualRevenue:
    "The company's annual revenue, from 0 to below 10^18 (Salesforce keeps whole units: it rounds decimals).",
  name: "The opportunity's name (not empty).",
  convertedStatus:
    "The CRM's converted lead status, as the CRM spells it (Salesforce: a converted Lead Status, e.g. " +
    "'Closed - Converted'; HubSpot: an hs_lead_status option, e.g. 'OPEN_DEAL').",
  status: "The planned status RevenueFlow maps to the CRM's own value.",
  firstName: "The lead's first name.",
  lastName: "The lead's last name.",
  company: "The lead's company name."
}

/** Descriptions of one tool's fields where the shared one would mislead (find_lead's email names no leadKey). */
const toolFieldDescriptions: Partial<Record<string, Record<string, string>>> = {
  find_lead: { email: "The email address the lead was submitted with (its case and surrounding spaces do not matter)." }
}

type Json = { [key: string]: unknown }

/** Local `$ref`s inlined and `$defs` dropped: several agent hosts do not resolve references in tool schemas. */
const inline = (node: unknown, defs: Json): unknown => {
  if (Array.isArray(node)) return node.map((item) => inline(item, defs))
  if (node === null || typeof node !== "object") return node
  const { $ref, ...rest } = node as Json
  const base = typeof $ref === "string" && $ref.startsWith("#/$defs/") ? inline(defs[$ref.slice(8)], defs) : {}
  const out: Json = { ...(base as Json) }
  for (const [key, value] of Object.entries(rest)) out[key] = inline(value, defs)
  return out
}

/**
 * The MCP input schema of a tool's parameters (a Struct, decoded strictly): JSON Schema 2020-12 (MCP's default
 * dialect), self-contained, and at its root a plain object — its properties, the required ones, no others. Hosts
 * in front of Anthropic's API refuse a tool whose root has `anyOf` / `oneOf` / `allOf`, which Effect gives an
 * empty Struct (`{}` is any object or array in TypeScript), with an `$id` naming it.
 */
export const inputSchemaOf = (
  schema: Schema.Schema.Any,
  descriptions: Readonly<Record<string, string>> = {}
): { readonly type: "object" } & Json => {
  const {
    $schema: _dialect,
    $defs,
    ...root
  } = JSONSchema.make(schema, { target: "jsonSchema2020-12" }) as unknown as Json
  const {
    $id: _name,
    anyOf: _anyOf,
    oneOf: _oneOf,
    allOf: _allOf,
    ...inlined
  } = inline(root, ($defs ?? {}) as Json) as Json
  const properties = (inlined.properties ?? {}) as Record<string, Json>
  for (const [name, { title: _refinementName, ...property }] of Object.entries(properties)) {
    const hint = descriptions[name] ?? fieldDescriptions[name]
    properties[name] = hint === undefined ? property : { ...property, description: hint }
  }
  return { ...inlined, type: "object", properties, required: inlined.required ?? [], additionalProperties: false }
}

/** An MCP tool definition as tools/list returns it. */
export interface ToolDefinition {
  readonly name: string
  readonly title: string
  readonly description: string
  readonly inputSchema: { readonly type: "object" } & Json
  readonly annotations: {
    readonly readOnlyHint: boolean
    readonly destructiveHint: boolean
    readonly idempotentHint: boolean
    readonly openWorldHint: boolean
  }
}

/** The tools that only add to the CRM (a new record, task or note) or only read it. */
const additiveTools: ReadonlySet<ToolName> = new Set([
  "create_lead",
  "create_contact",
  "create_opportunity",
  "create_task",
  "log_activity",
  "match_account"
])

const titleOf = (name: string) => {
  const words = name.split("_").join(" ")
  return words.charAt(0).toUpperCase() + words.slice(1)
}

/** Every tool this server offers: the twelve CRM tools, then the read-only ones. */
export const toolDefinitions: ReadonlyArray<ToolDefinition> = [
  ...toolNames.map(
    (name): ToolDefinition => ({
      name,
      title: titleOf(name),
      description: `${crmDescriptions[name]} ${leadRefHint} ${safetyHint}`,
      inputSchema: inputSchemaOf(ToolParams[name]),
      annotations: {
        readOnlyHint: name === "match_account",
        // MCP: false means additive updates only. Updates overwrite what the CRM holds and a conversion cannot be
        // undone, so hosts that ask before a destructive call ask before those.
        destructiveHint: !additiveTools.has(name),
        idempotentHint: true,
        openWorldHint: true
      }
    })
  ),
  ...(Object.keys(ReadParams) as Array<ReadToolName>).map(
    (name): ToolDefinition => ({
      name,
      title: titleOf(name),
      description: readDescriptions[name],
      inputSchema: inputSchemaOf(ReadParams[name], toolFieldDescriptions[name]),
      annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false }
    })
  )
]
