import * as Effect from "effect/Effect"
import { type LeadStatusMap, hubSpotLeadStatuses } from "../../src/domain/leadStatus.js"
import { KEYED_UPSERT_CONFLICT_CODE, STALE_DEFINITIONS_CODE } from "../../src/domain/crmErrors.js"
import type { ParamsOf } from "../../src/domain/tools.js"
import type { CrmCall, CrmResult } from "../../services/CrmExecutor.js"
import { HubSpotCallFailed, isValidationError, validationMessage } from "./call.js"
import type { HubSpotProperties } from "./config.js"
import { type Fetched, adapt } from "./properties.js"

/** A company found by its domain. */
export interface FoundCompany {
  readonly id: string
  readonly name: string | undefined
}

/** Object types the tools write. */
export type UpsertType = "contacts" | "companies" | "deals" | "tasks" | "notes"
export type ObjectType = UpsertType

/** The HubSpot operations the tools are made of (implemented with @hubspot/api-client). */
export interface HubSpotApi {
  /** POST /crm/v3/objects/{type}/batch/upsert with one input keyed by a unique property. */
  readonly upsert: (
    type: UpsertType,
    idProperty: string,
    id: string,
    properties: Record<string, string>
  ) => Effect.Effect<{ id: string; created: boolean }, HubSpotCallFailed>
  /** POST /crm/v3/objects/companies/search for domain EQ value: the oldest such company, with its name. */
  readonly findCompanyByDomain: (domain: string) => Effect.Effect<FoundCompany | undefined, HubSpotCallFailed>
  /**
   * GET /crm/v3/objects/companies/{key}?idProperty={companyKey}&properties=name: the company holding that company key,
   * undefined if none. A read by a unique property sees a company the moment it is written, unlike search.
   */
  readonly companyByKey: (idProperty: string, key: string) => Effect.Effect<FoundCompany | undefined, HubSpotCallFailed>
  /** GET /crm/v3/objects/contacts/{email}?idProperty=email&properties=…: the contact's values, undefined if none. */
  readonly contactByEmail: (
    email: string,
    properties: ReadonlyArray<string>
  ) => Effect.Effect<{ id: string; properties: Record<string, string | null> } | undefined, HubSpotCallFailed>
  /** GET /crm/v3/objects/companies/{id}?properties=name: the company's name ("" or absent when it has none). */
  readonly companyName: (id: string) => Effect.Effect<string | undefined, HubSpotCallFailed>
  /** PATCH /crm/v3/objects/{type}/{id}. */
  readonly update: (
    type: "deals" | "companies" | "contacts",
    id: string,
    properties: Record<string, string>
  ) => Effect.Effect<void, HubSpotCallFailed>
  /** PUT /crm/v4/objects/{from}/{fromId}/associations/default/{to}/{toId} (idempotent). */
  readonly associate: (
    from: ObjectType,
    fromId: string,
    to: ObjectType,
    toId: string
  ) => Effect.Effect<void, HubSpotCallFailed>
  /** GET /crm/v3/properties/{type}: the type's property definitions, kept per process for a few minutes. */
  readonly definitions: (type: UpsertType) => Effect.Effect<Fetched, HubSpotCallFailed>
  /** Forgets `type`'s kept definitions, so the next write that needs them reads them again. */
  readonly forgetDefinitions: (type: UpsertType) => Effect.Effect<void>
  readonly now: Effect.Effect<number>
}

/** Drops unset values and stringifies the rest: HubSpot properties are strings on the wire. */
const props = (record: Record<string, string | number | undefined>): Record<string, string> =>
  Object.fromEntries(
    Object.entries(record)
      .filter(([, value]) => value !== undefined)
      .map(([name, value]) => [name, String(value)])
  )

/** HubSpot answers an unset property as null, absent or "". */
const unnamed = (name: string | null | undefined): boolean => name == null || name.trim() === ""

const priority = { High: "HIGH", Normal: "MEDIUM", Low: "LOW" } as const

/**
 * The contact HubSpot names when it refuses to create one that exists (409 "Contact already exists. Existing ID: N":
 * the email is another contact's secondary email, or a concurrent upsert created it first); undefined for any other.
 */
export const existingContactId = (error: HubSpotCallFailed): string | undefined => {
  if (error.failure.status !== 409) return undefined
  const body = error.failure.body as { readonly message?: unknown } | undefined
  const message = typeof body === "object" && body !== null && typeof body.message === "string" ? body.message : ""
  return /^Contact already exists\. Existing ID: (\d+)/.exec(message)?.[1]
}

/**
 * Text as the body of a note or task, which HubSpot holds and shows as HTML: `&`, `<`, `>` and `"` escaped, so a lead's
 * text is read as written and never as markup, and each line break a `<br>` (HTML collapses a newline into a space).
 */
