import * as Effect from "effect/Effect"
import { type LeadStatusMap, salesforceLeadStatuses } from "../../src/domain/leadStatus.js"
import { escapeSoqlLike } from "../../src/domain/soql.js"
import type { ParamsOf } from "../../src/domain/tools.js"
import type { CrmCall, CrmResult } from "../../services/CrmExecutor.js"
import { KEYED_UPSERT_CONFLICT_CODE, UNEXPECTED_RESPONSE_CODE } from "../../src/domain/crmErrors.js"
import { SalesforceCallFailed } from "./call.js"
import type { SalesforceFields } from "./config.js"
import { type TaskStatuses, makeTaskStatuses } from "./taskStatuses.js"

/** The two ways the tools reach Salesforce: REST (relative to /services/data/vXX.X) and SOAP convertLead. */

/** The text country fields an org's State and Country/Territory Picklists restrict. */
const COUNTRY_FIELDS: ReadonlyArray<string> = ["Country", "MailingCountry", "BillingCountry"]

/**
 * The country fields of `body` a write was refused for (FIELD_INTEGRITY_EXCEPTION naming them): a value an org with
 * State and Country/Territory Picklists does not have. Empty for any other refusal.
 */
const refusedCountries = (error: SalesforceCallFailed, body: Record<string, unknown>): ReadonlyArray<string> => {
  const entries = Array.isArray(error.failure.body) ? error.failure.body : []
  const named = entries
    .filter((entry: { errorCode?: unknown }) => entry?.errorCode === "FIELD_INTEGRITY_EXCEPTION")
    .flatMap((entry: { fields?: unknown }) => (Array.isArray(entry.fields) ? entry.fields.map(String) : []))
  return COUNTRY_FIELDS.filter((field) => named.includes(field) && typeof body[field] === "string")
}

/**
 * An upsert by an external id refused with DUPLICATE_VALUE on that very id field: another upsert of the same key
 * (a retry racing one still in flight after a timeout, the MCP server and the consumer at once) inserted the record
 * between this one's lookup and its insert. The upsert is idempotent, so a retry finds that record; any other
 * DUPLICATE_VALUE (a unique field of the org's own) stays what it is.
 */
const duplicateOfKey = (error: SalesforceCallFailed, keyFields: ReadonlyArray<string>): boolean => {
  const body = error.failure.body
  if (!Array.isArray(body)) return false
  const keys = keyFields.map((name) => name.toLowerCase())
  return body.some((entry: { errorCode?: unknown; fields?: unknown; message?: unknown }) => {
    if (entry?.errorCode !== "DUPLICATE_VALUE") return false
    const named = Array.isArray(entry.fields) ? entry.fields.map((f) => String(f).toLowerCase()) : []
    const message = typeof entry.message === "string" ? entry.message.toLowerCase() : ""
    return keys.some((key) => named.includes(key) || message.includes(key))
  })
}

export interface SalesforceApi {
  readonly rest: <A>(
    method: "GET" | "PATCH" | "POST",
    path: string,
    body?: object,
    headers?: Readonly<Record<string, string>>
  ) => Effect.Effect<A, SalesforceCallFailed>
  readonly convertLead: (
    leadConvert: Record<string, string | boolean>
  ) => Effect.Effect<ConvertResult, SalesforceCallFailed>
  /** The id of the user the executor signs in as (the integration user). */
  readonly userId: Effect.Effect<string, SalesforceCallFailed>
}

/** convertLead's result as jsforce returns it from the SOAP envelope (every leaf a string). */
export interface ConvertResult {
  readonly success?: unknown
  readonly accountId?: unknown
  readonly contactId?: unknown
  readonly opportunityId?: unknown
  readonly errors?: unknown
}

interface UpsertResult {
  readonly id?: string
  readonly created?: boolean
}

const seg = encodeURIComponent
const text = (value: unknown): string | undefined => (typeof value === "string" && value !== "" ? value : undefined)

