import { verify } from "node:crypto"
import { type FakeControls, type RecordedRequest, type Reply, startFakeServer } from "./crmFakeServer.js"
import { type SalesforceFields, defaultFields } from "../../layers/salesforce/config.js"
import { InvalidSoql, MalformedQuery, runSoql } from "./salesforceSoql.js"
import { isExistingDay, isSalesforceDayInRange } from "./dates.js"

/** A stored sObject: Id plus whatever fields were written. */
export type SfRecord = Record<string, unknown> & { Id: string }

export interface FakeSalesforceOptions {
  readonly clientId?: string
  readonly clientSecret?: string
  /** PEM public key: JWT bearer assertions must verify against it. */
  readonly jwtPublicKey?: string
  /**
   * What the fake's URL stands for as a login URL: "myDomain" (the default), the org's My Domain
   * (https://acme.my.salesforce.com), which takes every flow; "generic", login.salesforce.com or test.salesforce.com,
   * which refuse the client credentials flow (400 invalid_grant "request not supported on this domain").
   */
  readonly loginHost?: "myDomain" | "generic"
  /**
   * A sandbox: a JWT bearer assertion's `aud` must be https://test.salesforce.com (a production org's:
   * https://login.salesforce.com), else 400 invalid_grant "audience is invalid". Never the My Domain, whatever the org.
   */
  readonly sandbox?: boolean
  /** The org's Experience Cloud site URLs: an assertion's `aud` may name one of them too. */
  readonly sites?: ReadonlyArray<string>
  /** Tokens valid from the start (for SALESFORCE_ACCESS_TOKEN mode). */
  readonly validTokens?: ReadonlyArray<string>
  /** The org's API requests per 24 hours (15,000 by default); once spent, calls are refused (REQUEST_LIMIT_EXCEEDED). */
  readonly apiLimit?: number
  /**
   * The org's duplicate rules on Lead (matching Leads and Contacts by email) and Contact (matching Contacts):
   * "alert" (the default, as the standard rules are in a new org) refuses a duplicate create with DUPLICATES_DETECTED
   * unless the request says `Sforce-Duplicate-Rule-Header: allowSave=true`; "block" refuses it whatever the header;
   * "off" has no rule.
   */
  readonly duplicateRule?: "alert" | "block" | "off"
  /**
   * The owners an active Lead assignment rule hands Leads to, round robin (default: one queue). It runs on every Lead
   * create or update unless the request says `Sforce-Auto-Assign: FALSE`, as Salesforce's REST API does; an empty
   * list is an org without an active rule.
   */
  readonly leadAssignmentOwners?: ReadonlyArray<string>
  /**
   * The org's custom fields by sObject (default: what the README's set-up creates, `orgCustomFields(defaultFields)`).
   * With the standard fields below they are every field the org has: a write, read or query naming any other is
   * refused as Salesforce refuses it (INVALID_FIELD; an upsert by a field that is not an external id, NOT_FOUND).
   */
  readonly customFields?: Readonly<Record<string, ReadonlyArray<CustomField>>>
  /**
   * The org's active users (default: the integration user alone): the only ids convertLead's ownerId may name (a
   * queue cannot own the Account, Contact or Opportunity a conversion creates).
   */
  readonly users?: ReadonlyArray<string>
  /**
   * The org's countries when State and Country/Territory Picklists are enabled (a setting many orgs turn on): the
   * country fields (Lead.Country, Contact.MailingCountry, Account.BillingCountry) then take only one of these names,
   * as written here or in another case, and refuse anything else ("USA", an ISO code, a typo) with
   * FIELD_INTEGRITY_EXCEPTION. Unset: free text, as an org without the picklists.
   */
  readonly countries?: ReadonlyArray<string>
  /**
   * The connected app's "Issue JSON Web Token (JWT)-based access tokens": the token endpoint issues JWT-format access
   * tokens, which the SOAP API takes from API 68.0 only (below, Salesforce answers a fault INVALID_SESSION_ID).
   */
  readonly jwtAccessTokens?: boolean
  /** The org's Task Status picklist (TaskStatus), in its sort order (default: a new org's, `defaultTaskStatuses`). */
  readonly taskStatuses?: ReadonlyArray<TaskStatusValue>
}

/** A value of the Task Status picklist: `closed` marks one a finished task takes, `default` the one new tasks get. */
export interface TaskStatusValue {
  readonly value: string
  readonly closed?: boolean
  readonly default?: boolean
}

/** The Task Status values of a new org: Not Started the default, Completed the one closed value. */
export const defaultTaskStatuses: ReadonlyArray<TaskStatusValue> = [
  { value: "Not Started", default: true },
  { value: "In Progress" },
  { value: "Completed", closed: true },
  { value: "Waiting on someone else" },
  { value: "Deferred" }
]

/** A custom field of the org; `externalId` marks one an upsert (or a GET by field) can go by. */
export interface CustomField {
  readonly name: string
  readonly externalId?: boolean
}

/**
 * The custom fields the README's Salesforce set-up asks an org for, under the names `fields` gives them: the lead key
 * (External ID) on Lead and Contact, the action key (External ID) on Task and Opportunity, the score, intent and
 * decision fields on Lead, and a firmographic field renamed to a custom one on Lead.
 */
export const orgCustomFields = (
  fields: SalesforceFields = defaultFields
): Record<string, ReadonlyArray<CustomField>> => {
  const custom = (name: string) => name.endsWith("__c")
  const firmographics = [fields.industry, fields.employees, fields.annualRevenue].filter(custom)
  return {
    Lead: [
      { name: fields.leadKey, externalId: true },
      ...[fields.score, fields.intent, fields.decision, ...firmographics].map((name) => ({ name }))
    ],
    Contact: [{ name: fields.leadKey, externalId: true }],
    Task: [{ name: fields.actionKey, externalId: true }],
    Opportunity: [{ name: fields.actionKey, externalId: true }]
  }
}

/** One run of the Lead assignment rule: the Lead, the owner it was given, and the Sforce-Auto-Assign header sent. */
export interface LeadAssignment {
  readonly leadId: string
  readonly ownerId: string
  readonly header: string | undefined
}

