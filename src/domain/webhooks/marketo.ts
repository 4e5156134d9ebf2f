import { createHash, timingSafeEqual } from "node:crypto"
import type { LeadInputShape } from "./hubspot.js"

/** Header Marketo's webhook sends with the shared token (set with Webhooks Actions > Set Custom Header). */
export const marketoTokenHeader = "x-revenueflow-token"
/** Campaign id used when neither the program id nor a campaignId is in the payload. */
export const marketoFallbackCampaign = "marketo"

/**
 * The payload template to paste into the Marketo webhook (Request Token Encoding: JSON). Tokens are bare: with
 * JSON encoding Marketo quotes and escapes string tokens itself, so wrapping them in quotes would break the JSON.
 */
export const marketoTemplate = `{
  "email": {{lead.Email Address}},
  "firstName": {{lead.First Name}},
  "lastName": {{lead.Last Name}},
  "company": {{company.Company Name}},
  "title": {{lead.Job Title}},
  "phone": {{lead.Phone Number}},
  "website": {{company.Website}},
  "country": {{lead.Country}},
  "leadSource": {{lead.Lead Source}},
  "marketoLeadId": {{lead.Id}},
  "programId": {{program.id}},
  "programName": {{program.name}},
  "campaignName": {{campaign.name}}
}`

type Body = Readonly<Record<string, unknown>>

/** Template keys copied as they are: the LeadInput text fields, so authors can add e.g. "utmSource" to the template. */
const passThrough = [
  "email",
  "firstName",
  "lastName",
  "company",
  "title",
  "phone",
  "website",
  "country",
  "source",
  "utmSource",
  "utmMedium",
  "utmCampaign",
  "utmTerm",
  "utmContent"
] as const

/** Template keys with their own meaning; anything else becomes an attribute. */
const special = new Set<string>([
  ...passThrough,
  "campaignId",
  "leadSource",
  "marketoLeadId",
  "programId",
  "programName",
  "campaignName"
])

/** Token text: Marketo renders empty fields as "" (or null), which means "not set". */
const text = (value: unknown): string | undefined => {
  if (typeof value === "number" && Number.isFinite(value)) return String(value)
  if (typeof value === "boolean") return String(value)
  if (typeof value !== "string") return undefined
  return value.trim().length > 0 ? value : undefined
}

/**
 * Maps a rendered `marketoTemplate` body to LeadInput's shape; the caller decodes it with LeadInput (strict),
 * which names missing or bad fields. campaignId: explicit "campaignId", else the program id, else "marketo".
 * Extra template keys become attributes (and are checked by the Attributes schema).
 */
export const marketoToLeadInput = (body: unknown): LeadInputShape => {
  if (body === null || typeof body !== "object" || Array.isArray(body)) return {}
  const input = body as Body
  const out: Record<string, unknown> = {}
  for (const key of passThrough) {
    const value = text(input[key])
    if (value !== undefined) out[key] = value
  }
  const leadSource = text(input.leadSource)
  if (out.source === undefined && leadSource !== undefined) out.source = leadSource
  out.campaignId = text(input.campaignId) ?? text(input.programId) ?? marketoFallbackCampaign
  // Null prototype: template keys are author-controlled, and "__proto__" must stay a key for the schema to reject.
  const attributes: Record<string, unknown> = Object.create(null)
  const leadId = text(input.marketoLeadId)
  if (leadId !== undefined) attributes["marketo.leadId"] = leadId
  const programName = text(input.programName)
  if (programName !== undefined) attributes["marketo.programName"] = programName
  const campaignName = text(input.campaignName)
  if (campaignName !== undefined) attributes["marketo.campaignName"] = campaignName
  for (const [key, value] of Object.entries(input)) {
    if (special.has(key) || value === null || value === "") continue
    attributes[key] = value
  }
  if (Object.keys(attributes).length > 0) out.attributes = { ...attributes }
  return out as LeadInputShape
}

/**
 * Constant-time check of the shared token header against the expected token or tokens (the current one and, while it
 * is rotated, the previous one); hashing first makes lengths equal without leaking them, and every token is compared
 * whichever matches. A blank expected token matches nothing. Expected tokens are compared without the whitespace
 * around them: HTTP strips it from the header's value, so a token configured with it could never match.
 */
export const verifyMarketoToken = (expected: string | ReadonlyArray<string>, received: string | undefined): boolean => {
  if (received === undefined || received.length === 0) return false
  const b = createHash("sha256").update(received, "utf8").digest()
  let ok = false
  for (const token of typeof expected === "string" ? [expected] : expected) {
    const trimmed = token.trim()
    if (trimmed === "") continue
    const a = createHash("sha256").update(trimmed, "utf8").digest()
    ok = timingSafeEqual(a, b) || ok
  }
  return ok
}
