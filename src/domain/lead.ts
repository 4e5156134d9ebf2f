import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import { emailArbitrary } from "./emailArbitrary.js"
import { isPlainObject } from "./plainDecode.js"
import { nfc } from "./leadKey.js"
import { dropHidden, FreeText, refuseInvisible } from "./text.js"

/**
 * Practical email check: one @, a local part of dot-separated atoms (no leading, trailing or doubled dot: RFC 5322's
 * dot-atom, which the CRMs hold addresses to), a dotted domain, no whitespace; full RFC 5322 (quoted local parts,
 * comments) is not worth its false positives.
 */
const EMAIL_PATTERN =
  /^[^\s@"<>()[\]\\,;:.]+(?:\.[^\s@"<>()[\]\\,;:.]+)*@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$/

/**
 * A string trimmed (by default) on decode. Schema.Trim would document the field as "a string that will be trimmed"
 * (JSON Schema describes the encoded side); this documents what the field must hold instead.
 */
const trimmed = (
  description: string,
  jsonSchema: Record<string, unknown> = {},
  normal: (text: string) => string = (text) => text.trim()
) =>
  Schema.transform(Schema.String.annotations({ description, jsonSchema }), Schema.Trimmed, {
    strict: true,
    decode: normal,
    encode: (s) => s
  })

/**
 * An identity field (email, campaignId): trimmed and in Unicode normal form C on decode (`nfc`, as lead keys are
 * made), so composed and decomposed spellings are one lead, not two. What it holds is checked on the composed form.
 */
const identity = (description: string, jsonSchema: Record<string, unknown> = {}) =>
  trimmed(description, jsonSchema, (text) => nfc(text.trim()))

const EmailChecks = identity(
  "an email address (trimmed, lower-cased, Unicode NFC; no control, bidi or invisible characters)",
  { maxLength: 254 }
).pipe(
  Schema.compose(Schema.Lowercase),
  refuseInvisible("email"),
  Schema.maxLength(254, { message: () => "email must be at most 254 characters" }),
  Schema.pattern(EMAIL_PATTERN, { message: () => "email must be a valid email address" })
)
const isEmail = Schema.is(EmailChecks)

/** An email address, trimmed and lower-cased on decode; controls, bidi and invisible characters are refused. */
export const Email = EmailChecks.annotations({
  identifier: "Email",
  description: "A valid email address (trimmed, Unicode NFC, lower-cased; no control, bidi or invisible characters)",
  // Generated addresses cover the schema's whole language (non-ASCII, quotes, braces...), not only ASCII.
  arbitrary: () => emailArbitrary(isEmail)
})

/** An optional field that may be absent but not `undefined` (JSON has no undefined; errors stay precise). */
const opt = <S extends Schema.Schema.Any>(schema: S) => Schema.optionalWith(schema, { exact: true })

/** Free text: hidden characters dropped (see text.ts), then trimmed and bounded; empty after that is refused. */
const boundedText = (name: string, max: number) =>
  FreeText.pipe(
    Schema.compose(Schema.Trim),
    Schema.minLength(1, { message: () => `${name} must not be empty` }),
    Schema.maxLength(max, { message: () => `${name} must be at most ${max} characters` })
  )

/** A campaign identifier, 1 to 128 characters after trimming; controls, bidi and invisible characters are refused. */
export const CampaignId = identity(
  "1 to 128 characters after trimming (Unicode NFC); no control, bidi or invisible characters",
  { minLength: 1 }
)
  .pipe(
    refuseInvisible("campaignId"),
    Schema.minLength(1, { message: () => "campaignId must not be empty" }),
    Schema.maxLength(128, { message: () => "campaignId must be at most 128 characters" })
  )
  .annotations({ identifier: "CampaignId" })

const AttributeValue = Schema.Union(
  Schema.String.pipe(Schema.maxLength(1024, { message: () => "attribute values must be at most 1024 characters" })),
  // JSON has no Infinity or NaN: stored, they would come back as null
  Schema.Number.pipe(Schema.finite({ message: () => "attribute values must be finite numbers" })),
  Schema.Boolean,
  Schema.Null
)