/** A local Salesforce: OAuth token endpoint, REST sObjects (upsert by external id), SOQL query, SOAP convertLead. */
export interface FakeSalesforce extends FakeControls {
  /** Records by sObject type. */
  readonly records: Record<string, Array<SfRecord>>
  /** Requests to /services/oauth2/token. */
  readonly tokenRequests: () => ReadonlyArray<RecordedRequest>
  /** Requests other than token requests. */
  readonly apiRequests: () => ReadonlyArray<RecordedRequest>
  /** Invalidates every issued session, as a Salesforce session timeout does. */
  readonly expireSessions: () => void
  /** Rotate the client secret the token endpoint accepts (old sessions stay valid until expired). */
  readonly rotateClientSecret: (secret: string) => void
  /** Every time the Lead assignment rule ran, in order. */
  readonly leadAssignments: () => ReadonlyArray<LeadAssignment>
  /** Replaces the Task Status picklist's values, as an admin editing it does. */
  readonly setTaskStatuses: (values: ReadonlyArray<TaskStatusValue>) => void
}

/** The owner of records the API creates when no assignment rule gives them one: the integration user. */
export const integrationUserId = "005FAKE00000001"
/** The queue the fake's default Lead assignment rule assigns to. */
export const defaultLeadQueueId = "00GFAKE00000001"
/** The org's id (the identity URL names it with the user's). */
export const orgId = "00DFAKE00000001"

/**
 * The 3-character suffix that makes a 15-character id case-insensitive (18 characters): for each 5-character chunk, a
 * bit per upper-case letter, read as an index into A-Z0-5.
 */
export const caseSafeSuffix = (id15: string): string => {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
  let suffix = ""
  for (let chunk = 0; chunk < 3; chunk++) {
    let bits = 0
    for (let i = 0; i < 5; i++) {
      const c = id15.charAt(chunk * 5 + i)
      if (c >= "A" && c <= "Z") bits |= 1 << i
    }
    suffix += alphabet.charAt(bits)
  }
  return suffix
}

/** The 18-character (case-safe) form of a 15-character id, as Salesforce's identity service gives ids. */
export const id18 = (id15: string) => `${id15}${caseSafeSuffix(id15)}`

/**
 * An id as Salesforce reads one: 15 alphanumeric characters (case-sensitive), or those and their case-safe suffix
 * (18); its 15-character form, or undefined for a malformed one (MALFORMED_ID).
 */
export const readId = (value: unknown): string | undefined => {
  if (typeof value !== "string" || !/^[A-Za-z0-9]{15}(?:[A-Za-z0-5]{3})?$/.test(value)) return undefined
  const id15 = value.slice(0, 15)
  return value.length === 15 || value.slice(15).toUpperCase() === caseSafeSuffix(id15) ? id15 : undefined
}

/**
 * A stored value as the API answers it: the fake keeps ids in their 15 characters, Salesforce answers every id (a
 * record's Id, a lookup like OwnerId or ConvertedAccountId) in its 18.
 */
const answeredId = (value: unknown): unknown =>
  typeof value === "string" && readId(value) === value ? id18(value) : value

/**
 * A record as the API answers it: its id, those of its lookups (…Id) and the id ending its attributes' URL in their 18
 * characters.
 */
const answeredRecord = (row: Record<string, unknown>): Record<string, unknown> => {
  const fields = Object.fromEntries(
    Object.entries(row).map(([name, value]) => [name, /Id$/.test(name) ? answeredId(value) : value])
  )
  const attributes = row.attributes as { readonly type: string; readonly url: string } | undefined
  return attributes === undefined
    ? fields
    : {
        ...fields,
        attributes: { ...attributes, url: attributes.url.replace(/[^/]+$/, (id) => String(answeredId(id))) }
      }
}

const prefixes: Record<string, string> = {
  Lead: "00Q",
  Contact: "003",
  Account: "001",
  Opportunity: "006",
  Task: "00T"
}
/**
 * The standard fields of a default org (API 62.0, Enterprise edition, no optional features such as middle names,
 * State and Country picklists or record types) on the objects the adapter and the tests touch, from Salesforce's
 * object reference. An org has no other standard field: the same name with a typo, or a field of another object,
 * does not exist.
 */
export const standardFields: Readonly<Record<string, ReadonlyArray<string>>> = Object.fromEntries(
  Object.entries({
    Lead: `
      Id IsDeleted MasterRecordId LastName FirstName Salutation Name Title Company Street City State PostalCode
      Country Latitude Longitude GeocodeAccuracy Address Phone MobilePhone Fax Email Website PhotoUrl
      Description LeadSource Status Industry Rating AnnualRevenue NumberOfEmployees OwnerId IsConverted
      ConvertedDate ConvertedAccountId ConvertedContactId ConvertedOpportunityId IsUnreadByOwner CreatedDate
      CreatedById LastModifiedDate LastModifiedById SystemModstamp LastActivityDate LastViewedDate
      LastReferencedDate Jigsaw JigsawContactId CleanStatus CompanyDunsNumber DandbCompanyId EmailBouncedReason
      EmailBouncedDate IndividualId`,
    Contact: `
      Id IsDeleted MasterRecordId AccountId LastName FirstName Salutation Name OtherStreet OtherCity OtherState
      OtherPostalCode OtherCountry OtherLatitude OtherLongitude OtherGeocodeAccuracy OtherAddress MailingStreet
      MailingCity MailingState MailingPostalCode MailingCountry MailingLatitude MailingLongitude
      MailingGeocodeAccuracy MailingAddress Phone Fax MobilePhone HomePhone OtherPhone AssistantPhone
      ReportsToId Email Title Department AssistantName LeadSource Birthdate Description OwnerId CreatedDate
      CreatedById LastModifiedDate LastModifiedById SystemModstamp LastActivityDate LastCURequestDate
      LastCUUpdateDate LastViewedDate LastReferencedDate EmailBouncedReason EmailBouncedDate IsEmailBounced
      PhotoUrl Jigsaw JigsawContactId CleanStatus IndividualId`,
    Account: `
      Id IsDeleted MasterRecordId Name Type ParentId BillingStreet BillingCity BillingState BillingPostalCode
      BillingCountry BillingLatitude BillingLongitude BillingGeocodeAccuracy BillingAddress ShippingStreet
      ShippingCity ShippingState ShippingPostalCode ShippingCountry ShippingLatitude ShippingLongitude
      ShippingGeocodeAccuracy ShippingAddress Phone Fax AccountNumber Website PhotoUrl Sic Industry
      AnnualRevenue NumberOfEmployees Ownership TickerSymbol Description Rating Site OwnerId CreatedDate
      CreatedById LastModifiedDate LastModifiedById SystemModstamp LastActivityDate LastViewedDate
      LastReferencedDate Jigsaw JigsawCompanyId CleanStatus AccountSource DunsNumber Tradestyle NaicsCode
      NaicsDesc YearStarted SicDesc DandbCompanyId`,
    Opportunity: `
      Id IsDeleted AccountId IsPrivate Name Description StageName Amount Probability ExpectedRevenue
      TotalOpportunityQuantity CloseDate Type NextStep LeadSource IsClosed IsWon ForecastCategory
      ForecastCategoryName CampaignId HasOpportunityLineItem Pricebook2Id OwnerId CreatedDate CreatedById
      LastModifiedDate LastModifiedById SystemModstamp LastActivityDate LastStageChangeDate FiscalQuarter
      FiscalYear Fiscal ContactId LastViewedDate LastReferencedDate`,
    Task: `
      Id WhoId WhatId Subject ActivityDate Status Priority IsHighPriority OwnerId Description IsDeleted
      AccountId IsClosed CreatedDate CreatedById LastModifiedDate LastModifiedById SystemModstamp IsArchived
      CallDurationInSeconds CallType CallDisposition CallObject ReminderDateTime IsReminderSet
      RecurrenceActivityId IsRecurrence TaskSubtype CompletedDateTime WhoCount WhatCount`
  }).map(([type, names]) => [type, names.trim().split(/\s+/)])
)