/**
 * Headers on every write. The REST API runs the org's active assignment rules on any Lead create or update (and on
 * those a trigger makes) unless `Sforce-Auto-Assign: FALSE` says otherwise: only the call that creates the Lead lets
 * them choose its owner, so no later write takes back a Lead an SDR claimed.
 */
export const assignOwner = { "Sforce-Auto-Assign": "TRUE" } as const
export const keepOwner = { "Sforce-Auto-Assign": "FALSE" } as const
/**
 * A Lead (or Contact) is one per lead key, so the same person in another campaign is a second one by design: an Alert
 * duplicate rule (the standard ones are) lets it be saved only when asked to (every field of the header defaults to
 * false). A Block rule still refuses; the error names the matched records.
 */
export const saveDuplicates = { "Sforce-Duplicate-Rule-Header": "allowSave=true" } as const

/**
 * Text field lengths from Salesforce's object reference for the fields the tools write; a longer value fails the
 * whole call (STRING_TOO_LONG), so it is shortened and the action's detail names the field. Picklists (LeadSource,
 * Industry, StageName) describe at length 40 too. Email is never cut: a shortened address would be someone else's
 * (Salesforce refuses one over 80 as invalid). Description (Task) is 32,000, more than any tool allows.
 */
export const textLengths: Readonly<
  Record<"Lead" | "Contact" | "Task" | "Opportunity", Readonly<Record<string, number>>>
> = {
  Lead: {
    FirstName: 40,
    LastName: 80,
    Company: 255,
    Title: 128,
    Phone: 40,
    Website: 255,
    Country: 80,
    LeadSource: 40,
    Industry: 40
  },
  Contact: { FirstName: 40, LastName: 80, Title: 128, Phone: 40, MailingCountry: 80 },
  Opportunity: { Name: 120, StageName: 40 },
  Task: { Subject: 255 }
}

/** A queue's id (key prefix 00G): a Lead's OwnerId may name one, an Account's, Contact's or Opportunity's not. */
export const isQueueId = (id: unknown): boolean => typeof id === "string" && id.startsWith("00G")

/** The longest start of `value` within `max` UTF-16 units, never splitting a surrogate pair, trailing spaces dropped. */
export const fitText = (value: string, max: number): string => {
  if (value.length <= max) return value
  let cut = value.slice(0, max)
  const last = cut.charCodeAt(cut.length - 1)
  if (last >= 0xd800 && last <= 0xdbff) cut = cut.slice(0, -1)
  return cut.trimEnd() || cut
}

/** `body` with its text fields fitted to `object`'s lengths, and the names of those it shortened (never values). */
export const fitFields = (
  object: string,
  body: Record<string, unknown>
): { body: Record<string, unknown>; shortened: ReadonlyArray<string> } => {
  const lengths: Readonly<Record<string, number>> = textLengths[object as keyof typeof textLengths] ?? {}
  const shortened: Array<string> = []
  const fitted = Object.fromEntries(
    Object.entries(body).map(([field, value]) => {
      const max = lengths[field]
      if (max === undefined || typeof value !== "string" || value.length <= max) return [field, value]
      shortened.push(field)
      return [field, fitText(value, max)]
    })
  )
  return { body: fitted, shortened }
}

/** Company from the email's domain, last name from its local part: Salesforce requires both on a Lead. */
export const derivedNames = (email: string): { company: string; lastName: string } => {
  const at = email.lastIndexOf("@")
  const local = at > 0 ? email.slice(0, at).trim() : ""
  const domain =
    at >= 0
      ? email
          .slice(at + 1)
          .trim()
          .toLowerCase()
      : ""
  return { company: fitText(domain, 255) || "Unknown", lastName: fitText(local, 80) || "Unknown" }
}

const defined = (record: Record<string, unknown>) =>
  Object.fromEntries(Object.entries(record).filter(([, value]) => value !== undefined))

