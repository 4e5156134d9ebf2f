import * as Schema from "effect/Schema"
import { emailArbitrary } from "./emailArbitrary.js"
import { dropHidden, FreeText, refuseInvisible } from "./text.js"

/** Practical email check: one @, a dotted domain, no whitespace; full RFC 5322 is not worth its false positives. */
const EMAIL_PATTERN = /^[^\s@"<>()[\]\\,;:]+@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$/

/**
 * A string trimmed on decode. Schema.Trim would document the field as "a string that will be trimmed" (JSON Schema
 * describes the encoded side); this documents what the field must hold instead.
 */
const trimmed = (description: string, jsonSchema: Record<string, unknown> = {}) =>
  Schema.transform(Schema.String.annotations({ description, jsonSchema }), Schema.Trimmed, {
    strict: true,
    decode: (s) => s.trim(),
    encode: (s) => s
  })

const EmailChecks = trimmed("an email address (trimmed and lower-cased; no control, bidi or invisible characters)", {
  maxLength: 254
}).pipe(
  Schema.compose(Schema.Lowercase),
  refuseInvisible("email"),
  Schema.maxLength(254, { message: () => "email must be at most 254 characters" }),
  Schema.pattern(EMAIL_PATTERN, { message: () => "email must be a valid email address" })
)
const isEmail = Schema.is(EmailChecks)

/** An email address, trimmed and lower-cased on decode; controls, bidi and invisible characters are refused. */
export const Email = EmailChecks.annotations({
  identifier: "Email",
  description: "A valid email address (trimmed, lower-cased; no control, bidi or invisible characters)",
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
export const CampaignId = trimmed("1 to 128 characters after trimming; no control, bidi or invisible characters", {
  minLength: 1
})
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
