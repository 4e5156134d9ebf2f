import * as Schema from "effect/Schema"

/** Practical email check: one @, a dotted domain, no whitespace; full RFC 5322 is not worth its false positives. */
const EMAIL_PATTERN = /^[^\s@"<>()[\]\\,;:]+@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$/

/** An email address, trimmed and lower-cased on decode. */
export const Email = Schema.Trim.pipe(
  Schema.compose(Schema.Lowercase),
  Schema.maxLength(254, { message: () => "email must be at most 254 characters" }),
  Schema.pattern(EMAIL_PATTERN, { message: () => "email must be a valid email address" })
).annotations({ identifier: "Email", description: "A valid email address (trimmed, lower-cased)" })

const boundedText = (name: string, max: number) =>
  Schema.Trim.pipe(
    Schema.minLength(1, { message: () => `${name} must not be empty` }),
    Schema.maxLength(max, { message: () => `${name} must be at most ${max} characters` })
  )

/** A campaign identifier, 1 to 128 characters after trimming. */
export const CampaignId = boundedText("campaignId", 128).annotations({ identifier: "CampaignId" })

const AttributeValue = Schema.Union(
  Schema.String.pipe(Schema.maxLength(1024, { message: () => "attribute values must be at most 1024 characters" })),
  Schema.Number,
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
  value: AttributeValue
}).pipe(Schema.filter((record) => Object.keys(record).length <= 50 || "attributes may hold at most 50 keys"))

/** Marketing / product behaviour the source platform reports about the lead (the evidence for BEHAVIOR claims). */
export const Activity = Schema.Struct({
  pageViews: Schema.optional(Schema.Int.pipe(Schema.between(0, 1_000_000))),
  emailOpens: Schema.optional(Schema.Int.pipe(Schema.between(0, 1_000_000))),
  emailClicks: Schema.optional(Schema.Int.pipe(Schema.between(0, 1_000_000))),
  formSubmissions: Schema.optional(Schema.Int.pipe(Schema.between(0, 1_000_000))),
  pricingPageVisits: Schema.optional(Schema.Int.pipe(Schema.between(0, 1_000_000))),
  demoRequested: Schema.optional(Schema.Boolean),
  trialSignup: Schema.optional(Schema.Boolean),
  productLogins: Schema.optional(Schema.Int.pipe(Schema.between(0, 1_000_000))),
  lastActivityAt: Schema.optional(Schema.String.pipe(Schema.maxLength(40)))
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
  firstName: Schema.optional(boundedText("firstName", 80)),
  lastName: Schema.optional(boundedText("lastName", 80)),
  company: Schema.optional(boundedText("company", 255)),
  title: Schema.optional(boundedText("title", 128)),
  phone: Schema.optional(
    Schema.Trim.pipe(
      Schema.pattern(/^\+?[0-9 ().-]{5,32}$/, { message: () => "phone must be 5-32 digits, spaces or + ( ) . -" })
    )
  ),
  website: Schema.optional(boundedText("website", 255)),
  country: Schema.optional(boundedText("country", 64)),
  source: Schema.optional(boundedText("source", 64)),
  utmSource: Schema.optional(boundedText("utmSource", 128)),
  utmMedium: Schema.optional(boundedText("utmMedium", 128)),
  utmCampaign: Schema.optional(boundedText("utmCampaign", 128)),
  utmTerm: Schema.optional(boundedText("utmTerm", 128)),
  utmContent: Schema.optional(boundedText("utmContent", 128)),
  activity: Schema.optional(Activity),
  attributes: Schema.optional(Attributes)
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
    if (host !== undefined && host.includes(".")) return host
  }
  return emailDomain(lead.email)
}