/** Free-form extra attributes: at most 50 flat keys, each value a short scalar. */
export const Attributes = Schema.Record({
  key: Schema.String.pipe(
    Schema.pattern(/^[A-Za-z][A-Za-z0-9_.-]{0,63}$/, {
      message: () => "attribute keys must start with a letter and use only letters, digits, _ . - (max 64)"
    })
  ),
  // Text values drop hidden characters like every free-text field; numbers, booleans and null pass as they are.
  value: Schema.transform(AttributeValue, Schema.typeSchema(AttributeValue), {
    strict: true,
    decode: (value) => (typeof value === "string" ? dropHidden(value) : value),
    encode: (value) => value
  })
}).pipe(Schema.filter((record) => Object.keys(record).length <= 50 || "attributes may hold at most 50 keys"))

/** Marketing / product behaviour the source platform reports about the lead (the evidence for BEHAVIOR claims). */
export const Activity = Schema.Struct({
  pageViews: opt(Schema.Int.pipe(Schema.between(0, 1_000_000))),
  emailOpens: opt(Schema.Int.pipe(Schema.between(0, 1_000_000))),
  emailClicks: opt(Schema.Int.pipe(Schema.between(0, 1_000_000))),
  formSubmissions: opt(Schema.Int.pipe(Schema.between(0, 1_000_000))),
  pricingPageVisits: opt(Schema.Int.pipe(Schema.between(0, 1_000_000))),
  demoRequested: opt(Schema.Boolean),
  trialSignup: opt(Schema.Boolean),
  productLogins: opt(Schema.Int.pipe(Schema.between(0, 1_000_000))),
  lastActivityAt: opt(FreeText.pipe(Schema.maxLength(40)))
}).annotations({ parseOptions: { onExcessProperty: "error" } })
export type Activity = typeof Activity.Type

/** Where a lead came from. */
export const LeadSource = Schema.Literal("api", "marketo", "hubspot")
export type LeadSource = typeof LeadSource.Type

/**
 * The body of `POST /leads`. Unknown top-level fields are rejected (no mass assignment).
 */
export const LeadInput = Schema.Struct({
  email: Email,
  campaignId: CampaignId,
  firstName: opt(boundedText("firstName", 80)),
  lastName: opt(boundedText("lastName", 80)),
  company: opt(boundedText("company", 255)),
  title: opt(boundedText("title", 128)),
  phone: opt(
    trimmed("phone: 5 to 32 digits, spaces or + ( ) . -", { pattern: "^\\s*\\+?[0-9 ().-]{5,32}\\s*$" }).pipe(
      Schema.pattern(/^\+?[0-9 ().-]{5,32}$/, { message: () => "phone must be 5-32 digits, spaces or + ( ) . -" })
    )
  ),
  website: opt(boundedText("website", 255)),
  country: opt(boundedText("country", 64)),
  source: opt(boundedText("source", 64)),
  utmSource: opt(boundedText("utmSource", 128)),
  utmMedium: opt(boundedText("utmMedium", 128)),
  utmCampaign: opt(boundedText("utmCampaign", 128)),
  utmTerm: opt(boundedText("utmTerm", 128)),
  utmContent: opt(boundedText("utmContent", 128)),
  activity: opt(Activity),
  attributes: opt(Attributes)
}).annotations({
  identifier: "LeadInput",
  description: "A marketing lead",
  parseOptions: { onExcessProperty: "error" }
})
export type LeadInput = typeof LeadInput.Type

/** Options to decode untrusted input: report every problem, reject unknown keys. */
export const strictParseOptions = { errors: "all", onExcessProperty: "error" } as const

/** Lead lifecycle states. */
export const LeadStatus = Schema.Literal("RECEIVED", "QUEUED", "PROCESSING", "SYNCED", "REJECTED", "FAILED")
export type LeadStatus = typeof LeadStatus.Type

/** States after which the consumer does nothing more. */
export const terminalStatuses: ReadonlyArray<LeadStatus> = ["SYNCED", "REJECTED", "FAILED"]
export const isTerminal = (status: LeadStatus): boolean => terminalStatuses.includes(status)

/** The email's domain, or undefined when the input has none. */
export const emailDomain = (email: string): string => email.slice(email.lastIndexOf("@") + 1).toLowerCase()