/** Standard fields the API computes or sets itself: a create or update naming one is refused. */
const readOnlyFields: ReadonlyArray<string> = `
  IsDeleted MasterRecordId Name Address PhotoUrl IsConverted ConvertedDate ConvertedAccountId ConvertedContactId
  ConvertedOpportunityId CreatedDate CreatedById LastModifiedDate LastModifiedById SystemModstamp
  LastActivityDate LastViewedDate LastReferencedDate MailingAddress OtherAddress BillingAddress ShippingAddress
  LastCURequestDate LastCUUpdateDate IsEmailBounced ExpectedRevenue IsClosed IsWon ForecastCategory
  HasOpportunityLineItem LastStageChangeDate FiscalQuarter FiscalYear Fiscal IsHighPriority IsArchived WhoCount
  WhatCount CompletedDateTime IsRecurrence`
  .trim()
  .split(/\s+/)
/** Standard fields with the idLookup property: besides Id and External ID fields, what an upsert can go by. */
const idLookupFields: Readonly<Record<string, ReadonlyArray<string>>> = {
  Lead: ["Email"],
  Contact: ["Email"],
  Account: ["Name"]
}
/** Name is a compound, read-only field on Lead and Contact, and a plain writable one on these. */
const writableName = new Set(["Account", "Opportunity"])

interface FieldInfo {
  readonly name: string
  readonly writable: boolean
  readonly lookup: boolean
}
/** Every field of the org by sObject, keyed by lower-cased name: Salesforce field names are case-insensitive. */
const orgSchema = (custom: Readonly<Record<string, ReadonlyArray<CustomField>>>) => {
  const schema: Record<string, Map<string, FieldInfo>> = {}
  for (const [type, names] of Object.entries(standardFields)) {
    schema[type] = new Map(
      names.map((name) => [
        name.toLowerCase(),
        {
          name,
          writable: name !== "Id" && (!readOnlyFields.includes(name) || (name === "Name" && writableName.has(type))),
          lookup: name === "Id" || (idLookupFields[type] ?? []).includes(name)
        }
      ])
    )
  }
  for (const [type, fields] of Object.entries(custom)) {
    const table = schema[type] ?? new Map([["id", { name: "Id", writable: false, lookup: true }]])
    schema[type] = table
    for (const field of fields) {
      table.set(field.name.toLowerCase(), { name: field.name, writable: true, lookup: field.externalId === true })
    }
  }
  return schema
}

const typeOfPrefix = (id15: string) => Object.entries(prefixes).find(([, prefix]) => id15.startsWith(prefix))?.[0]

const sfError = (status: number, errorCode: string, message: string, fields?: ReadonlyArray<string>): Reply => ({
  status,
  body: [{ message, errorCode, ...(fields ? { fields } : {}) }]
})
/** The text country fields State and Country/Territory Picklists turn into picklists, by object. */
const countryFields: Record<string, ReadonlyArray<string>> = {
  Lead: ["Country"],
  Contact: ["MailingCountry"],
  Account: ["BillingCountry"]
}
const required: Record<string, ReadonlyArray<string>> = {
  Lead: ["LastName", "Company"],
  Contact: ["LastName"],
  Opportunity: ["Name", "StageName", "CloseDate"]
}

/**
 * Text field lengths from Salesforce's object reference (Lead, Contact, Task): a longer value is refused with
 * STRING_TOO_LONG (API 15.0 and later). Email's 80 is checked with its format below.
 */
export const fieldLengths: Record<string, Readonly<Record<string, number>>> = {
  Lead: {
    FirstName: 40,
    LastName: 80,
    Company: 255,
    Title: 128,
    Phone: 40,
    MobilePhone: 40,
    Website: 255,
    City: 40,
    State: 80,
    PostalCode: 20,
    Country: 80,
    LeadSource: 40,
    Industry: 40,
    Description: 32000
  },
  Contact: {
    FirstName: 40,
    LastName: 80,
    Title: 128,
    Phone: 40,
    MobilePhone: 40,
    MailingCity: 40,
    MailingState: 80,
    MailingPostalCode: 20,
    MailingCountry: 80
  },
  Account: { Name: 255 },
  Opportunity: { Name: 120, StageName: 40, NextStep: 255, LeadSource: 40, Description: 32000 },
  Task: { Subject: 255, Description: 32000 }
}
const fieldLabels: Record<string, string> = {
  StageName: "Stage",
  NextStep: "Next Step",
  NumberOfEmployees: "Employees",
  AnnualRevenue: "Annual Revenue",
  CloseDate: "Close Date",
  ActivityDate: "Due Date Only",
  FirstName: "First Name",
  LastName: "Last Name",
  MobilePhone: "Mobile Phone",
  PostalCode: "Zip/Postal Code",
  LeadSource: "Lead Source",
  MailingCity: "Mailing City",
  MailingState: "Mailing State/Province",
  MailingPostalCode: "Mailing Zip/Postal Code",
  MailingCountry: "Mailing Country"
}

/** The Date fields (a day, no time) of the objects the executor writes. */
const dateFields: Record<string, ReadonlyArray<string>> = { Opportunity: ["CloseDate"], Task: ["ActivityDate"] }

/**
 * Number fields of the objects the executor writes, from the object reference: NumberOfEmployees is an int (a JSON
 * value that is no 32-bit integer fails to deserialize); AnnualRevenue is Currency(18, 0) and Amount Currency(16, 2),
 * so at most 18 and 14 digits before the point (a longer value is NUMBER_OUTSIDE_VALID_RANGE).
 */
const numberFields: Record<
  string,
  Readonly<Record<string, { readonly int: true } | { readonly integerDigits: number }>>