export const htmlText = (text: string): string =>
  text
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/\r\n|\r|\n/g, "<br>")

/** HubSpot's default lifecycle stages, earliest first: the order when the portal's definition lists none. */
const defaultLifecycleStages = [
  "subscriber",
  "lead",
  "marketingqualifiedlead",
  "salesqualifiedlead",
  "opportunity",
  "customer",
  "evangelist",
  "other"
]

/**
 * The most HTTP calls each tool makes (HubSpot's limits count calls, not actions): contact upserts 1; a firmographics
 * sync may first read the property definitions (1), then a company sync searches, upserts or updates, may read a
 * company's name and name it, upserts the contact and associates it (7 in all; 2 without a domain); engagements upsert
 * the contact and the engagement and associate them (3); a conversion reads the contact's stage and may read the
 * contact definitions before its upsert (3; 4 with an account); an account match searches, then reads by the company
 * key (2). Rare paths add one: a 401 retried with a rotated token, a contact upsert answered 409 naming the existing
 * contact (it is updated by id), a company found by search but deleted or merged since (its update answered 404, it is
 * upserted by key instead).
 */
export const callCost = (call: CrmCall): number => {
  switch (call.tool) {
    case "upsert_lead":
    case "create_lead":
    case "update_lead_status":
    case "set_lead_score":
    case "update_opportunity_stage":
      return 1
    case "match_account":
      // searches by domain, then (search lags) reads by the company key
      return 2
    case "sync_firmographics":
      return call.params.domain === undefined ? 2 : 7
    case "create_contact":
      return call.params.accountId === undefined ? 1 : 2
    case "convert_lead":
      // reads the contact's stage and the contact definitions, then upserts (and associates)
      return call.params.accountId === undefined ? 3 : 4
    case "create_opportunity":
      return call.params.accountId === undefined ? 3 : 4
    case "create_task":
    case "log_activity":
      return 3
  }
}

