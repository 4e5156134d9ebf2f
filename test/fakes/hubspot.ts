import { type FakeControls, type RecordedRequest, type Reply, startFakeServer } from "./crmFakeServer.js"
import { isHubSpotTime } from "./dates.js"
import { type FakeProperty, defaultPropertyDefinitions, wireProperty } from "./hubspotProperties.js"

export { type FakeProperty, companyIndustryOptions, defaultPropertyDefinitions } from "./hubspotProperties.js"

/** A stored CRM object as HubSpot returns it. */
export interface HsObject {
  readonly id: string
  properties: Record<string, string>
  readonly createdAt: string
  updatedAt: string
}

export interface FakeHubSpotOptions {
  /** Bearer tokens the fake accepts; replaceable with setTokens to simulate rotation. */
  readonly tokens?: ReadonlyArray<string>
  /** Calls per day (private apps); once spent, every call gets 429 with policy DAILY. */
  readonly dailyLimit?: number
  /** Calls allowed in any rolling interval (HubSpot's burst limit: 100-250 per 10 s by plan). */
  readonly burstLimit?: number
  readonly burstIntervalMs?: number
  /**
   * How long a new object stays invisible to search (HubSpot indexes asynchronously: seconds). Reads by id and
   * upserts by a unique property see it at once. Default `DEFAULT_SEARCH_LAG_MS`, as HubSpot lags: a test that needs
   * search to see what it just wrote passes 0 and says why.
   */
  readonly searchLagMs?: number
  /** Properties whose values must be unique, by object type: the only valid batch upsert idProperty values. */
  readonly uniqueProperties?: Readonly<Record<string, ReadonlyArray<string>>>
  /**
   * Properties this portal has beyond (or instead of, by name) `defaultPropertyDefinitions`, by object type: a write
   * naming any other property is refused, as HubSpot does. Unique properties are defined too (single-line text).
   */
  readonly properties?: Readonly<Record<string, ReadonlyArray<FakeProperty>>>
  /**
   * HubSpot's search endpoints have their own limit per token: this many search requests per rolling second (default
   * 5); past it, 429 "You have reached your secondly limit." Search answers carry no X-HubSpot-RateLimit-* headers.
   */
  readonly searchPerSecond?: number
  /**
   * HubSpot locks a company upserted in a very short period ("Locks will last for 2 seconds"): when set, a company
   * batch upsert of a key upserted less than this many ms before is answered 423 Locked, and nothing is written.
   */
  readonly companyLockMs?: number
  /**
   * HubSpot resolves a batch upsert's key atomically, yet refuses with 409 CONFLICT an upsert that races another one of
   * the same key (two leads of one new domain at once, a retry racing an upsert still in flight). When set, an upsert
   * by a unique property other than email (a company key, an action key) of a key whose object was created less than
   * this many ms before is answered 409 CONFLICT, and nothing is written. (A contact's race is the 409 naming it.)
   */
  readonly upsertRaceMs?: number
}

/**
 * How long the fake's search lags a new object unless told otherwise: HubSpot's search is eventually consistent, a
 * write takes seconds to reach it, so a test that sees its writes in search at once tests no real portal. Long enough
 * that an adapter relying on it fails, short enough that a test waiting it out stays quick.
 */
export const DEFAULT_SEARCH_LAG_MS = 1500

/** A portal set up as the README asks: email on contacts, the revenueflow_* keys on companies and engagements. */
export const defaultUniqueProperties: Readonly<Record<string, ReadonlyArray<string>>> = {
  contacts: ["email"],
  companies: ["revenueflow_company_key"],
  deals: ["revenueflow_action_key"],
  tasks: ["revenueflow_action_key"],
  notes: ["revenueflow_action_key"]
}

/**
 * A local HubSpot: CRM v3 objects (batch upsert, search, create, read, update, delete), v3 property definitions (read
 * all of an object type) and v4 default associations. Writes are checked against the definitions as HubSpot
 * checks them.
 */
