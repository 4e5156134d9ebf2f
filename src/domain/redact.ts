import type * as Brand from "effect/Brand"
import * as Redacted from "effect/Redacted"

/** What a masked value becomes. */
export const MASK = "***"
/** What a phone number found inside free text becomes. */
export const PHONE_MASK = "[phone]"

const maxDepth = 12

/** "jane@acme.com" -> "***@acme.com": the domain stays (it names the account, not the person). */
export const maskEmail = (email: string): string => {
  const at = email.lastIndexOf("@")
  if (at < 0) return MASK
  const domain = email.slice(at + 1).trim()
  return /^[A-Za-z0-9.-]{1,253}$/.test(domain) ? `${MASK}@${domain.toLowerCase()}` : MASK
}

type PiiKind = "email" | "other"

/** Key shapes that carry personal data; compared lower-cased with separators removed ("first_name" = "firstName"). */
const nameKeys = new Set([
  "name",
  "firstname",
  "lastname",
  "middlename",
  "fullname",
  "contactname",
  "givenname",
  "familyname",
  "surname",
  "displayname"
])
const notAddressKeys = new Set(["ipaddress", "remoteaddress", "macaddress", "serveraddress", "localaddress"])

const piiKind = (key: string): PiiKind | undefined => {
  const k = key.toLowerCase().replace(/[^a-z0-9]/g, "")
  if (k.startsWith("email") || k.endsWith("email") || k.endsWith("emails") || k.endsWith("emailaddress")) return "email"
  if (k.includes("phone") || k.includes("mobile") || k.endsWith("fax")) return "other"
  if (nameKeys.has(k)) return "other"
  if (notAddressKeys.has(k)) return undefined
  if (k.includes("address") || k.includes("street") || k === "zip" || k === "zipcode") return "other"
  if (k.endsWith("postalcode") || k.endsWith("postcode")) return "other"
  return undefined
}

/** Masks by key. An email* key holding a non-string (emailOpens: 3, emailSettings: {...}) is not an address. */
const maskValue = (kind: PiiKind, value: unknown, redactOther: (value: unknown) => unknown): unknown => {
  if (value === null || value === undefined || typeof value === "boolean") return value
  if (typeof value === "string") return kind === "email" ? maskEmail(value) : value.length === 0 ? value : MASK
  if (Array.isArray(value)) return value.map((item) => maskValue(kind, item, redactOther))
  return kind === "email" ? redactOther(value) : MASK
}