> = {
  Lead: { NumberOfEmployees: { int: true }, AnnualRevenue: { integerDigits: 18 } },
  Account: { NumberOfEmployees: { int: true }, AnnualRevenue: { integerDigits: 18 } },
  Opportunity: { Amount: { integerDigits: 14 }, Probability: { integerDigits: 3 } }
}

/**
 * Lookup fields of the objects the executor writes and the objects each may point at (by key prefix), with the label
 * Salesforce's messages use. A value must be an id (MALFORMED_ID), of one of those objects (FIELD_INTEGRITY_EXCEPTION)
 * and of a record that exists (INVALID_CROSS_REFERENCE_KEY).
 */
const referenceFields: Record<
  string,
  Readonly<Record<string, { readonly label: string; readonly to: ReadonlyArray<string> }>>
> = {
  Contact: {
    AccountId: { label: "Account ID", to: ["Account"] },
    ReportsToId: { label: "Reports To ID", to: ["Contact"] }
  },
  Opportunity: {
    AccountId: { label: "Account ID", to: ["Account"] },
    ContactId: { label: "Contact ID", to: ["Contact"] }
  },
  Task: {
    WhoId: { label: "Name ID", to: ["Lead", "Contact"] },
    WhatId: { label: "Related To ID", to: ["Account", "Opportunity"] }
  },
  Account: { ParentId: { label: "Parent Account ID", to: ["Account"] } }
}

/** The Lead Status values marked Converted in a default org: the only ones convertLead accepts. */
export const convertedStatuses: ReadonlyArray<string> = ["Closed - Converted"]

/** Restricted picklists the fake enforces, with an org's default values (Task Status: the org's `taskStatuses`). */
export const picklists: Record<string, Record<string, ReadonlyArray<string>>> = {
  Lead: { Status: ["Open - Not Contacted", "Working - Contacted", "Closed - Converted", "Closed - Not Converted"] },
  Task: { Priority: ["High", "Normal", "Low"] }
}

/** TaskStatus, the object the Task Status picklist's values are (query only): its fields. */
const taskStatusFields = `Id ApiName MasterLabel IsClosed IsDefault SortOrder CreatedById CreatedDate LastModifiedById
  LastModifiedDate SystemModstamp`.split(/\s+/)

const base64url = (value: string) => Buffer.from(value).toString("base64url")
/** An access token in the JWT format (header, claims, signature), as an app issuing JWT-based tokens gets. */
const jwtAccessToken = (n: number) =>
  `${base64url(JSON.stringify({ alg: "RS256", typ: "JWT", kid: "fake" }))}.${base64url(
    JSON.stringify({ tty: "sfdc-core-token", tnk: orgId, n })
  )}.${base64url(`signature-${n}`)}`
const isJwtToken = (token: string) => {
  const [header, claims, signature, ...rest] = token.split(".")
  if (claims === undefined || signature === undefined || rest.length > 0) return false
  try {
    JSON.parse(Buffer.from(header ?? "", "base64url").toString())
    return true
  } catch {
    return false
  }
}

/** A SOAP envelope around `inner`, as the partner API answers. */
const xml = (inner: string): Reply => ({
  status: 200,
  headers: { "content-type": "text/xml;charset=UTF-8" },
  body: `<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns="urn:partner.soap.sforce.com"><soapenv:Body>${inner}</soapenv:Body></soapenv:Envelope>`
})
const xmlTag = (xml: string, tag: string) => new RegExp(`<${tag}>([\\s\\S]*?)</${tag}>`).exec(xml)?.[1]