/** The company domain to enrich and to group rate limits by: website host if given, else the email domain. */
export const accountDomain = (lead: Pick<LeadInput, "email" | "website">): string => {
  if (lead.website !== undefined) {
    const host = lead.website
      .trim()
      .toLowerCase()
      .replace(/^[a-z][a-z0-9+.-]*:\/\//, "")
      .replace(/^www\./, "")
      .split(/[/?#:]/)[0]
    if (host?.includes(".")) return host
  }
  return emailDomain(lead.email)
}

const decodeStrict = Schema.decodeUnknownEither(LeadInput)

// The common lead, checked by hand: every string printable ASCII (so dropping hidden characters and refusing
// invisible ones change nothing, and trimming removes only spaces), every field of the type LeadInput expects and
// within its bounds. Anything else, valid or not, goes to the schema, which stays the definition: the fast path only
// answers what the schema would answer (test/domain/leadDecode.test.ts checks it on generated leads).
const PRINTABLE = /^[\x20-\x7e]*$/
const PHONE = /^\+?[0-9 ().-]{5,32}$/
const ATTRIBUTE_KEY = /^[A-Za-z][A-Za-z0-9_.-]{0,63}$/
/** LeadInput's optional text fields in its order, with their longest length after trimming. */
const TEXT_FIELDS: ReadonlyArray<readonly [string, number]> = [
  ["firstName", 80],
  ["lastName", 80],
  ["company", 255],
  ["title", 128],
  ["phone", 0],
  ["website", 255],
  ["country", 64],
  ["source", 64],
  ["utmSource", 128],
  ["utmMedium", 128],
  ["utmCampaign", 128],
  ["utmTerm", 128],
  ["utmContent", 128]
]
const LEAD_KEYS = new Set(["email", "campaignId", ...TEXT_FIELDS.map(([key]) => key), "activity", "attributes"])
/** Activity's fields in its order: counts, flags, and lastActivityAt (free text, not trimmed, at most 40). */
const ACTIVITY_KEYS = [
  "pageViews",
  "emailOpens",
  "emailClicks",
  "formSubmissions",
  "pricingPageVisits",
  "demoRequested",
  "trialSignup",
  "productLogins",
  "lastActivityAt"
] as const
const ACTIVITY_KEY_SET: ReadonlySet<string> = new Set(ACTIVITY_KEYS)

const printable = (value: unknown): value is string => typeof value === "string" && PRINTABLE.test(value)

const plainActivity = (value: unknown): Activity | undefined => {
  if (!isPlainObject(value)) return undefined
  for (const key in value) if (!ACTIVITY_KEY_SET.has(key)) return undefined
  const out: Record<string, unknown> = {}
  for (const key of ACTIVITY_KEYS) {
    if (!(key in value)) continue
    const field = value[key]
    if (key === "lastActivityAt") {
      if (!printable(field) || field.length > 40) return undefined
    } else if (key === "demoRequested" || key === "trialSignup") {
      if (typeof field !== "boolean") return undefined
    } else if (!(Number.isSafeInteger(field) && (field as number) >= 0 && (field as number) <= 1_000_000)) {
      return undefined
    }
    out[key] = field
  }
  return out as Activity
}

const plainAttributes = (value: unknown): Record<string, string | number | boolean | null> | undefined => {
  if (!isPlainObject(value)) return undefined
  const out: Record<string, string | number | boolean | null> = {}
  let count = 0
  for (const key in value) {
    if (++count > 50 || !ATTRIBUTE_KEY.test(key)) return undefined
    const field = value[key]
    if (typeof field === "string") {
      if (field.length > 1024 || !PRINTABLE.test(field)) return undefined
    } else if (typeof field === "number") {
      if (!Number.isFinite(field)) return undefined
    } else if (typeof field !== "boolean" && field !== null) return undefined
    out[key] = field
  }
  return out
}

/** The lead `input` decodes to when it is plainly valid (see above); undefined to let the schema decide. */
export const plainLeadInput = (input: unknown): LeadInput | undefined => {
  if (!isPlainObject(input)) return undefined
  for (const key in input) if (!LEAD_KEYS.has(key)) return undefined
  const { email: rawEmail, campaignId: rawCampaign } = input
  if (!printable(rawEmail) || !printable(rawCampaign)) return undefined
  const email = rawEmail.trim().toLowerCase()
  const campaignId = rawCampaign.trim()
  if (email.length > 254 || !EMAIL_PATTERN.test(email) || campaignId.length < 1 || campaignId.length > 128) {
    return undefined
  }
  const out: Record<string, unknown> = { email, campaignId }
  for (const [key, max] of TEXT_FIELDS) {
    if (!(key in input)) continue
    const raw = input[key]
    if (!printable(raw)) return undefined
    const text = raw.trim()
    if (max === 0 ? !PHONE.test(text) : text.length < 1 || text.length > max) return undefined
    out[key] = text
  }
  if ("activity" in input) {
    const activity = plainActivity(input.activity)
    if (activity === undefined) return undefined
    out.activity = activity
  }
  if ("attributes" in input) {
    const attributes = plainAttributes(input.attributes)
    if (attributes === undefined) return undefined
    out.attributes = attributes
  }
  return out as LeadInput
}

/**
 * Decodes untrusted input as a LeadInput with `strictParseOptions`: the hand-checked fast path for the common lead,
 * the schema for everything else (and for every error, so error answers name each bad field as before).
 */
export const decodeLeadInput = (input: unknown): Either.Either<LeadInput, ParseResult.ParseError> => {
  const plain = plainLeadInput(input)
  if (plain !== undefined) return Either.right(plain)
  const oversized = oversizedObject(input)
  return oversized === undefined ? decodeStrict(input, strictParseOptions) : Either.left(oversized)
}

/** More keys than a lead (or its attributes) can hold by far: refused as one problem, before the schema looks. */
const MAX_LEAD_KEYS = 64

/**
 * A body of thousands of keys (a few KB of `{"a":1,"b":1,…}`) would cost the schema one issue per key, each formatted
 * into the answer: tens of milliseconds of CPU for one request. Refused at once, as one problem, when the lead or its
 * attributes hold more keys than they could ever be allowed.
 */
const oversizedObject = (input: unknown): ParseResult.ParseError | undefined => {
  if (!isPlainObject(input)) return undefined
  const count = (record: Record<string, unknown>, max: number) => {
    let n = 0
    for (const _ in record) if (++n > max) return n
    return n
  }
  const top = count(input, MAX_LEAD_KEYS)
  if (top > MAX_LEAD_KEYS) {
    const message = `a lead has at most ${LEAD_KEYS.size} fields (${[...LEAD_KEYS].join(", ")}); this one has more than ${MAX_LEAD_KEYS}`
    return new ParseResult.ParseError({ issue: new ParseResult.Type(LeadInput.ast, input, message) })
  }
  const attributes = input.attributes
  if (isPlainObject(attributes) && count(attributes, MAX_LEAD_KEYS) > MAX_LEAD_KEYS) {
    const issue = new ParseResult.Type(Attributes.ast, attributes, "attributes may hold at most 50 keys")
    return new ParseResult.ParseError({ issue: new ParseResult.Pointer("attributes", input, issue) })
  }
  return undefined
}

/** An optional field a webhook lead was accepted without: where it was and what was wrong with it. */
export interface DroppedField {
  readonly field: string
  readonly problem: string
}

/** The fields that make a lead what it is: a problem in one of them refuses the lead, wherever it came from. */
const IDENTITY_KEYS: ReadonlySet<string> = new Set(["email", "campaignId"])

/**
 * Decodes a lead mapped from a webhook delivery, whose sender does not retry a refusal (HubSpot retries no 4xx but
 * 429, Marketo nothing) and whose fields its users type freely: when every problem lies in an optional field (a
 * phone with an extension, an 81-character first name, page views of "12.5", one bad attribute), those fields are
 * left out — the attribute or activity entry alone, not all of them — and the lead is accepted without them, the
 * answer naming each. A problem in the email or the campaign, or in the body's shape, refuses the lead as
 * `decodeLeadInput` does. An API client gets the 400 instead (`decodeLeadInput`): it can correct and send again.
 */
export const decodeWebhookLeadInput = (
  input: unknown
): Either.Either<
  { readonly lead: LeadInput; readonly dropped: ReadonlyArray<DroppedField> },
  ParseResult.ParseError
> => {
  const decoded = decodeLeadInput(input)
  if (Either.isRight(decoded)) return Either.right({ lead: decoded.right, dropped: [] })
  if (!isPlainObject(input)) return Either.left(decoded.left)
  const issues = ParseResult.ArrayFormatter.formatErrorSync(decoded.left)
  const kept: Record<string, unknown> = { ...input }
  const dropped: Array<DroppedField> = []
  for (const issue of issues) {
    const [top, inner] = issue.path
    if (typeof top !== "string" || IDENTITY_KEYS.has(top) || !LEAD_KEYS.has(top)) return Either.left(decoded.left)
    const nested = kept[top]
    if ((top === "attributes" || top === "activity") && typeof inner === "string" && isPlainObject(nested)) {
      const { [inner]: _left, ...rest } = nested
      kept[top] = rest
    } else {
      delete kept[top]
    }
    dropped.push({ field: issue.path.map(String).join("."), problem: issue.message })
  }
  return Either.match(decodeLeadInput(kept), {
    onLeft: () => Either.left(decoded.left),
    onRight: (lead) => Either.right({ lead, dropped })
  })
}