/** Maps every registered tool onto HubSpot: contacts by email, companies by domain, deals/tasks/notes by action key. */
export const makeTools = (api: HubSpotApi, p: HubSpotProperties, statuses: LeadStatusMap = hubSpotLeadStatuses) => {
  // A contact HubSpot says exists (409 naming it) is updated by its id instead: the write is not lost, nor the lead.
  // Its primary email is left as it is (the lead's may be its secondary one).
  const contact = (email: string, properties: Record<string, string | number | undefined> = {}) =>
    Effect.catchAll(api.upsert("contacts", "email", email, props({ email, ...properties })), (error) => {
      const id = existingContactId(error)
      if (id === undefined) return Effect.fail(error)
      const values = props(properties)
      return Effect.as(Object.keys(values).length > 0 ? api.update("contacts", id, values) : Effect.void, {
        id,
        created: false
      })
    })

  // An upsert keyed by a unique property HubSpot resolves atomically, yet it refuses one that races another upsert of
  // the same key (409 CONFLICT: two leads of one new domain at once, a retry racing an upsert still in flight). The
  // upsert is idempotent: the refusal becomes transient (its body's category would make it permanent), and the retry
  // finds the object the other upsert made, instead of the lead failing.
  const keyedUpsert = (
    type: Exclude<UpsertType, "contacts">,
    idProperty: string,
    id: string,
    properties: Record<string, string>
  ) =>
    Effect.catchIf(
      api.upsert(type, idProperty, id, properties),
      (error) => error.failure.status === 409,
      (error) =>
        Effect.fail(
          new HubSpotCallFailed({
            failure: {
              status: 409,
              headers: error.failure.headers,
              code: KEYED_UPSERT_CONFLICT_CODE,
              message: `HubSpot refused the ${type} upsert by ${idProperty} as conflicting with another upsert of the same key; the retry finds the object (${validationMessage(error.failure)})`
            }
          })
        )
    )

  const asResult =
    (object: string) =>
    (res: { id: string; created: boolean }): CrmResult => ({
      crmId: res.id,
      detail: { object, created: res.created }
    })

  // A company that existed before us (created in HubSpot, without our key) is found by its domain. Search lags new
  // objects by seconds, so a miss proves nothing: the company is then upserted by the unique company key, which
  // HubSpot resolves atomically, so concurrent and retried leads of one domain converge on one company (it does not
  // merge companies made through the API). A company without a name is named after its domain — one the upsert just
  // created, or one an earlier attempt created and could not name (its answer lost, its process stopped before the
  // name was sent) —, and a name already there (edited in HubSpot) is never overwritten. Search lags deletes and merges
  // too: a company it finds may be gone (its update answered 404), and then the upsert by key is what is left.
  const companyFor = (domain: string, properties: Record<string, string>) => {
    const byKey = Effect.tap(keyedUpsert("companies", p.companyKey, domain, { domain, ...properties }), (res) =>
      Effect.flatMap(res.created ? Effect.succeed(undefined) : api.companyName(res.id), (name) =>
        unnamed(name) ? api.update("companies", res.id, { name: domain }) : Effect.void
      )
    )
    return Effect.flatMap(api.findCompanyByDomain(domain), (found) => {
      if (found === undefined) return byKey
      const update = unnamed(found.name) ? { ...properties, name: domain } : properties
      // with nothing to write, the company is read instead: the contact is never associated with one that is gone
      const touch =
        Object.keys(update).length > 0 ? api.update("companies", found.id, update) : api.companyName(found.id)
      return touch.pipe(
        Effect.as({ id: found.id, created: false }),
        Effect.catchIf(
          (error) => error.failure.status === 404,
          () => byKey
        )
      )
    })
  }

  const personProps = (x: ParamsOf<"create_contact"> | ParamsOf<"upsert_lead"> | ParamsOf<"create_lead">) => ({
    firstname: x.firstName,
    lastname: x.lastName,
    company: x.company,
    jobtitle: x.title,
    phone: x.phone,
    website: x.website,
    country: x.country,
    [p.leadKey]: x.leadKey
  })

  // The engagement is upserted by action key, then tied to the contact; both steps are idempotent.
  const engagement = (
    call: CrmCall,
    type: "tasks" | "notes",
    properties: Record<string, string | number | undefined>
  ) =>
    Effect.gen(function* () {
      const person = yield* contact(call.params.email)
      const res = yield* keyedUpsert(type, p.actionKey, call.actionKey, props(properties))
      yield* api.associate(type, res.id, "contacts", person.id)
      return { crmId: res.id, detail: { object: type, created: res.created, contactId: person.id } }
    })

  // Enrichment is free text and HubSpot refuses a whole write over one value its definitions do not allow: the values
  // are fitted to the definitions first, and what cannot be written is left out and named. Nothing to write, no read
  // (and no kept definitions a refusal could blame: it stands, as under definitions read now).
  const fitted = (type: UpsertType, values: Record<string, string | number | undefined>) =>
    Object.values(values).every((value) => value === undefined)
      ? Effect.succeed({ properties: {}, omitted: [], readNow: true })
      : Effect.map(api.definitions(type), ({ definitions, readNow }) => ({
          ...adapt(type, definitions, values),
          readNow
        }))

  // A write of fitted values that HubSpot refuses (VALIDATION_ERROR) may mean the portal's properties changed: the
  // kept definitions are dropped. Fitted to definitions kept from an earlier call, the refusal is transient, so the
  // retry fits the values again to freshly read ones instead of failing the lead; fitted to definitions read for this
  // very call, it stands.
  const fittedWrite = <A>(type: UpsertType, readNow: boolean, write: Effect.Effect<A, HubSpotCallFailed>) =>
    Effect.catchIf(
      write,
      (error) => isValidationError(error.failure),
      (error) =>
        Effect.zipRight(
          api.forgetDefinitions(type),
          Effect.fail(
            readNow
              ? error
              : new HubSpotCallFailed({
                  failure: {
                    status: error.failure.status,
                    code: STALE_DEFINITIONS_CODE,
                    message: `HubSpot refused values fitted to ${type} property definitions read earlier; they are read again on the retry (${validationMessage(error.failure)})`
                  }
                })
          )
        )
    )

  const timestamp = (date: string | undefined) =>
    date === undefined
      ? Effect.map(api.now, (ms) => new Date(ms).toISOString())
      : Effect.succeed(`${date}T00:00:00.000Z`)

  return (call: CrmCall): Effect.Effect<CrmResult, HubSpotCallFailed> => {
    switch (call.tool) {
      case "upsert_lead":
      case "create_lead":
        return Effect.map(contact(call.params.email, personProps(call.params)), asResult("contact"))
      case "update_lead_status": {
        const leadStatus = statuses[call.params.status]
        return Effect.map(contact(call.params.email, { [p.leadStatus]: leadStatus }), (res) => ({
          crmId: res.id,
          detail: { object: "contact", created: res.created, leadStatus }
        }))
      }
      case "set_lead_score":
        return Effect.map(
          contact(call.params.email, {
            [p.score]: call.params.score,
            [p.intent]: call.params.intent,
            [p.decision]: call.params.decision
          }),
          asResult("contact")
        )
      case "sync_firmographics": {
        const x = call.params
        const type = x.domain === undefined ? "contacts" : "companies"
        return Effect.gen(function* () {
          const { properties, omitted, readNow } = yield* fitted(type, {
            [p.industry]: x.industry,
            [p.employees]: x.employees,
            [p.annualRevenue]: x.annualRevenue,
            country: x.country
          })
          const left = omitted.length > 0 ? { omitted } : {}
          if (x.domain === undefined) {
            const person = yield* fittedWrite(type, readNow, contact(x.email, properties))
            return { crmId: person.id, detail: { object: "contact", created: person.created, ...left } }
          }
          const company = yield* fittedWrite(type, readNow, companyFor(x.domain, properties))
          const person = yield* contact(x.email)
          yield* api.associate("contacts", person.id, "companies", company.id)
          return {
            crmId: company.id,
            detail: { object: "company", created: company.created, contactId: person.id, ...left }
          }
        })
      }
      case "match_account":
        // Search lags new objects by seconds: a company a sync just upserted by its key (to HubSpot it is the domain)
        // is not found by search yet, so a miss is read again by that key, which sees it at once. Search first, as
        // `companyFor` decides: a company made in HubSpot (without our key) is the one syncs update.
        return Effect.flatMap(api.findCompanyByDomain(call.params.domain), (searched) =>
          Effect.map(
            searched === undefined ? api.companyByKey(p.companyKey, call.params.domain) : Effect.succeed(searched),
            (found) => ({ crmId: found?.id, detail: { object: "company", matched: found !== undefined } })
          )
        )
      case "create_contact": {
        const x = call.params
        return Effect.gen(function* () {
          const person = yield* contact(x.email, personProps(x))
          if (x.accountId !== undefined) yield* api.associate("contacts", person.id, "companies", x.accountId)
          return asResult("contact")(person)
        })
      }
      case "convert_lead": {
        // HubSpot has no lead conversion: the contact moves along the lifecycle and joins its company. The stage only
        // moves forward (HubSpot ignores a plain write of an earlier stage): a contact already at or past the target
        // keeps its stage, and the result says so. The converted status is fitted to hs_lead_status's options.
        const x = call.params
        const target = x.createOpportunity ? "opportunity" : "salesqualifiedlead"
        return Effect.gen(function* () {
          const existing = yield* api.contactByEmail(x.email, ["lifecyclestage"])
          const current = existing?.properties.lifecyclestage ?? ""
          const { definitions, readNow } = yield* api.definitions("contacts")
          const listed = (definitions.get("lifecyclestage")?.options ?? []).map((o) => o.value)
          const order = listed.length > 0 ? listed : defaultLifecycleStages
          const rank = (stage: string) => (order.includes(stage) ? order.indexOf(stage) : Number.POSITIVE_INFINITY)
          const moves = current === "" || rank(current) < rank(target)
          const { properties, omitted } = adapt("contacts", definitions, { [p.leadStatus]: x.convertedStatus })
          const person = yield* fittedWrite(
            "contacts",
            readNow,
            contact(x.email, { ...properties, ...(moves ? { lifecyclestage: target } : {}) })
          )
          if (x.accountId !== undefined) yield* api.associate("contacts", person.id, "companies", x.accountId)
          const leadStatus = properties[p.leadStatus]
          return {
            crmId: person.id,
            detail: {
              object: "contact",
              created: person.created,
              converted: moves,
              lifecycleStage: moves ? target : current,
              ...(moves ? {} : { stageKept: `${current} is not before ${target}: HubSpot does not move it back` }),
              ...(leadStatus === undefined ? {} : { leadStatus }),
              ...(omitted.length > 0 ? { omitted } : {})
            }
          }
        })
      }
      case "create_opportunity": {
        const x = call.params
        return Effect.gen(function* () {
          const person = yield* contact(x.email)
          const deal = yield* keyedUpsert(
            "deals",
            p.actionKey,
            call.actionKey,
            props({
              dealname: x.name,
              dealstage: x.stage,
              closedate: x.closeDate,
              amount: x.amount,
              pipeline: p.dealPipeline
            })
          )
          yield* api.associate("deals", deal.id, "contacts", person.id)
          if (x.accountId !== undefined) yield* api.associate("deals", deal.id, "companies", x.accountId)
          return { crmId: deal.id, detail: { object: "deal", created: deal.created } }
        })
      }
      case "update_opportunity_stage":
        return Effect.as(api.update("deals", call.params.opportunityId, { dealstage: call.params.stage }), {
          crmId: call.params.opportunityId,
          detail: { object: "deal" }
        })
      case "create_task": {
        const x = call.params
        return Effect.flatMap(timestamp(x.dueDate), (hsTimestamp) =>
          engagement(call, "tasks", {
            hs_timestamp: hsTimestamp,
            hs_task_subject: x.subject,
            hs_task_body: x.description === undefined ? undefined : htmlText(x.description),
            hs_task_priority: priority[x.priority],
            hs_task_status: "NOT_STARTED"
          })
        )
      }
      case "log_activity": {
        const x = call.params
        return Effect.flatMap(timestamp(undefined), (hsTimestamp) =>
          engagement(call, "notes", {
            hs_timestamp: hsTimestamp,
            hs_note_body: htmlText(`${x.subject}\n\n${x.description}`)
          })
        )
      }
    }
  }
}