/** Starts the fake on a free port. */
export const startFakeSalesforce = async (options: FakeSalesforceOptions = {}): Promise<FakeSalesforce> => {
  const records: Record<string, Array<SfRecord>> = {}
  // CreatedDate as the REST API writes it ("2026-12-08T04:50:00.000+0000"), strictly increasing: ORDER BY CreatedDate
  // is the order of creation, as in an org
  let lastCreated = 0
  const createdDate = () => {
    lastCreated = Math.max(lastCreated + 1, Date.now())
    return new Date(lastCreated).toISOString().replace("Z", "+0000")
  }
  const tokens = new Set(options.validTokens ?? [])
  let clientSecret = options.clientSecret
  let issued = 0
  let nextId = 0
  let used = 0
  const duplicateRule = options.duplicateRule ?? "alert"
  const assignmentOwners = options.leadAssignmentOwners ?? [defaultLeadQueueId]
  const users = (options.users ?? [integrationUserId]).map((id) => readId(id) ?? id)
  const assignments: Array<LeadAssignment> = []
  let taskStatuses = options.taskStatuses ?? defaultTaskStatuses
  const taskStatusRows = () =>
    taskStatuses.map((status, i) => ({
      Id: `01JFAKE${String(i + 1).padStart(8, "0")}`,
      ApiName: status.value,
      MasterLabel: status.value,
      IsClosed: status.closed === true,
      IsDefault: status.default === true,
      SortOrder: i + 1
    }))
  const table = (type: string) => {
    records[type] ??= []
    return records[type]
  }
  const newId = (type: string) => `${prefixes[type] ?? "a00"}${String(++nextId).padStart(12, "0")}`
  const schema = orgSchema(options.customFields ?? orgCustomFields())
  const fieldNames = Object.fromEntries(
    Object.entries(schema).map(([type, fields]) => [type, [...fields.values()].map((f) => f.name)])
  )

  /**
   * A write's JSON body as Salesforce reads it: every key must name a field of the object (case-insensitively; stored
   * under the field's own name), or the whole write is refused with INVALID_FIELD, as the REST API refuses it while
   * deserializing; a field the API sets itself is refused with INVALID_FIELD_FOR_INSERT_UPDATE.
   */
  const readBody = (
    type: string,
    body: Record<string, unknown>
  ): { readonly record: Record<string, unknown> } | { readonly refused: Reply } => {
    const fields = schema[type] ?? new Map<string, FieldInfo>()
    const record: Record<string, unknown> = {}
    const readOnly: Array<string> = []
    for (const [key, value] of Object.entries(body)) {
      const field = fields.get(key.toLowerCase())
      if (field === undefined) {
        return { refused: sfError(400, "INVALID_FIELD", `No such column '${key}' on sobject of type ${type}`) }
      }
      if (!field.writable) readOnly.push(field.name)
      record[field.name] = value
    }
    if (readOnly.length > 0) {
      return {
        refused: sfError(
          400,
          "INVALID_FIELD_FOR_INSERT_UPDATE",
          `Unable to create/update fields: ${readOnly.join(", ")}. Please check the security settings of this field and verify that it is read/write for your profile or permission set.`,
          readOnly
        )
      }
    }
    return { record }
  }

  /**
   * An Email field as Salesforce checks it with Email Address Internationalization off (the default): at most 80
   * characters, an ASCII local part of RFC 5322 atext and dots (not leading), a dotted domain.
   */
  const salesforceEmail = (email: string) =>
    email.length <= 80 &&
    /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-][A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+$/.test(email)

  /** The record an id names, if it is a well-formed id of one that exists. */
  const recordById = (value: unknown): { type: string; record: SfRecord } | undefined => {
    const id15 = readId(value)
    const type = id15 === undefined ? undefined : typeOfPrefix(id15)
    const record = type === undefined ? undefined : table(type).find((r) => r.Id === id15)
    return type === undefined || record === undefined ? undefined : { type, record }
  }

  /** A lookup field's value as Salesforce checks it: an id, of an object the field points at, of a record that exists. */
  const reference = (
    field: string,
    ref: { readonly label: string; readonly to: ReadonlyArray<string> },
    value: unknown
  ): Reply | undefined => {
    const id15 = readId(value)
    if (id15 === undefined) {
      return sfError(400, "MALFORMED_ID", `${ref.label}: id value of incorrect type: ${String(value)}`, [field])
    }
    const type = typeOfPrefix(id15)
    if (type === undefined || !ref.to.includes(type)) {
      return sfError(400, "FIELD_INTEGRITY_EXCEPTION", `${ref.label}: id value of incorrect type: ${String(value)}`, [
        field
      ])
    }
    const found = recordById(id15)
    if (found === undefined) {
      return sfError(400, "INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", [field])
    }
    // a converted Lead's id may be read, never referenced (a Task's WhoId): its ConvertedContactId is the one to use
    if (found.type === "Lead" && found.record.IsConverted === true) {
      return sfError(400, "CANNOT_UPDATE_CONVERTED_LEAD", "cannot reference converted lead", [field])
    }
    return undefined
  }

  const validate = (type: string, record: Record<string, unknown>): Reply | undefined => {
    // a Date field's JSON value is a day that exists; Salesforce's JSON parser refuses any other,
    // before any check of the record's fields
    for (const field of dateFields[type] ?? []) {
      const value = record[field]
      if (value !== undefined && value !== null && !(typeof value === "string" && isExistingDay(value))) {
        return sfError(
          400,
          "JSON_PARSER_ERROR",
          `Cannot deserialize instance of date from VALUE_STRING value ${String(value)} or request may be missing a required field at [line:1, column:1]`
        )
      }
    }
    // a number field's JSON value must be a number (a numeric string is read as one), an int field's a 32-bit integer
    for (const [field, kind] of Object.entries(numberFields[type] ?? {})) {
      const value = record[field]
      if (value === undefined || value === null) continue
      const label = fieldLabels[field] ?? field
      const number = typeof value === "string" && value.trim() !== "" ? Number(value) : value
      if (typeof number !== "number" || !Number.isFinite(number)) {
        return typeof value === "string"
          ? sfError(400, "INVALID_TYPE_ON_FIELD_IN_RECORD", `${label}: value not of required type: ${value}`, [field])
          : sfError(
              400,
              "JSON_PARSER_ERROR",
              `Cannot deserialize instance of ${"int" in kind ? "int" : "double"} from ${typeof value === "boolean" ? `VALUE_${String(value).toUpperCase()}` : "START_OBJECT"} value ${JSON.stringify(value)} or request may be missing a required field at [line:1, column:1]`
            )
      }
      if ("int" in kind && (!Number.isInteger(number) || number > 2_147_483_647 || number < -2_147_483_648)) {
        return sfError(
          400,
          "JSON_PARSER_ERROR",
          `Cannot deserialize instance of int from ${Number.isInteger(number) ? "VALUE_NUMBER_INT" : "VALUE_NUMBER_FLOAT"} value ${String(value)} or request may be missing a required field at [line:1, column:1]`
        )
      }
      if ("integerDigits" in kind && Math.abs(number) >= 10 ** kind.integerDigits) {
        return sfError(
          400,
          "NUMBER_OUTSIDE_VALID_RANGE",
          `${label}: value outside of valid range on numeric field: ${String(value)}`,
          [field]
        )
      }
    }
    // Salesforce stores days from 1700-01-01 to 4000-12-31 only
    for (const field of dateFields[type] ?? []) {
      const value = record[field]
      if (typeof value === "string" && !isSalesforceDayInRange(value)) {
        return sfError(400, "FIELD_INTEGRITY_EXCEPTION", `${fieldLabels[field] ?? field}: invalid date: ${value}`, [
          field
        ])
      }
    }
    for (const [field, ref] of Object.entries(referenceFields[type] ?? {})) {
      const value = record[field]
      if (value === undefined || value === null) continue
      const refused = reference(field, ref, value)
      if (refused) return refused
    }
    const missing = (required[type] ?? []).filter((f) => record[f] === undefined || record[f] === "")
    if (missing.length > 0) {
      return sfError(400, "REQUIRED_FIELD_MISSING", `Required fields are missing: [${missing.join(", ")}]`, missing)
    }
    for (const [field, max] of Object.entries(fieldLengths[type] ?? {})) {
      const value = record[field]
      if (typeof value === "string" && value.length > max) {
        return sfError(
          400,
          "STRING_TOO_LONG",
          `${fieldLabels[field] ?? field}: data value too large: ${value} (max length=${max})`,
          [field]
        )
      }
    }
    // State and Country/Territory Picklists: a country must be one of the org's (its label or integration value)
    if (options.countries !== undefined) {
      const countries = new Set(options.countries.map((name) => name.toLowerCase()))
      for (const field of countryFields[type] ?? []) {
        const value = record[field]
        if (typeof value === "string" && value !== "" && !countries.has(value.toLowerCase())) {
          return sfError(
            400,
            "FIELD_INTEGRITY_EXCEPTION",
            "There's a problem with this country, even though it may appear correct. Please select a country/territory from the list of valid countries.",
            [field]
          )
        }
      }
    }
    if (typeof record.Email === "string" && !salesforceEmail(record.Email)) {
      return sfError(400, "INVALID_EMAIL_ADDRESS", `Email: invalid email address: ${record.Email}`, ["Email"])
    }
    const restricted =
      type === "Task" ? { ...picklists.Task, Status: taskStatuses.map((status) => status.value) } : picklists[type]
    for (const [field, values] of Object.entries(restricted ?? {})) {
      const value = record[field]
      if (value !== undefined && value !== null && !values.includes(String(value))) {
        return sfError(
          400,
          "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
          `${field}: bad value for restricted picklist field: ${String(value)}`,
          [field]
        )
      }
    }
    return undefined
  }

  /** The REST API version a request names (/services/data/v62.0/...), 0 for none. */
  const versionOf = (req: RecordedRequest) => Number(/^\/services\/data\/v(\d+)\./.exec(req.path)?.[1] ?? 0)

  const header = (req: RecordedRequest, name: string): string | undefined => {
    const value = req.headers[name]
    return Array.isArray(value) ? value[0] : value
  }

  /**
   * `Sforce-Duplicate-Rule-Header: allowSave=true; ...` (every field defaults to false). The REST API reads the header
   * from API 52.0 on; below, it is ignored.
   */
  const allowsSave = (req: RecordedRequest) =>
    versionOf(req) >= 52 &&
    (header(req, "sforce-duplicate-rule-header") ?? "")
      .split(";")
      .some((part) => /^\s*allowSave\s*=\s*true\s*$/i.test(part))

  /**
   * The org's duplicate rules, run when a Lead or Contact is created or its email changes: the standard Lead rule
   * matches other Leads (not converted) and Contacts, the standard Contact rule other Contacts, here by email.
   */
  const duplicates = (type: string, record: SfRecord, req: RecordedRequest): Reply | undefined => {
    if (duplicateRule === "off" || typeof record.Email !== "string" || record.Email === "") return undefined
    const against = type === "Lead" ? ["Lead", "Contact"] : type === "Contact" ? ["Contact"] : []
    const email = record.Email.toLowerCase()
    const matchResults = against.flatMap((entityType) => {
      const found = table(entityType).filter(
        (r) => r.Id !== record.Id && r.IsConverted !== true && String(r.Email ?? "").toLowerCase() === email
      )
      return found.length === 0
        ? []
        : [
            {
              entityType,
              errors: [],
              matchEngine: "FuzzyMatchEngine",
              matchRecords: found.map((r) => ({
                additionalInformation: [],
                fieldDiffs: [],
                matchConfidence: 100,
                record: answeredRecord({
                  attributes: { type: entityType, url: `/services/data/v62.0/sobjects/${entityType}/${r.Id}` },
                  Id: r.Id
                })
              })),
              rule: `Standard_${entityType}_Match_Rule_v1_0`,
              size: found.length,
              success: true
            }
          ]
    })
    if (matchResults.length === 0) return undefined
    if (duplicateRule === "alert" && allowsSave(req)) return undefined
    const first = matchResults[0]?.entityType
    return {
      status: 400,
      body: [
        {
          duplicateResult: {
            allowSave: duplicateRule === "alert",
            duplicateRule: `Standard_Rule_for_${type}s_with_Duplicate_${first}s`,
            duplicateRuleEntityType: type,
            errorMessage: "Use one of these records?",
            matchResults
          },
          errorCode: "DUPLICATES_DETECTED",
          message: "Use one of these records?"
        }
      ]
    }
  }

  /** A Lead's assignment rule after a save: it runs unless the request said `Sforce-Auto-Assign: FALSE`. */
  const assign = (type: string, record: SfRecord, req: RecordedRequest) => {
    const sent = header(req, "sforce-auto-assign")
    if (type !== "Lead" || sent?.trim().toUpperCase() === "FALSE" || assignmentOwners.length === 0) return
    const ownerId = assignmentOwners[assignments.length % assignmentOwners.length] as string
    record.OwnerId = ownerId
    assignments.push({ leadId: record.Id, ownerId, header: sent })
  }

  /** Salesforce refuses any write to a converted Lead. */
  const converted = (type: string, record: SfRecord): Reply | undefined =>
    type === "Lead" && record.IsConverted === true
      ? sfError(400, "CANNOT_UPDATE_CONVERTED_LEAD", "cannot reference converted lead")
      : undefined

  /** Checks, saves and assigns an update of `existing` with `body`; undefined when it was saved. */
  const update = (type: string, existing: SfRecord, body: Record<string, unknown>, req: RecordedRequest) => {
    const merged = { ...existing, ...body }
    const refused =
      converted(type, existing) ??
      validate(type, merged) ??
      (String(existing.Email ?? "").toLowerCase() !== String(merged.Email ?? "").toLowerCase()
        ? duplicates(type, merged, req)
        : undefined)
    if (refused) return refused
    Object.assign(existing, body)
    assign(type, existing, req)
    return undefined
  }

  /** Checks, saves and assigns a new record; undefined when it was saved. */
  const create = (type: string, record: SfRecord, req: RecordedRequest) => {
    const refused = validate(type, record) ?? duplicates(type, record, req)
    if (refused) return refused
    if (type === "Lead" || type === "Contact" || type === "Task" || type === "Opportunity") {
      record.OwnerId ??= integrationUserId
    }
    record.CreatedDate ??= createdDate()
    table(type).push(record)
    assign(type, record, req)
    return undefined
  }

  /** The token endpoint's refusal: OAuth's error code and its description. */
  const tokenRefused = (error: string, description: string): Reply => ({
    status: 400,
    body: { error, error_description: description }
  })
  const audiences = [
    options.sandbox ? "https://test.salesforce.com" : "https://login.salesforce.com",
    ...(options.sites ?? [])
  ]

  const token = (req: RecordedRequest, baseUrl: string): Reply => {
    const form = new URLSearchParams(req.body)
    const grant = form.get("grant_type")
    if (grant === "client_credentials") {
      // Salesforce takes this flow at the org's My Domain only
      if (options.loginHost === "generic") return tokenRefused("invalid_grant", "request not supported on this domain")
      if (form.get("client_id") !== options.clientId || form.get("client_secret") !== clientSecret) {
        return tokenRefused("invalid_client", "invalid client credentials")
      }
    } else if (grant === "urn:ietf:params:oauth:grant-type:jwt-bearer") {
      // a connected app without a certificate takes no assertion
      if (options.jwtPublicKey === undefined) return tokenRefused("invalid_client", "invalid client credentials")
      const [header, claims, signature] = (form.get("assertion") ?? "").split(".")
      const payload = JSON.parse(Buffer.from(claims ?? "", "base64url").toString() || "{}")
      const signed =
        verify(
          "RSA-SHA256",
          Buffer.from(`${header}.${claims}`),
          options.jwtPublicKey,
          Buffer.from(signature ?? "", "base64url")
        ) &&
        payload.iss === options.clientId &&
        payload.exp * 1000 > Date.now()
      if (!signed) return tokenRefused("invalid_client", "invalid client credentials")
      if (!audiences.includes(payload.aud)) return tokenRefused("invalid_grant", "audience is invalid")
      if (typeof payload.sub !== "string" || payload.sub === "")
        return tokenRefused("invalid_grant", "invalid assertion")
    } else {
      return tokenRefused("unsupported_grant_type", "grant type not supported")
    }
    const accessToken = options.jwtAccessTokens ? jwtAccessToken(++issued) : `00DFAKE000000001!AQ${++issued}fakesession`
    tokens.add(accessToken)
    return {
      status: 200,
      body: {
        access_token: accessToken,
        instance_url: baseUrl,
        token_type: "Bearer",
        issued_at: String(Date.now()),
        // the identity URL: the org's id, then the signed-in user's
        id: `${baseUrl}/id/${id18(orgId)}/${id18(integrationUserId)}`
      }
    }
  }

  const soap = (req: RecordedRequest): Reply => {
    const session = xmlTag(req.body, "sessionId") ?? ""
    // the SOAP API takes JWT-based access tokens from API 68.0 on; below, it refuses them as an invalid session
    const version = Number(/^\/services\/Soap\/u\/(\d+)/.exec(req.path)?.[1] ?? 0)
    if (!tokens.has(session) || (isJwtToken(session) && version < 68)) {
      return {
        ...xml(
          "<soapenv:Fault><faultcode>sf:INVALID_SESSION_ID</faultcode><faultstring>INVALID_SESSION_ID: Invalid Session ID found in SessionHeader</faultstring></soapenv:Fault>"
        ),
        status: 500
      }
    }
    const convert = xmlTag(req.body, "leadConverts") ?? ""
    const leadId15 = readId(xmlTag(convert, "leadId"))
    const lead = leadId15 === undefined ? undefined : table("Lead").find((l) => l.Id === leadId15)
    const result = (inner: string) => xml(`<convertLeadResponse><result>${inner}</result></convertLeadResponse>`)
    const failed = (statusCode: string, message: string, fields?: string) =>
      result(
        `<errors>${fields === undefined ? "" : `<fields>${fields}</fields>`}<message>${message}</message><statusCode>${statusCode}</statusCode></errors><success>false</success>`
      )
    if (!lead)
      return result(
        "<errors><message>invalid lead id</message><statusCode>INVALID_CROSS_REFERENCE_KEY</statusCode></errors><success>false</success>"
      )
    if (lead.IsConverted)
      return result(
        "<errors><message>lead already converted</message><statusCode>CANNOT_UPDATE_CONVERTED_LEAD</statusCode></errors><success>false</success>"
      )
    // the status must be one of the org's converted Lead Status values (IsConverted): "Closed - Converted" by default
    const convertedStatus = xmlTag(convert, "convertedStatus")
    if (convertedStatus === undefined || convertedStatus === "")
      return result(
        "<errors><fields>convertedStatus</fields><message>Required fields are missing: [convertedStatus]</message><statusCode>REQUIRED_FIELD_MISSING</statusCode></errors><success>false</success>"
      )
    if (!convertedStatuses.includes(convertedStatus))
      return result(
        `<errors><message>invalid convertedStatus: ${convertedStatus}</message><statusCode>INVALID_STATUS</statusCode></errors><success>false</success>`
      )
    // ids the request names must be ids of records of the right object that exist
    const named = (tag: string, type: string) => {
      const value = xmlTag(convert, tag)
      if (value === undefined || value === "") return { id: undefined }
      const id15 = readId(value)
      if (id15 === undefined)
        return { refused: failed("MALFORMED_ID", `${tag}: id value of incorrect type: ${value}`, tag) }
      const found = recordById(id15)
      return found?.type === type
        ? { id: id15 }
        : { refused: failed("INVALID_CROSS_REFERENCE_KEY", `invalid cross reference id: ${value}`, tag) }
    }
    const account = named("accountId", "Account")
    if ("refused" in account) return account.refused as Reply
    const contact = named("contactId", "Contact")
    if ("refused" in contact) return contact.refused as Reply
    if (contact.id !== undefined && table("Contact").find((c) => c.Id === contact.id)?.AccountId !== account.id) {
      return failed("INVALID_CROSS_REFERENCE_KEY", "contactId must belong to the accountId given", "contactId")
    }
    // the new records' owner: ownerId (an active user), else the lead's owner, which a queue cannot be
    const ownerValue = xmlTag(convert, "ownerId")
    let ownerId = typeof lead.OwnerId === "string" ? lead.OwnerId : integrationUserId
    if (ownerValue !== undefined && ownerValue !== "") {
      const owner15 = readId(ownerValue)
      if (owner15 === undefined)
        return failed("MALFORMED_ID", `ownerId: id value of incorrect type: ${ownerValue}`, "ownerId")
      if (!users.includes(owner15)) {
        return failed("INVALID_CROSS_REFERENCE_KEY", `invalid cross reference id: ${ownerValue}`, "ownerId")
      }
      ownerId = owner15
    } else if (!ownerId.startsWith("005")) {
      return failed(
        "UNKNOWN_EXCEPTION",
        "Converted objects can only be owned by users.  If the lead is not owned by a user, you must specify a user for the Owner field."
      )
    }
    const accountId = account.id ?? newId("Account")
    if (account.id === undefined) table("Account").push({ Id: accountId, Name: lead.Company, OwnerId: ownerId })
    const contactId = contact.id ?? newId("Contact")
    if (contact.id === undefined) {
      table("Contact").push({
        Id: contactId,
        LastName: lead.LastName,
        Email: lead.Email,
        AccountId: accountId,
        OwnerId: ownerId
      })
    }
    const opportunityId = xmlTag(convert, "doNotCreateOpportunity") === "true" ? undefined : newId("Opportunity")
    if (opportunityId) {
      table("Opportunity").push({ Id: opportunityId, Name: lead.Company, AccountId: accountId, OwnerId: ownerId })
    }
    Object.assign(lead, {
      IsConverted: true,
      Status: convertedStatus,
      ConvertedAccountId: accountId,
      ConvertedContactId: contactId,
      ConvertedOpportunityId: opportunityId ?? null
    })
    return result(
      `<accountId>${id18(accountId)}</accountId><contactId>${id18(contactId)}</contactId><leadId>${id18(lead.Id)}</leadId>${opportunityId ? `<opportunityId>${id18(opportunityId)}</opportunityId>` : '<opportunityId xsi:nil="true" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"/>'}<success>true</success>`
    )
  }

  const rest = (req: RecordedRequest, baseUrl: string): Reply => {
    const auth = req.headers.authorization ?? ""
    if (!tokens.has(auth.replace(/^Bearer /, "")))
      return sfError(401, "INVALID_SESSION_ID", "Session expired or invalid")
    // the identity service: who the session is signed in as
    const identity = /^\/id\/([A-Za-z0-9]+)\/([A-Za-z0-9]+)$/.exec(req.path)
    if (identity !== null) {
      return readId(identity[1]) === orgId && readId(identity[2]) === integrationUserId && req.method === "GET"
        ? {
            status: 200,
            body: {
              id: `${baseUrl}${req.path}`,
              user_id: identity[2],
              organization_id: identity[1],
              username: "integration@fake.example"
            }
          }
        : { status: 404, body: "Bad_Id" }
    }
    const parts = req.path
      .replace(/^\/services\/data\/v\d+\.\d+/, "")
      .split("/")
      .filter(Boolean)
    // the version's resources, among them the session's identity URL
    if (parts.length === 0 && req.method === "GET") {
      return {
        status: 200,
        body: {
          sobjects: "/services/data/v62.0/sobjects",
          query: "/services/data/v62.0/query",
          identity: `${baseUrl}/id/${id18(orgId)}/${id18(integrationUserId)}`
        }
      }
    }
    if (parts[0] === "query") {
      try {
        const found = runSoql(
          req.query.get("q") ?? "",
          { ...records, TaskStatus: taskStatusRows() },
          { ...fieldNames, TaskStatus: taskStatusFields }
        )
        return { status: 200, body: { ...found, records: found.records.map(answeredRecord) } }
      } catch (error) {
        if (error instanceof MalformedQuery) return sfError(400, "MALFORMED_QUERY", error.message)
        if (error instanceof InvalidSoql) return sfError(400, error.errorCode, error.message)
        throw error
      }
    }
    if (parts[0] !== "sobjects" || parts.length < 2)
      return sfError(404, "NOT_FOUND", "The requested resource does not exist")
    const [, type = "", a, b] = parts
    const fields = schema[type]
    if (fields === undefined) return sfError(404, "NOT_FOUND", "The requested resource does not exist")
    const rows = table(type)
    const fieldsOf = (record: SfRecord): Reply => {
      const wanted = req.query.get("fields")?.split(",")
      const unknown = wanted?.find((f) => !fields.has(f.trim().toLowerCase()))
      if (unknown !== undefined) {
        return sfError(
          400,
          "INVALID_FIELD",
          `No such column '${unknown}' on entity '${type}'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name. Please reference your WSDL or the describe call for the appropriate names.`
        )
      }
      const picked = wanted
        ? Object.fromEntries(
            wanted.map((f) => fields.get(f.trim().toLowerCase())?.name ?? f).map((f) => [f, record[f] ?? null])
          )
        : record
      return {
        status: 200,
        body: answeredRecord({
          attributes: { type, url: `/services/data/v62.0/sobjects/${type}/${record.Id}` },
          ...picked
        })
      }
    }
    // /sobjects/Type/ExternalIdField/value: the field must be an External ID (or idLookup) field of the object; the
    // URL is resolved before the body is read
    const idField = b === undefined ? undefined : fields.get((a ?? "").toLowerCase())
    if (b !== undefined && (idField === undefined || !idField.lookup)) {
      return sfError(404, "NOT_FOUND", `Provided external ID field does not exist or is not accessible: ${a}`)
    }
    const read = readBody(type, req.method === "GET" ? {} : ((req.json ?? {}) as Record<string, unknown>))
    if ("refused" in read) return read.refused
    const body = read.record
    if (idField !== undefined && b !== undefined) {
      const found = rows.filter((r) => r[idField.name] === b)
      if (req.method === "GET")
        return found[0] ? fieldsOf(found[0]) : sfError(404, "NOT_FOUND", "The requested resource does not exist")
      if (req.method !== "PATCH") return sfError(405, "METHOD_NOT_ALLOWED", "HTTP Method not allowed")
      if (found.length > 1)
        return { status: 300, body: found.map((r) => `/services/data/v62.0/sobjects/${type}/${id18(r.Id)}`) }
      if (found[0]) {
        const refused = update(type, found[0], body, req)
        if (refused) return refused
        // an upsert that updates answers with the record from API 46.0 on; below, 204 and no body
        if (versionOf(req) < 46) return { status: 204 }
        return { status: 200, body: { id: id18(found[0].Id), success: true, errors: [], created: false } }
      }
      const record = { ...body, [idField.name]: b, Id: newId(type) }
      const refused = create(type, record, req)
      if (refused) return refused
      return { status: 201, body: { id: id18(record.Id), success: true, errors: [], created: true } }
    }
    if (a !== undefined) {
      // a record's URL names it by either form of its id
      const id15 = readId(a)
      const record = rows.find((r) => r.Id === id15)
      if (!record) return sfError(404, "NOT_FOUND", "The requested resource does not exist")
      if (req.method === "GET") return fieldsOf(record)
      const refused = update(type, record, body, req)
      if (refused) return refused
      return { status: 204 }
    }
    const record = { ...body, Id: newId(type) }
    const refused = create(type, record, req)
    if (refused) return refused
    return { status: 201, body: { id: id18(record.Id), success: true, errors: [] } }
  }

  const isToken = (req: RecordedRequest) => req.path === "/services/oauth2/token"
  const controls = await startFakeServer(
    (req, baseUrl) => {
      if (isToken(req)) return token(req, baseUrl)
      const soapCall = req.path.startsWith("/services/Soap/u/")
      const session = soapCall
        ? (xmlTag(req.body, "sessionId") ?? "")
        : (req.headers.authorization ?? "").replace(/^Bearer /, "")
      // the org's 24-hour allocation spent: every authenticated API call is refused until it frees up (a bad session
      // is still told so first)
      if (tokens.has(session) && used >= (options.apiLimit ?? 15000)) {
        return soapCall
          ? {
              ...xml(
                "<soapenv:Fault><faultcode>sf:REQUEST_LIMIT_EXCEEDED</faultcode><faultstring>REQUEST_LIMIT_EXCEEDED: TotalRequests Limit exceeded.</faultstring></soapenv:Fault>"
              ),
              status: 500
            }
          : sfError(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
      }
      used++
      if (soapCall) return soap(req)
      return rest(req, baseUrl)
    },
    (req) => (isToken(req) ? {} : { "Sforce-Limit-Info": `api-usage=${used}/${options.apiLimit ?? 15000}` })
  )
  return {
    ...controls,
    records,
    tokenRequests: () => controls.requests.filter(isToken),
    apiRequests: () => controls.requests.filter((r) => !isToken(r)),
    expireSessions: () => tokens.clear(),
    rotateClientSecret: (secret: string) => {
      clientSecret = secret
    },
    leadAssignments: () => assignments,
    setTaskStatuses: (values) => {
      taskStatuses = values
    }
  }
}
