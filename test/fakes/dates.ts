/**
 * A day as the CRMs' parsers read "YYYY-MM-DD": it must exist (no 2026-02-30, no month 13). Written apart from the
 * project's own check (src/domain/tools.ts) on purpose: a fake that shared it would accept whatever it accepts.
 */
export const isExistingDay = (text: string) => {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(text)) return false
  const parsed = new Date(`${text}T00:00:00.000Z`)
  // Date rolls an impossible day over (2026-02-30 -> 2026-03-02); a real one reads back as itself
  return !Number.isNaN(parsed.getTime()) && parsed.toISOString().slice(0, 10) === text
}

/**
 * A day a Salesforce Date field stores: one that exists, from 1700-01-01 to 4000-12-31 (Salesforce's valid date range;
 * a day outside it is refused with FIELD_INTEGRITY_EXCEPTION). HubSpot has no such range: `isHubSpotTime` keeps
 * `isExistingDay` alone.
 */
export const isSalesforceDayInRange = (text: string) => {
  const year = Number(text.slice(0, 4))
  return year >= 1700 && year <= 4000
}

/**
 * A HubSpot date / datetime value: milliseconds since the epoch, or ISO 8601 (a day, or a day and a time) naming a
 * day that exists. Anything else HubSpot reads as a number and refuses ("… was not a valid long.").
 */
export const isHubSpotTime = (value: string) => {
  if (/^-?\d+$/.test(value)) return true
  const iso = /^(\d{4}-\d{2}-\d{2})(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:\d{2}))?$/.exec(value)
  return iso !== null && isExistingDay(iso[1] ?? "") && !Number.isNaN(Date.parse(value))
}