export interface FakeHubSpot extends FakeControls {
  /** Objects by type (contacts, companies, deals, tasks, notes). */
  readonly records: Record<string, Array<HsObject>>
  /** Associations made, as "fromType:fromId->toType:toId". */
  readonly associations: Set<string>
  /** The portal's property definitions by object type, then name: edit them to change the portal under a client. */
  readonly properties: Record<string, Map<string, FakeProperty>>
  readonly setTokens: (tokens: ReadonlyArray<string>) => void
  /** Requests refused with 429 for the burst limit. */
  readonly throttled: () => number
  /** Search requests refused with 429 for the secondly limit. */
  readonly searchThrottled: () => number
  /** Company upserts refused with 423 Locked. */
  readonly locked: () => number
  /** Keyed upserts refused with 409 CONFLICT for racing another upsert of their key (`upsertRaceMs`). */
  readonly raced: () => number
}

/**
 * The text HubSpot's UI shows for an HTML property's value (a note's or a task's body), as a browser renders it: a run
 * of whitespace, newlines included, is one space; `<br>` and the end of a paragraph or block are line breaks; other
 * tags are markup, not shown; entities are the characters they name.
 */
export const shownText = (html: string): string =>
  html
    .replace(/\s+/g, " ")
    .replace(/<br\s*\/?>|<\/(?:p|div|li|h[1-6])\s*>/gi, "\n")
    .replace(/<[^>]*>/g, "")
    .replace(/&(lt|gt|quot|#39|nbsp|amp);/g, (_m, name: string) =>
      name === "lt"
        ? "<"
        : name === "gt"
          ? ">"
          : name === "quot"
            ? '"'
            : name === "#39"
              ? "'"
              : name === "nbsp"
                ? " "
                : "&"
    )
    .replace(/ *\n */g, "\n")
    .trim()

const hsError = (status: number, category: string, message: string): Reply => ({
  status,
  body: { status: "error", message, correlationId: "00000000-0000-0000-0000-000000000000", category }
})
/** HubSpot's 400 for property values it refuses: one VALIDATION_ERROR whose message lists each bad property. */
const invalidProperties = (errors: ReadonlyArray<Record<string, unknown>>): Reply =>
  hsError(400, "VALIDATION_ERROR", `Property values were not valid: ${JSON.stringify(errors)}`)

/** What HubSpot says of each property it refuses: a name the object type lacks, a value outside an enumeration. */
const propertyErrors = (
  definitions: ReadonlyMap<string, FakeProperty>,
  properties: Record<string, string>
): Array<Record<string, unknown>> =>
  Object.entries(properties).flatMap(([name, value]) => {
    const spec = definitions.get(name)
    if (spec === undefined) {
      const message = `Property "${name}" does not exist`
      return [{ isValid: false, message, error: "PROPERTY_DOESNT_EXIST", name, localizedErrorMessage: message }]
    }
    // a number is plain decimal digits: HubSpot refuses exponents and surrounding spaces ("1e-7 was not a valid number")
    if (spec.type === "number" && value !== "" && !/^-?\d+(\.\d+)?$/.test(value)) {
      const message = `${value} was not a valid number.`
      return [
        {
          isValid: false,
          message,
          error: "INVALID_INTEGER",
          name,
          localizedErrorMessage: message,
          propertyValue: value
        }
      ]
    }
    // a date or datetime: epoch milliseconds or ISO 8601 of a day that exists; else HubSpot tries it as a number
    if ((spec.type === "datetime" || spec.type === "date") && value !== "" && !isHubSpotTime(value)) {
      const message = `${value} was not a valid long.`
      return [{ isValid: false, message, error: "INVALID_LONG", name, localizedErrorMessage: message }]
    }
    const options = spec.type === "enumeration" ? (spec.options ?? []) : undefined
    if (options === undefined || value === "" || options.some((o) => o.value === value)) return []
    const allowed = options.map((o) => `label: "${o.label}"\nvalue: "${o.value}"`).join(", ")
    return [
      {
        isValid: false,
        message: `${value} was not one of the allowed options: [${allowed}]`,
        error: "INVALID_OPTION",
        name,
        localizedErrorMessage: `Property "${spec.label}" has invalid value "${value}"`
      }
    ]
  })

/** The properties every object has (and search can sort by), beside the portal's definitions. */
const builtInProperties = new Set(["createdate", "hs_lastmodifieddate", "lastmodifieddate", "hs_object_id"])

/** One sort as HubSpot reads it: "name" (ascending), "-name" (descending) or { propertyName, direction }. */
interface SearchSort {
  readonly propertyName: string
  readonly descending: boolean
}

/**
 * HubSpot's `sorts`: at most one, each a property name ("createdate"; "-createdate" for descending, as
 * @hubspot/api-client's README gives it) or `{ propertyName, direction: "ASCENDING" | "DESCENDING" }` (direction
 * optional, ascending). Anything else is refused as HubSpot refuses it (400 VALIDATION_ERROR): another direction
 * ("DESC", "descending": its enum is exact), an object without a propertyName, a property the object type lacks.
 */
const parseSorts = (
  raw: unknown,
  defined: (name: string) => boolean
): { readonly sort: SearchSort | undefined } | Reply => {
  if (raw === undefined || raw === null) return { sort: undefined }
  if (!Array.isArray(raw)) return hsError(400, "VALIDATION_ERROR", "Invalid input JSON: sorts must be an array")
  if (raw.length > 1) {
    return hsError(400, "VALIDATION_ERROR", `Only one sort is supported per search request; got ${raw.length}`)
  }
  const [first] = raw as Array<unknown>
  if (first === undefined) return { sort: undefined }
  let sort: SearchSort
  if (typeof first === "string") {
    sort = first.startsWith("-")
      ? { propertyName: first.slice(1), descending: true }
      : { propertyName: first, descending: false }
  } else if (typeof first === "object" && first !== null && !Array.isArray(first)) {
    const { propertyName, direction } = first as { propertyName?: unknown; direction?: unknown }
    if (typeof propertyName !== "string") {
      return hsError(400, "VALIDATION_ERROR", "Invalid input JSON: a sort needs a propertyName")
    }
    if (direction !== undefined && direction !== "ASCENDING" && direction !== "DESCENDING") {
      return hsError(
        400,
        "VALIDATION_ERROR",
        `Invalid input JSON: Cannot deserialize value of type \`Direction\` from String ${JSON.stringify(direction)}: not one of the values accepted for Enum class: [ASCENDING, DESCENDING]`
      )
    }
    sort = { propertyName, descending: direction === "DESCENDING" }
  } else {
    return hsError(
      400,
      "VALIDATION_ERROR",
      "Invalid input JSON: a sort is a property name or { propertyName, direction }"
    )
  }
  if (sort.propertyName === "" || !defined(sort.propertyName)) {
    return hsError(400, "VALIDATION_ERROR", `Unable to sort by property ${sort.propertyName}: it does not exist`)
  }
  return { sort }
}

const isSearch = (req: RecordedRequest) => req.method === "POST" && /^\/crm\/v3\/objects\/\w+\/search$/.test(req.path)

const associationTypes: Record<string, number> = {
  "contacts->companies": 279,
  "tasks->contacts": 204,
  "notes->contacts": 202,
  "deals->contacts": 3,
  "deals->companies": 5
}

/** Starts the fake on a free port. */
export const startFakeHubSpot = async (options: FakeHubSpotOptions = {}): Promise<FakeHubSpot> => {
  const records: Record<string, Array<HsObject>> = {}
  const associations = new Set<string>()
  let tokens = new Set(options.tokens ?? ["pat-na1-fake-token"])
  let nextId = 1000
  let used = 0
  const dailyLimit = options.dailyLimit ?? 250_000
  const table = (type: string) => {
    records[type] ??= []
    return records[type]
  }
  const now = () => new Date().toISOString()
  const searchLagMs = options.searchLagMs ?? DEFAULT_SEARCH_LAG_MS
  /** When the last object was created: each is created strictly later, so creation order is never a tie. */
  let lastCreatedAt = 0
  const companyLockMs = options.companyLockMs ?? 0
  /** When each company key was last upserted (HubSpot's lock). */
  const lockedAt = new Map<string, number>()
  let lockedCount = 0
  const upsertRaceMs = options.upsertRaceMs ?? 0
  let racedCount = 0
  /**
   * Objects deleted (archived), and when: gone for reads and writes at once, but search, which lags deletes as it lags
   * creations, still finds them for `searchLagMs`.
   */
  const gone: Array<{ readonly type: string; readonly obj: HsObject; readonly at: number }> = []
  const remove = (type: string, obj: HsObject) => {
    const rows = table(type)
    rows.splice(rows.indexOf(obj), 1)
    gone.push({ type, obj, at: Date.now() })
  }
  const uniqueProperties = options.uniqueProperties ?? defaultUniqueProperties
  const uniqueOf = (type: string) => uniqueProperties[type] ?? []
  const properties: Record<string, Map<string, FakeProperty>> = {}
  for (const [type, list] of Object.entries(defaultPropertyDefinitions)) {
    properties[type] = new Map(list.map((d) => [d.name, d]))
  }
  for (const [type, names] of Object.entries(uniqueProperties)) {
    properties[type] ??= new Map()
    for (const name of names.filter((n) => !properties[type]?.has(n))) {
      properties[type].set(name, {
        name,
        label: name,
        type: "string",
        fieldType: "text",
        hasUniqueValue: true,
        hubspotDefined: false
      })
    }
  }
  for (const [type, list] of Object.entries(options.properties ?? {})) {
    properties[type] ??= new Map()
    for (const d of list) properties[type].set(d.name, d)
  }
  const definitionsOf = (type: string) => properties[type] ?? new Map<string, FakeProperty>()
  /** A unique property whose value another object of `type` already holds (HubSpot refuses the write). */
  const duplicateOf = (type: string, properties: Record<string, string>, self?: HsObject): Reply | undefined => {
    for (const name of uniqueOf(type)) {
      const value = properties[name]
      if (value === undefined || value === "") continue
      const other = table(type).find((o) => o !== self && o.properties[name]?.toLowerCase() === value.toLowerCase())
      if (other !== undefined) return conflict(type, name, value, other.id)
    }
    return undefined
  }
  // HubSpot's 409: a contact's names the contact ("Contact already exists. Existing ID: N"), as its API answers it
  const conflict = (type: string, name: string, value: string, id: string): Reply =>
    hsError(
      409,
      "CONFLICT",
      type === "contacts"
        ? `Contact already exists. Existing ID: ${id}`
        : `An object with ${name} ${value} already exists. Existing ID: ${id}`
    )
  /**
   * A contact's other emails (hs_additional_emails, ";"-separated) are still its emails: a batch upsert by email
   * matches only primary emails, so an upsert of one creates, and HubSpot refuses that as a 409 naming the contact.
   */
  const emailOwner = (email: string, self?: HsObject): HsObject | undefined =>
    table("contacts").find(
      (o) =>
        o !== self &&
        (o.properties.email?.toLowerCase() === email.toLowerCase() ||
          (o.properties.hs_additional_emails ?? "")
            .split(";")
            .some((other) => other.trim().toLowerCase() === email.toLowerCase()))
    )
  /**
   * HubSpot does not move lifecyclestage backwards by a plain write (it must first be cleared: ""): an earlier stage,
   * in the order of the property's options, is ignored and the stage kept, with no error.
   */
  const forwardOnly = (type: string, current: HsObject | undefined, values: Record<string, string>) => {
    const wanted = values.lifecyclestage
    const now = current?.properties.lifecyclestage
    if (wanted === undefined || wanted === "" || now === undefined || now === "") return values
    const order = (definitionsOf(type).get("lifecyclestage")?.options ?? []).map((o) => o.value)
    if (order.indexOf(wanted) >= order.indexOf(now)) return values
    const { lifecyclestage: _ignored, ...kept } = values
    return kept
  }
  const create = (type: string, properties: Record<string, string>): HsObject => {
    lastCreatedAt = Math.max(Date.now(), lastCreatedAt + 1)
    const at = new Date(lastCreatedAt).toISOString()
    const obj = { id: String(++nextId), properties: { ...properties }, createdAt: at, updatedAt: at }
    table(type).push(obj)
    return obj
  }
  const wire = (obj: HsObject) => ({ ...obj, archived: false })
  // Reads (GET by id, search) answer only the properties asked for, an unset one as null, beside the ones HubSpot
  // always adds, as HubSpot does.
  const projected = (obj: HsObject, names: ReadonlyArray<string>) => ({
    ...wire(obj),
    properties: Object.fromEntries(
      [...new Set(["createdate", "hs_lastmodifieddate", "hs_object_id", ...names])].map((name) => [
        name,
        name === "createdate"
          ? obj.createdAt
          : name === "hs_lastmodifieddate"
            ? obj.updatedAt
            : name === "hs_object_id"
              ? obj.id
              : (obj.properties[name] ?? null)
      ])
    )
  })
  /** A property's value as search sorts it: times and numbers as numbers, text case-insensitively; unset, undefined. */
  const sortValue = (type: string, o: HsObject, name: string): number | string | undefined => {
    if (name === "createdate") return Date.parse(o.createdAt)
    if (name === "hs_lastmodifieddate" || name === "lastmodifieddate") return Date.parse(o.updatedAt)
    if (name === "hs_object_id") return Number(o.id)
    const value = o.properties[name]
    if (value === undefined || value === "") return undefined
    const spec = definitionsOf(type).get(name)
    if (spec?.type === "number") return Number(value)
    if (spec?.type === "datetime" || spec?.type === "date") {
      return /^\d+$/.test(value) ? Number(value) : Date.parse(value)
    }
    return value.toLowerCase()
  }
  /**
   * Search results in the order asked for (unset values last, ties by id in the same direction). With no sort HubSpot
   * guarantees no order: the fake answers newest first, so a caller relying on creation order without asking for it
   * sees it fail.
   */
  const sortedForSearch = (type: string, found: ReadonlyArray<HsObject>, sort: SearchSort | undefined) => {
    if (sort === undefined) return [...found].sort((a, b) => Number(b.id) - Number(a.id))
    const sign = sort.descending ? -1 : 1
    return [...found].sort((a, b) => {
      const x = sortValue(type, a, sort.propertyName)
      const y = sortValue(type, b, sort.propertyName)
      if (x === undefined || y === undefined) {
        if (x !== y) return x === undefined ? 1 : -1
      } else if (x !== y) {
        return (x < y ? -1 : 1) * sign
      }
      return (Number(a.id) - Number(b.id)) * sign
    })
  }
  const invalid = (type: string, values: Record<string, string>): Reply | undefined => {
    const errors: Array<Record<string, unknown>> =
      values.email !== undefined && !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(values.email)
        ? [
            {
              isValid: false,
              message: `Email address ${values.email} is invalid`,
              error: "INVALID_EMAIL",
              name: "email"
            }
          ]
        : []
    errors.push(...propertyErrors(definitionsOf(type), values))
    return errors.length > 0 ? invalidProperties(errors) : undefined
  }

  const route = (req: RecordedRequest): Reply => {
    if (!tokens.has((req.headers.authorization ?? "").replace(/^Bearer /, ""))) {
      return hsError(401, "INVALID_AUTHENTICATION", "Authentication credentials not found.")
    }
    const body = (req.json ?? {}) as Record<string, unknown>
    const v3 = /^\/crm\/v3\/objects\/(\w+)(?:\/(.+))?$/.exec(req.path)
    const v4 = /^\/crm\/v4\/objects\/(\w+)\/(\w+)\/associations\/default\/(\w+)\/(\w+)$/.exec(req.path)
    if (v4 && req.method === "PUT") {
      const [, from = "", fromId = "", to = "", toId = ""] = v4
      if (!table(from).some((o) => o.id === fromId) || !table(to).some((o) => o.id === toId)) {
        return hsError(404, "OBJECT_NOT_FOUND", "One or more objects of the association were not found")
      }
      associations.add(`${from}:${fromId}->${to}:${toId}`)
      const spec = {
        associationCategory: "HUBSPOT_DEFINED",
        associationTypeId: associationTypes[`${from}->${to}`] ?? 1
      }
      return {
        status: 200,
        body: {
          status: "COMPLETE",
          results: [{ from: { id: fromId }, to: { id: toId }, associationSpec: spec }],
          startedAt: now(),
          completedAt: now()
        }
      }
    }
    const definitions = /^\/crm\/v3\/properties\/(\w+)$/.exec(req.path)
    if (definitions && req.method === "GET") {
      const [, type = ""] = definitions
      if (properties[type] === undefined) return hsError(404, "OBJECT_NOT_FOUND", "resource not found")
      return { status: 200, body: { results: [...definitionsOf(type).values()].map((d) => wireProperty(type, d)) } }
    }
    if (!v3) return hsError(404, "OBJECT_NOT_FOUND", "resource not found")
    const [, type = "", rest] = v3
    const rows = table(type)
    if (rest === "batch/upsert" && req.method === "POST") {
      const results = []
      for (const input of (body.inputs ?? []) as Array<{
        idProperty: string
        id: string
        properties: Record<string, string>
      }>) {
        if (!uniqueOf(type).includes(input.idProperty)) {
          return hsError(
            400,
            "VALIDATION_ERROR",
            `${input.idProperty} is not a unique value property of ${type}: it cannot be used as idProperty`
          )
        }
        const bad = invalid(type, input.properties)
        if (bad) return bad
        const same = (o: HsObject) =>
          input.idProperty === "email"
            ? o.properties.email?.toLowerCase() === input.id.toLowerCase()
            : o.properties[input.idProperty] === input.id
        const found = rows.find(same)
        const owner = type === "contacts" && found === undefined ? emailOwner(input.id) : undefined
        if (owner !== undefined) return conflict(type, "email", input.id, owner.id)
        const refused = duplicateOf(type, { ...input.properties, [input.idProperty]: input.id }, found)
        if (refused) return refused
        if (
          upsertRaceMs > 0 &&
          input.idProperty !== "email" &&
          found !== undefined &&
          Date.now() - Date.parse(found.createdAt) < upsertRaceMs
        ) {
          racedCount++
          return conflict(type, input.idProperty, input.id, found.id)
        }
        if (type === "companies" && companyLockMs > 0) {
          const at = lockedAt.get(input.id)
          if (at !== undefined && Date.now() - at < companyLockMs) {
            lockedCount++
            return hsError(423, "LOCKED", "This record is locked: it was upserted moments ago. Retry in 2 seconds.")
          }
          lockedAt.set(input.id, Date.now())
        }
        if (found) {
          Object.assign(found.properties, forwardOnly(type, found, input.properties))
          found.updatedAt = now()
          results.push({ ...wire(found), new: false })
        } else {
          results.push({ ...wire(create(type, { ...input.properties, [input.idProperty]: input.id })), new: true })
        }
      }
      return { status: 200, body: { status: "COMPLETE", results, startedAt: now(), completedAt: now() } }
    }
    if (rest === "search" && req.method === "POST") {
      // HubSpot's search: the filters of a group must all match, and any one group matching is enough; at most 5
      // groups of at most 6 filters, 18 filters in all (more is a 400)
      const groups =
        (body.filterGroups as Array<{ filters: Array<{ propertyName: string; operator: string; value: string }> }>) ??
        []
      const filterCount = groups.reduce((n, g) => n + g.filters.length, 0)
      if (groups.length > 5 || groups.some((g) => g.filters.length > 6) || filterCount > 18) {
        return hsError(
          400,
          "VALIDATION_ERROR",
          "Search allows at most 5 filter groups of at most 6 filters each, and 18 filters in all"
        )
      }
      const matchesGroup = (o: { properties: Record<string, string | undefined> }) => (g: (typeof groups)[number]) =>
        g.filters.every(
          (f) => f.operator === "EQ" && o.properties[f.propertyName]?.toLowerCase() === f.value.toLowerCase()
        )
      const sorts = parseSorts(body.sorts, (name) => builtInProperties.has(name) || definitionsOf(type).has(name))
      if (!("sort" in sorts)) return sorts
      const indexedBefore = Date.now() - searchLagMs
      const stillIndexed = gone.filter((g) => g.type === type && g.at > indexedBefore).map((g) => g.obj)
      const found = [...rows, ...stillIndexed].filter(
        (o) => Date.parse(o.createdAt) <= indexedBefore && (groups.length === 0 || groups.some(matchesGroup(o)))
      )
      const matches = sortedForSearch(type, found, sorts.sort)
      return {
        status: 200,
        body: {
          total: matches.length,
          results: matches
            .slice(0, Number(body.limit ?? 10))
            .map((o) => projected(o, (body.properties as Array<string> | undefined) ?? []))
        }
      }
    }
    if (rest !== undefined && /^[^/]+$/.test(rest) && req.method === "DELETE") {
      // archive: HubSpot answers 204 whether the object existed or not
      const found = rows.find((o) => o.id === rest)
      if (found !== undefined) remove(type, found)
      return { status: 204 }
    }
    if (rest === undefined && req.method === "POST") {
      const properties = (body.properties ?? {}) as Record<string, string>
      return (
        invalid(type, properties) ??
        duplicateOf(type, properties) ?? { status: 201, body: wire(create(type, properties)) }
      )
    }
    if (rest !== undefined && /^[^/]+$/.test(rest) && rest !== "search" && req.method === "GET") {
      // by id, or by a unique property's value (`idProperty`), as HubSpot reads
      const idProperty = req.query.get("idProperty")
      if (idProperty !== null && !uniqueOf(type).includes(idProperty)) {
        return hsError(400, "VALIDATION_ERROR", `${idProperty} is not a unique value property of ${type}`)
      }
      const found = rows.find((o) =>
        idProperty === null ? o.id === rest : o.properties[idProperty]?.toLowerCase() === rest.toLowerCase()
      )
      if (!found) return hsError(404, "OBJECT_NOT_FOUND", "resource not found")
      // `properties=a,b` or `properties=a&properties=b`, as HubSpot takes either
      const names = req.query
        .getAll("properties")
        .flatMap((v) => v.split(","))
        .filter((n) => n !== "")
      return { status: 200, body: projected(found, names) }
    }
    if (rest !== undefined && req.method === "PATCH") {
      const found = rows.find((o) => o.id === rest)
      if (!found) return hsError(404, "OBJECT_NOT_FOUND", "resource not found")
      const properties = (body.properties ?? {}) as Record<string, string>
      const bad = invalid(type, properties) ?? duplicateOf(type, properties, found)
      if (bad) return bad
      Object.assign(found.properties, forwardOnly(type, found, properties))
      found.updatedAt = now()
      return { status: 200, body: wire(found) }
    }
    return hsError(405, "METHOD_NOT_ALLOWED", "method not allowed")
  }

  // A rolling window (HubSpot names its policy TEN_SECONDLY_ROLLING): the times of the calls it let through.
  const burstLimit = options.burstLimit ?? 190
  const burstIntervalMs = options.burstIntervalMs ?? 10_000
  let recent: Array<number> = []
  let throttled = 0
  const searchPerSecond = options.searchPerSecond ?? 5
  let recentSearches: Array<number> = []
  let searchThrottled = 0
  const inWindow = () => {
    const now = Date.now()
    recent = recent.filter((at) => at > now - burstIntervalMs)
    return recent.length
  }

  const controls = await startFakeServer(
    (req) => {
      // the day's quota spent (private apps): every authenticated call is refused until it resets (a bad token is
      // still told so first)
      if (tokens.has((req.headers.authorization ?? "").replace(/^Bearer /, "")) && used >= dailyLimit) {
        return {
          status: 429,
          body: {
            status: "error",
            message: "You have reached your daily limit.",
            errorType: "RATE_LIMIT",
            correlationId: "00000000-0000-0000-0000-000000000000",
            policyName: "DAILY",
            groupName: "private-app-fake"
          }
        }
      }
      if (inWindow() >= burstLimit) {
        throttled++
        return {
          status: 429,
          body: {
            status: "error",
            message: "You have reached your ten_secondly_rolling limit.",
            errorType: "RATE_LIMIT",
            correlationId: "00000000-0000-0000-0000-000000000000",
            policyName: "TEN_SECONDLY_ROLLING",
            groupName: "private-app-fake"
          }
        }
      }
      if (isSearch(req)) {
        const at = Date.now()
        recentSearches = recentSearches.filter((t) => t > at - 1000)
        if (recentSearches.length >= searchPerSecond) {
          searchThrottled++
          return {
            status: 429,
            body: {
              status: "error",
              message: "You have reached your secondly limit.",
              errorType: "RATE_LIMIT",
              correlationId: "00000000-0000-0000-0000-000000000000"
            }
          }
        }
        recentSearches.push(at)
      }
      recent.push(Date.now())
      used++
      return route(req)
    },
    // search answers carry no X-HubSpot-RateLimit-* headers (its own limit is not reported)
    (req): Record<string, string> =>
      isSearch(req)
        ? {}
        : {
            "X-HubSpot-RateLimit-Daily": String(dailyLimit),
            "X-HubSpot-RateLimit-Daily-Remaining": String(dailyLimit - used),
            "X-HubSpot-RateLimit-Max": String(burstLimit),
            "X-HubSpot-RateLimit-Remaining": String(Math.max(0, burstLimit - inWindow())),
            "X-HubSpot-RateLimit-Interval-Milliseconds": String(burstIntervalMs)
          }
  )
  return {
    ...controls,
    records,
    associations,
    properties,
    setTokens: (next) => (tokens = new Set(next)),
    throttled: () => throttled,
    searchThrottled: () => searchThrottled,
    locked: () => lockedCount,
    raced: () => racedCount
  }
}