/** "@" and a domain as the lead schema accepts it (ASCII labels, alphabetic TLD): where an address may end. */
const AT_DOMAIN = /@((?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63})(?![A-Za-z0-9])/g
/** A character the schema accepts in a local part: anything but whitespace and @ " < > ( ) [ ] \ , ; : */
const LOCAL_CHAR = /^[^\s@"<>()[\]\\,;:]$/
/** The schema bounds an address to 254 characters; a CRM may echo each as a 6-character \uXXXX escape. */
const MAX_LOCAL = 254 * 6

/**
 * Where the local part before the "@" at `at` starts, not before `floor`. It runs back over every character the
 * lead schema accepts in a local part (non-ASCII, quotes, braces, tildes...), and over the JSON escapes a CRM may
 * write inside it (\uXXXX for non-ASCII, \/), so the whole local part is masked however it was echoed. Text glued
 * to the address with such characters ("to=" in a URL) is masked with it.
 */
const localPartStart = (text: string, at: number, floor: number): number => {
  let start = at
  while (start > floor && at - start < MAX_LOCAL) {
    const before = text[start - 1] as string
    if (LOCAL_CHAR.test(before)) start -= 1
    else if (before === "\\" && /^(?:u[0-9A-Fa-f]{4}|\/)/.test(text.slice(start, start + 5))) start -= 1
    else break
  }
  return start
}

/** "jürgen.müller@x.de" -> "***@x.de" for every address in `text`; the domain stays (it names the account). */
const maskEmailsInText = (text: string): string => {
  // Most log lines hold no "@": one scan and no allocation for them.
  if (!text.includes("@")) return text
  let out = ""
  let done = 0
  for (const match of text.matchAll(AT_DOMAIN)) {
    const start = localPartStart(text, match.index, done)
    // "@acme.com" alone is a handle or a mention, not an address.
    if (start === match.index) continue
    out += `${text.slice(done, start)}${MASK}@${(match[1] as string).toLowerCase()}`
    done = match.index + match[0].length
  }
  return done === 0 ? text : out + text.slice(done)
}

/**
 * Phone candidates: an optional +, digits and the separators people type (space . - ( )), bounded by anything that
 * is not part of a larger token (ids, decimals, times, prices, IPs). `looksLikePhone` then rejects the lookalikes.
 */
const PHONE_CANDIDATE = /(?<![\w.,/@$€£#=+-])(?<!\d:)\+?\(?\d[\d ().-]{4,22}\d\)?(?![\w%@/]|[.,:-]\d)/g

const DATE_SHAPE = /^(?:\d{4}[-./ ]\d{1,2}[-./ ]\d{1,2}|\d{1,2}[-./ ]\d{1,2}[-./ ]\d{2,4})$/
const IPV4_SHAPE = /^\d{1,3}(?:\.\d{1,3}){3}$/
const THOUSANDS_SHAPE = /^\d{1,3}(?:[ .]\d{3})+$/

const looksLikePhone = (candidate: string): boolean => {
  const digits = candidate.replace(/\D/g, "")
  if (digits.length < 7 || digits.length > 15) return false
  const opens = candidate.split("(").length - 1
  const closes = candidate.split(")").length - 1
  if (opens !== closes || opens > 1) return false
  if (candidate.startsWith("+")) return true
  const trimmed = candidate.trim()
  const groups = trimmed.split(/[ ().-]+/).filter((group) => group.length > 0)
  // A bare digit run is an id, a count or epoch millis, never a phone unless it starts with "+".
  if (groups.length < 2) return false
  if (DATE_SHAPE.test(trimmed) || IPV4_SHAPE.test(trimmed) || THOUSANDS_SHAPE.test(trimmed)) return false
  // Dots mixed with other separators are a list of decimals ("12.50 34.75"), not one dotted number.
  if (trimmed.includes(".") && /[ ()-]/.test(trimmed)) return false
  // Versions and build numbers ("10.0.19045.3803") have single-digit parts after the first; phones do not.
  if (groups.slice(1).some((group) => group.length < 2)) return false
  if (groups.length === 2 && !opens) {
    // Two groups are a range or a decimal ("1000-5000", "12345.67") unless shaped like a local number.
    const [first = "", second = ""] = groups
    const usLocal = first.length === 3 && second.length === 4 && !trimmed.includes(".")
    const trunkPrefixed = first.startsWith("0") && digits.length >= 9
    if (!usLocal && !trunkPrefixed) return false
  }
  return true
}

/** Masks emails (domain kept) and phone numbers inside free text; ids, timestamps, IPs, versions and prices stay. */
export const redactText = (text: string): string =>
  maskEmailsInText(text).replace(PHONE_CANDIDATE, (match) => {
    // An unpaired edge parenthesis belongs to the sentence ("(call 415-555-0100)"), not to the number.
    let core = match
    if (core.endsWith(")") && !core.includes("(")) core = core.slice(0, -1)
    if (core.startsWith("(") && !core.includes(")")) core = core.slice(1)
    return looksLikePhone(core) ? match.replace(core, PHONE_MASK) : match
  })

const redactDeep = (value: unknown, seen: WeakSet<object>, depth: number): unknown => {
  if (typeof value === "string") return redactText(value)
  if (value === null || typeof value !== "object") {
    return typeof value === "function" ? "[Function]" : value
  }
  if (Redacted.isRedacted(value)) return value
  if (seen.has(value)) return "[Circular]"
  if (depth >= maxDepth) return "[MaxDepth]"
  if (value instanceof Date) return new Date(value.getTime())
  if (ArrayBuffer.isView(value)) return `[binary ${value.byteLength} bytes]`
  seen.add(value)
  try {
    if (Array.isArray(value)) return value.map((item) => redactDeep(item, seen, depth + 1))
    if (value instanceof Map) {
      return redactDeep(Object.fromEntries(value), seen, depth + 1)
    }
    if (value instanceof Set) return redactDeep([...value], seen, depth + 1)
    const isError = value instanceof Error
    const source = isError ? { ...value, name: value.name, message: value.message } : value
    const recurse = (member: unknown) => redactDeep(member, seen, depth + 1)
    const out: Record<string, unknown> = Object.create(null)
    for (const [key, member] of Object.entries(source)) {
      // An error's name is its class ("GuardBlocked"), not a person.
      const kind = isError && key === "name" ? undefined : piiKind(key)
      out[key] = kind === undefined ? recurse(member) : maskValue(kind, member, recurse)
    }
    return { ...out }
  } finally {
    seen.delete(value)
  }
}

/**
 * A redacted deep copy for logs and audit rows: PII keys (email*, phone, names, address parts) masked by key,
 * emails and phone numbers masked inside any string. Never mutates its input; cycles and depth are bounded.
 */
export const redact = (value: unknown): unknown => redactDeep(value, new WeakSet(), 0)

/** Error text as the stores keep it (leads.error, crm_actions.error); `errorText` is the only way to make one. */
export type ErrorText = string & Brand.Brand<"revenueflow/ErrorText">

/**
 * The one place failure text becomes stored text: emails and phone numbers a CRM, a model or a guard echoed are
 * masked as in logs; `redactFor` (`redactTextFor` a lead) masks that lead's names too. Idempotent, so text that
 * passed through it once may pass again.
 */
export const errorText = (text: string, redactFor: (text: string) => string = redactText): ErrorText =>
  redactFor(text) as ErrorText

/** The person fields of a lead (its input, or a call's parameters) whose values free text may quote. */
const quotedFields = ["firstName", "lastName", "company"] as const

/** Name keys a CRM writes in JSON it quotes ("firstname": "Ada", "LastName": "Lovelace"); not a bare "name". */
const QUOTED_NAME_PAIR = /("(?:first|last|middle|full)_?name"\s*:\s*")((?:[^"\\]|\\.)*)(")/gi

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")

/** How a value may be written in text: as it is, JSON-escaped, and with every non-ASCII character as \uXXXX. */
const spellings = (value: string): ReadonlyArray<string> => {
  const json = JSON.stringify(value).slice(1, -1)
  const ascii = json.replace(/[^\x20-\x7e]/g, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, "0")}`)
  return [...new Set([value, json, ascii])]
}

/**
 * Free text redacted for one lead: `redactText`, then the lead's own first name, last name and company, taken from
 * `sources` (the lead's input, the call's parameters), masked wherever they appear as whole words, in any case
 * (a CRM's refusal may quote them: `"firstname":"Ada"`), and every JSON `"firstname": "…"` pair a CRM quoted. A
 * company is not masked inside a domain ("***@globex.com" keeps its domain, as everywhere). Values shorter than two
 * characters are left alone: they identify no one and would mask words.
 */
export const redactTextFor = (...sources: ReadonlyArray<unknown>): ((text: string) => string) => {
  const names = new Set<string>()
  const companies = new Set<string>()
  for (const source of sources) {
    if (source === null || typeof source !== "object") continue
    for (const field of quotedFields) {
      const value = (source as Record<string, unknown>)[field]
      if (typeof value !== "string" || value.trim().length < 2) continue
      for (const spelling of spellings(value.trim())) (field === "company" ? companies : names).add(spelling)
    }
  }
  // longest first, so "Ada Lovelace" is masked whole before "Ada"
  const alternatives = (values: ReadonlySet<string>) =>
    [...values]
      .sort((a, b) => b.length - a.length)
      .map(escapeRegExp)
      .join("|")
  const patterns = [
    names.size === 0 ? undefined : new RegExp(`(?<![\\p{L}\\p{N}])(?:${alternatives(names)})(?![\\p{L}\\p{N}])`, "giu"),
    companies.size === 0
      ? undefined
      : new RegExp(`(?<![\\p{L}\\p{N}@])(?:${alternatives(companies)})(?![\\p{L}\\p{N}]|\\.[\\p{L}\\p{N}])`, "giu")
  ].filter((pattern) => pattern !== undefined)
  return (text) =>
    patterns.reduce(
      (masked, pattern) => masked.replace(pattern, MASK),
      redactText(text).replace(QUOTED_NAME_PAIR, (pair, open: string, value: string, close: string) =>
        value.length === 0 ? pair : `${open}${MASK}${close}`
      )
    )
}
