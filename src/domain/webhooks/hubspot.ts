import type * as Schema from "effect/Schema"
import type { LeadInput } from "../lead.js"

type Encoded = Schema.Schema.Encoded<typeof LeadInput>
/** What a webhook mapper produces: LeadInput's wire shape, every field optional, to be decoded by LeadInput. */
export type LeadInputShape = { -readonly [K in keyof Encoded]?: Encoded[K] }

/** The contact property read as the campaign id unless configured otherwise (HubSpot's "Original source drill-down 2"). */
export const hubspotCampaignProperty = "hs_analytics_source_data_2"
/** Campaign id used when the contact has no value in the campaign property. */
export const hubspotFallbackCampaign = "hubspot"

/** Options for mapping a HubSpot workflow webhook body. */
export interface HubSpotMappingOptions {
  /** Contact property holding the campaign id; default `hubspotCampaignProperty`. */
  readonly campaignProperty?: string | undefined
  /** Campaign id when that property is empty; default "hubspot". */
  readonly fallbackCampaign?: string | undefined
}

type Props = Readonly<Record<string, unknown>>

const isRecord = (value: unknown): value is Props =>
  value !== null && typeof value === "object" && !Array.isArray(value)

/**
 * HubSpot sends contact properties in three shapes: the legacy workflow body `{ vid, properties: { email: { value } } }`,
 * the CRM v3 shape `{ objectId | id, properties: { email: "..." } }` (also nested under `object`), and a flat body of
 * key/value pairs when the workflow author picks the properties. This finds the property bag in any of them.
 */
const propertyBag = (body: Props): Props => {
  if (isRecord(body.properties)) return body.properties
  if (isRecord(body.object) && isRecord(body.object.properties)) return body.object.properties
  return body
}

/** A property's value as text: unwraps `{ value }`, drops empty strings (HubSpot's "unset"). */
const text = (props: Props, name: string): string | undefined => {
  let value = props[name]
  if (isRecord(value)) value = value.value
  if (typeof value === "number") return Number.isFinite(value) ? String(value) : undefined
  if (typeof value === "boolean") return String(value)
  if (typeof value !== "string") return undefined
  return value.trim().length > 0 ? value : undefined
}

const count = (props: Props, name: string): number | undefined => {
  const value = text(props, name)
  if (value === undefined) return undefined
  const n = Number(value)
  return Number.isFinite(n) ? n : undefined
}

/** HubSpot datetimes arrive as epoch milliseconds (legacy) or ISO text (v3); both become ISO text. */
const timestamp = (props: Props, name: string): string | undefined => {
  const value = text(props, name)
  if (value === undefined || !/^\d{10,16}$/.test(value)) return value
  const date = new Date(Number(value))
  return Number.isNaN(date.getTime()) ? undefined : date.toISOString()
}

const firstId = (...candidates: ReadonlyArray<unknown>): string | undefined => {
  for (const candidate of candidates) {
    if (typeof candidate === "number" && Number.isFinite(candidate)) return String(candidate)
    if (typeof candidate === "string" && /^\d{1,20}$/.test(candidate)) return candidate
  }
  return undefined
}

/** Copies only defined members, so the result satisfies exactOptionalPropertyTypes and decodes cleanly. */
const defined = <T extends Record<string, unknown>>(record: T): T => {
  const out: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(record)) if (value !== undefined) out[key] = value
  return out as T
}

/**
 * Maps the body a HubSpot workflow webhook posts about a contact to LeadInput's shape. The caller decodes the
 * result with LeadInput (strict options), which names any missing or bad field. Unknown properties are ignored:
 * "include all contact properties" sends hundreds of them.
 */
export const hubspotToLeadInput = (body: unknown, options: HubSpotMappingOptions = {}): LeadInputShape => {
  if (!isRecord(body)) return {}
  const props = propertyBag(body)
  const object = isRecord(body.object) ? body.object : {}
  const campaignProperty = options.campaignProperty ?? hubspotCampaignProperty
  const contactId = firstId(body.objectId, body.id, body.vid, body["canonical-vid"], object.objectId, object.id)
  const portalId = firstId(body.portalId, body["portal-id"], object.portalId)
  const activity = defined({
    pageViews: count(props, "hs_analytics_num_page_views"),
    formSubmissions: count(props, "num_conversion_events"),
    emailOpens: count(props, "hs_email_open"),
    emailClicks: count(props, "hs_email_click"),
    lastActivityAt: timestamp(props, "hs_analytics_last_timestamp")
  })
  const attributes = defined({
    "hubspot.contactId": contactId ?? text(props, "hs_object_id"),
    "hubspot.portalId": portalId
  })
  return defined({
    email: text(props, "email"),
    campaignId: text(props, campaignProperty) ?? options.fallbackCampaign ?? hubspotFallbackCampaign,
    firstName: text(props, "firstname"),
    lastName: text(props, "lastname"),
    company: text(props, "company"),
    title: text(props, "jobtitle"),
    phone: text(props, "phone") ?? text(props, "mobilephone"),
    website: text(props, "website"),
    country: text(props, "country"),
    source: text(props, "hs_analytics_source"),
    utmSource: text(props, "utm_source"),
    utmMedium: text(props, "utm_medium"),
    utmCampaign: text(props, "utm_campaign"),
    utmTerm: text(props, "utm_term"),
    utmContent: text(props, "utm_content"),
    activity: Object.keys(activity).length > 0 ? activity : undefined,
    attributes: Object.keys(attributes).length > 0 ? attributes : undefined
  }) as LeadInputShape
}