const hostOf = (website: string): string =>
  website
    .trim()
    .toLowerCase()
    .replace(/^[a-z]+:\/\//, "")
    .replace(/[/:?#].*$/, "")
    .replace(/^www\./, "")

/**
 * The most API calls each tool makes (the CRM-wide rate limit counts calls, like Salesforce's daily quota): a task
 * may look its lead's id up first, a conversion reads the lead before the SOAP call, firmographics with a country read
 * the lead's own first; everything else is one call.
 */
export const callCost = (call: CrmCall): number =>
  // (a conversion of a queue's lead with a given access token asks the identity service once per process, and the first
  // task reads the org's Task statuses once per process: neither counted)
  call.tool === "create_task" ||
  call.tool === "log_activity" ||
  call.tool === "convert_lead" ||
  (call.tool === "sync_firmographics" && call.params.country !== undefined)
    ? 2
    : 1

/** Maps every registered tool onto the Salesforce REST API (convert_lead onto SOAP, the only API that has it). */
export const makeTools = (
  api: SalesforceApi,
  fields: SalesforceFields,
  statuses: LeadStatusMap = salesforceLeadStatuses,
  convertOwnerId?: string
) => {
  // What a Task names (WhoId) by lead key: the Lead's id, or once it is converted its Contact's (a converted Lead
  // may be read, never referenced: "cannot reference converted lead"), so Task.WhoId needs no lookup after an upsert
  // or a conversion in the same process.
  const leadIds = new Map<string, string>()
  const remember = (leadKey: string, id: string | undefined) => {
    if (id === undefined) return
    if (leadIds.size >= 10_000) leadIds.delete(leadIds.keys().next().value as string)
    leadIds.set(leadKey, id)
  }

  const byLeadKey = (object: "Lead" | "Contact", leadKey: string) =>
    `/sobjects/${object}/${seg(fields.leadKey)}/${seg(leadKey)}`
  const byActionKey = (object: "Task" | "Opportunity", actionKey: string) =>
    `/sobjects/${object}/${seg(fields.actionKey)}/${seg(actionKey)}`

  const upsert = (
    path: string,
    body: object,
    object: string,
    headers: Readonly<Record<string, string>>
  ): Effect.Effect<CrmResult, SalesforceCallFailed> => {
    const fitted = fitFields(object, defined(body as Record<string, unknown>))
    const send = (payload: Record<string, unknown>) =>
      api.rest<UpsertResult | undefined>("PATCH", path, payload, headers).pipe(
        Effect.catchIf(
          (error) => duplicateOfKey(error, [fields.leadKey, fields.actionKey]),
          (error) =>
            Effect.fail(
              new SalesforceCallFailed({
                failure: {
                  ...error.failure,
                  body: undefined,
                  code: KEYED_UPSERT_CONFLICT_CODE,
                  message: `Salesforce refused the ${object} upsert by its key as a duplicate of a record another upsert of the same key made meanwhile; the retry finds that record`
                }
              })
            )
        ),
        // an upsert answers with the record's id: anything else (a redirect not followed, a proxy's page) wrote nothing
        // we know of, and is tried again rather than taken as done
        Effect.filterOrFail(
          (res): res is UpsertResult => typeof res?.id === "string" && res.id !== "",
          () =>
            new SalesforceCallFailed({
              failure: {
                code: UNEXPECTED_RESPONSE_CODE,
                message: `Salesforce answered the ${object} upsert without a record id (a redirect, or a page that is not the API's)`
              }
            })
        )
      )
    // An org with State and Country/Territory Picklists takes only its own country names: a form's "USA" or an
    // enrichment's ISO code would refuse the whole write (FIELD_INTEGRITY_EXCEPTION), so the write is sent again once
    // without the country it refused, and the result names it in `omitted`, as HubSpot's fitted values are.
    const written = send(fitted.body).pipe(
      Effect.map((res) => ({ res, omitted: [] as ReadonlyArray<{ field: string; reason: string }> })),
      Effect.catchIf(
        (error) => refusedCountries(error, fitted.body).length > 0,
        (error) => {
          const refused = refusedCountries(error, fitted.body)
          return Effect.map(
            send(Object.fromEntries(Object.entries(fitted.body).filter(([field]) => !refused.includes(field)))),
            (res) => ({
              res,
              omitted: refused.map((field) => ({
                field,
                reason: `${JSON.stringify(fitted.body[field])} is not one of the org's countries (State and Country/Territory Picklists)`
              }))
            })
          )
        }
      )
    )
    return Effect.map(written, ({ res, omitted }) => ({
      crmId: res.id,
      detail: {
        object,
        created: res.created ?? false,
        ...(fitted.shortened.length === 0 ? {} : { shortened: fitted.shortened }),
        ...(omitted.length === 0 ? {} : { omitted })
      }
    }))
  }

  /** A Lead write: only the one that creates it (`creates`) lets the assignment rules pick its owner. */
  const patchLead = (leadKey: string, body: Record<string, unknown>, creates = false) =>
    Effect.tap(
      upsert(byLeadKey("Lead", leadKey), body, "Lead", {
        ...(creates ? assignOwner : keepOwner),
        ...saveDuplicates
      }),
      (res) => remember(leadKey, res.crmId)
    )

  /** The id a Task of this Lead names: the Lead's own, or the Contact it was converted into. */
  const whoOf = (lead: { Id?: string; IsConverted?: unknown; ConvertedContactId?: unknown } | undefined) =>
    lead?.IsConverted === true && typeof lead.ConvertedContactId === "string" ? lead.ConvertedContactId : lead?.Id
  const WHO_FIELDS = "Id,IsConverted,ConvertedContactId"

  const whoId = (leadKey: string): Effect.Effect<string, SalesforceCallFailed> => {
    const known = leadIds.get(leadKey)
    return known !== undefined
      ? Effect.succeed(known)
      : Effect.map(
          api.rest<{ Id: string; IsConverted?: unknown; ConvertedContactId?: unknown }>(
            "GET",
            `${byLeadKey("Lead", leadKey)}?fields=${WHO_FIELDS}`
          ),
          (lead) => {
            const who = whoOf(lead) ?? lead.Id
            remember(leadKey, who)
            return who
          }
        )
  }

  /**
   * A Lead has one Country, the person's own (a form's, a rep's), while the enrichment's is the company's headquarters:
   * it fills an empty Country only, so the lead is read first (a lead not there yet is written as before). A rep's edit
   * between the read and the write is the one thing this does not see.
   */
  const firmographics = (p: ParamsOf<"sync_firmographics">): Effect.Effect<CrmResult, SalesforceCallFailed> => {
    const body = {
      [fields.industry]: p.industry,
      [fields.employees]: p.employees,
      [fields.annualRevenue]: p.annualRevenue,
      Website: p.domain
    }
    if (p.country === undefined) return patchLead(p.leadKey, body)
    const country = p.country
    return Effect.gen(function* () {
      const found = yield* api
        .rest<{ Id?: string; Country?: unknown; IsConverted?: unknown; ConvertedContactId?: unknown }>(
          "GET",
          `${byLeadKey("Lead", p.leadKey)}?fields=Country,${WHO_FIELDS}`
        )
        .pipe(
          Effect.catchIf(
            (error) => error.failure.status === 404,
            () => Effect.succeed(undefined)
          )
        )
      remember(p.leadKey, whoOf(found))
      if (typeof found?.Country !== "string" || found.Country.trim() === "") {
        return yield* patchLead(p.leadKey, { ...body, Country: country })
      }
      const res = yield* patchLead(p.leadKey, body)
      const omitted = Array.isArray(res.detail?.omitted) ? res.detail.omitted : []
      return {
        ...res,
        detail: {
          ...res.detail,
          omitted: [
            ...omitted,
            {
              field: "Country",
              reason: "the lead has a country of its own, kept: the company's fills an empty one only"
            }
          ]
        }
      }
    })
  }

  const leadBody = (p: ParamsOf<"upsert_lead"> | ParamsOf<"create_lead">) => {
    const derived = derivedNames(p.email)
    return {
      Email: p.email,
      FirstName: p.firstName,
      LastName: p.lastName ?? derived.lastName,
      Company: p.company ?? derived.company,
      Title: p.title,
      Phone: p.phone,
      Website: p.website,
      Country: p.country,
      LeadSource: "leadSource" in p ? p.leadSource : undefined
    }
  }

  // Task Status is a restricted picklist each org edits: its values are the org's own, read from it
  const withTaskStatuses = makeTaskStatuses((soql) => api.rest("GET", `/query?q=${seg(soql)}`))
  const task = (call: CrmCall, body: (statuses: TaskStatuses) => Record<string, unknown>) => {
    const leadKey = call.params.leadKey
    const send = (who: string) =>
      withTaskStatuses((statuses) =>
        upsert(byActionKey("Task", call.actionKey), { ...body(statuses), WhoId: who }, "Task", keepOwner)
      )
    return Effect.flatMap(whoId(leadKey), (who) =>
      send(who).pipe(
        // the Lead was converted since its id was kept (by a user, or another process): read it again, once, and
        // name the Contact it became
        Effect.catchIf(
          (error) => error.failure.code === "CANNOT_UPDATE_CONVERTED_LEAD" && leadIds.get(leadKey) === who,
          (error) => {
            leadIds.delete(leadKey)
            return Effect.flatMap(whoId(leadKey), (again) => (again === who ? Effect.fail(error) : send(again)))
          }
        )
      )
    )
  }

  const convert = (p: ParamsOf<"convert_lead">): Effect.Effect<CrmResult, SalesforceCallFailed> =>
    Effect.gen(function* () {
      const lead = yield* api.rest<Record<string, unknown>>(
        "GET",
        `${byLeadKey("Lead", p.leadKey)}?fields=Id,OwnerId,IsConverted,ConvertedAccountId,ConvertedContactId,ConvertedOpportunityId`
      )
      const ids = (accountId: unknown, contactId: unknown, opportunityId: unknown) =>
        defined({ accountId: text(accountId), contactId: text(contactId), opportunityId: text(opportunityId) })
      // A replay after a crash finds the lead converted: report the first conversion instead of failing.
      if (lead.IsConverted === true) {
        remember(p.leadKey, whoOf(lead))
        return {
          crmId: text(lead.ConvertedContactId),
          detail: {
            object: "LeadConvert",
            converted: false,
            ...ids(lead.ConvertedAccountId, lead.ConvertedContactId, lead.ConvertedOpportunityId)
          }
        }
      }
      // The new Account, Contact and Opportunity get the lead's owner unless ownerId names another; a queue cannot own
      // them, so a queue's lead (the usual assignment rule for web leads) names the configured user or the
      // integration user. A lead a user owns keeps that user: a rep who worked it keeps the deal.
      const ownerId = isQueueId(lead.OwnerId) ? (convertOwnerId ?? (yield* api.userId)) : undefined
      const result = yield* api.convertLead(
        defined({
          // in the order of LeadConvert's xsd:sequence
          accountId: p.accountId,
          convertedStatus: p.convertedStatus,
          doNotCreateOpportunity: !p.createOpportunity,
          leadId: String(lead.Id),
          ownerId
        }) as Record<string, string | boolean>
      )
      if (String(result.success) !== "true") {
        const error = (Array.isArray(result.errors) ? result.errors[0] : result.errors) as
          | { statusCode?: string; message?: string }
          | undefined
        return yield* new SalesforceCallFailed({
          failure: {
            status: 400,
            code: error?.statusCode ?? "CONVERT_FAILED",
            message: error?.message ?? "lead conversion failed"
          }
        })
      }
      // the Lead is converted: a later Task of it names the Contact
      remember(p.leadKey, text(result.contactId))
      return {
        crmId: text(result.contactId),
        detail: {
          object: "LeadConvert",
          converted: true,
          ...ids(result.accountId, result.contactId, result.opportunityId)
        }
      }
    })

  const matchAccount = (domain: string): Effect.Effect<CrmResult, SalesforceCallFailed> => {
    // Built only from the sanitiser: the domain is escaped for a LIKE literal (quotes, backslashes, % and _).
    const query = `SELECT Id, Name, Website FROM Account WHERE Website LIKE '%${escapeSoqlLike(domain)}%' ORDER BY CreatedDate ASC LIMIT 20`
    return Effect.map(
      api.rest<{ records: ReadonlyArray<{ Id: string; Website?: string | null }> }>("GET", `/query?q=${seg(query)}`),
      (res) => {
        const match = res.records.find((account) => hostOf(account.Website ?? "") === domain.toLowerCase())
        return { crmId: match?.Id, detail: { object: "Account", matched: match !== undefined } }
      }
    )
  }

  return (call: CrmCall): Effect.Effect<CrmResult, SalesforceCallFailed> => {
    switch (call.tool) {
      case "upsert_lead":
      case "create_lead":
        return patchLead(call.params.leadKey, leadBody(call.params), true)
      case "update_lead_status": {
        const leadStatus = statuses[call.params.status]
        return Effect.map(patchLead(call.params.leadKey, { Status: leadStatus }), (res) => ({
          ...res,
          detail: { ...res.detail, leadStatus }
        }))
      }
      case "set_lead_score":
        return patchLead(call.params.leadKey, {
          [fields.score]: call.params.score,
          [fields.intent]: call.params.intent,
          [fields.decision]: call.params.decision
        })
      case "sync_firmographics":
        return firmographics(call.params)
      case "match_account":
        return matchAccount(call.params.domain)
      case "create_contact": {
        const p = call.params
        return upsert(
          byLeadKey("Contact", p.leadKey),
          {
            Email: p.email,
            FirstName: p.firstName,
            LastName: p.lastName ?? derivedNames(p.email).lastName,
            Title: p.title,
            Phone: p.phone,
            MailingCountry: p.country,
            AccountId: p.accountId
          },
          "Contact",
          { ...keepOwner, ...saveDuplicates }
        )
      }
      case "convert_lead":
        return convert(call.params)
      case "create_opportunity": {
        const p = call.params
        return upsert(
          byActionKey("Opportunity", call.actionKey),
          { Name: p.name, StageName: p.stage, CloseDate: p.closeDate, Amount: p.amount, AccountId: p.accountId },
          "Opportunity",
          keepOwner
        )
      }
      case "update_opportunity_stage": {
        const fitted = fitFields("Opportunity", { StageName: call.params.stage })
        return Effect.as(
          api.rest("PATCH", `/sobjects/Opportunity/${seg(call.params.opportunityId)}`, fitted.body, keepOwner),
          {
            crmId: call.params.opportunityId,
            detail: {
              object: "Opportunity",
              ...(fitted.shortened.length === 0 ? {} : { shortened: fitted.shortened })
            }
          }
        )
      }
      case "create_task":
        return task(call, (statuses) => ({
          Subject: call.params.subject,
          Description: call.params.description,
          Priority: call.params.priority,
          ActivityDate: call.params.dueDate,
          Status: statuses.open
        }))
      case "log_activity":
        return task(call, (statuses) => ({
          Subject: call.params.subject,
          Description: call.params.description,
          Status: statuses.closed
        }))
    }
  }
}
