import type * as Brand from "effect/Brand"
import * as Redacted from "effect/Redacted"

/** What a masked value becomes. */
export const MASK = "***"
/** What a phone number found inside free text becomes. */
export const PHONE_MASK = "[phone]"

const maxDepth = 12

/** Digits as they are typed: ASCII, and the full-width forms (U+FF10-FF19) East Asian keyboards produce. */
const DIGIT = "0-9\\uFF10-\\uFF19"
/** A domain's characters, Unicode included ("müller.de"), or an IP literal ("[10.1.2.3]", "[IPv6:…]"). */
const EMAIL_DOMAIN = /^(?:[\p{L}\p{N}.-]{1,253}|\[[0-9A-Fa-f:.IPv]{2,60}\])$/u

/** "jane@acme.com" -> "***@acme.com": the domain stays (it names the account, not the person). */
export const maskEmail = (email: string): string => {
  const at = email.lastIndexOf("@")
  if (at < 0) return MASK
  const domain = email.slice(at + 1).trim()
  return EMAIL_DOMAIN.test(domain) ? `${MASK}@${domain.toLowerCase()}` : MASK
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
  "displayname",
  "ownername",
  "owner",
  // the same in the languages forms are commonly built in
  "vorname",
  "nachname",
  "prenom",
  "nomdefamille",
  "nombre",
  "apellido",
  "apellidos",
  "nome",
  "cognome",
  "voornaam",
  "achternaam"
])
/** Phone keys that do not say "phone": compared whole ("cell", not "cellColor"; "tel", not "hotel"). */
const phoneKeys = new Set([
  "tel",
  "telno",
  "telnr",
  "telefon",
  "telefono",
  "telefone",
  "telephone",
  "cell",
  "cellular",
  "cellnumber",
  "handy",
  "sms",
  "msisdn",
  "whatsapp",
  "whatsappnumber"
])
const notAddressKeys = new Set(["ipaddress", "remoteaddress", "macaddress", "serveraddress", "localaddress"])

const piiKind = (key: string): PiiKind | undefined => {
  const k = key.toLowerCase().replace(/[^a-z0-9]/g, "")
  if (k.startsWith("email") || k.endsWith("email") || k.endsWith("emails") || k.endsWith("emailaddress")) return "email"
  if (k.includes("phone") || k.includes("mobile") || k.endsWith("fax") || phoneKeys.has(k)) return "other"
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

/**
 * Passwords in URLs: "https://admin:pw@10.1.2.3/crm" -> "https://admin:***@10.1.2.3/crm", "redis://:tok@cache" ->
 * "redis://:***@cache", whatever the host (an IP, a single name, a domain), also with JSON-escaped slashes. A scan,
 * not a regex, so a long text without "://" costs one search.
 */
const SCHEME_SLASHES = /:(?:\\?\/){2}/g
const AUTHORITY_END = new Set(["/", "\\", "?", "#", '"', "'", "<", ">", "`", " ", "\t", "\n", "\r"])
const maskUrlPasswords = (text: string): string => {
  if (!text.includes(":/") && !text.includes(":\\/")) return text
  let out = ""
  let done = 0
  let from = 0
  for (const match of text.matchAll(SCHEME_SLASHES)) {
    const start = match.index + match[0].length
    if (start <= from) continue
    let end = start
    while (end < text.length && !AUTHORITY_END.has(text[end] as string)) end += 1
    from = end
    const authority = text.slice(start, end)
    const at = authority.lastIndexOf("@")
    const colon = authority.indexOf(":")
    if (at < 0 || colon < 0 || colon >= at - 1) continue
    out += `${text.slice(done, start + colon + 1)}${MASK}`
    done = start + at
  }
  return done === 0 ? text : out + text.slice(done)
}

const LABEL = "[\\p{L}\\p{N}](?:[\\p{L}\\p{N}-]{0,61}[\\p{L}\\p{N}])?"
/**
 * "@" (or "%40", percent-encoded in a URL) and a domain: dotted labels, Unicode included, with an alphabetic or
 * punycode TLD ("müller.de", "xn--mller-kva.de"); one label that starts with a letter ("jane@intranet"); an IP
 * literal ("[10.1.2.3]", "[IPv6:::1]") or a bare IPv4 address. Where an address may end.
 */
const AT_DOMAIN = new RegExp(
  `(?:@|%40)((?:${LABEL}\\.)+(?:\\p{L}{2,63}|xn--[a-z0-9-]{1,59})(?![\\p{L}\\p{N}])` +
    `|\\p{L}[\\p{L}\\p{N}-]{0,62}(?![\\p{L}\\p{N}]|[.-][\\p{L}\\p{N}])` +
    `|\\[[0-9A-Fa-f:.IPv]{2,60}\\]|\\d{1,3}(?:\\.\\d{1,3}){3}(?![\\p{N}]|\\.\\p{N}))`,
  "giu"
)
/** A character the schema accepts in a local part: anything but whitespace and @ " < > ( ) [ ] \ , ; : */
const LOCAL_CHAR = /^[^\s@"<>()[\]\\,;:]$/
/** The schema bounds an address to 254 characters; a CRM may echo each as a 6-character \uXXXX escape. */
const MAX_LOCAL = 254 * 6
/** A quoted local part ("john doe"@example.com) as a mask takes it: no quote, colon, comma or brace inside. */
const QUOTED_LOCAL = /^"[^"\\:,{}[\]\n]{1,64}"$/

/**
 * Where the local part before the "@" at `at` starts, not before `floor`. It runs back over every character the
 * lead schema accepts in a local part (non-ASCII, quotes, braces, tildes...), and over the JSON escapes a CRM may
 * write inside it (\uXXXX for non-ASCII, \/), so the whole local part is masked however it was echoed. Text glued
 * to the address with such characters ("to=" in a URL) is masked with it, but not a URL's "scheme://". A quoted
 * local part ("john doe"@x.com) is masked whole.
 */
const localPartStart = (text: string, at: number, floor: number, inPath: boolean): number => {
  if (text[at - 1] === '"') {
    const open = text.lastIndexOf('"', at - 2)
    if (open >= floor && QUOTED_LOCAL.test(text.slice(open, at))) return open
  }
  let start = at
  while (start > floor && at - start < MAX_LOCAL) {
    const before = text[start - 1] as string
    if (before === "/" && (inPath || text.startsWith("://", start - 3))) break
    if (LOCAL_CHAR.test(before)) start -= 1
    else if (before === "\\" && /^(?:u[0-9A-Fa-f]{4}|\/)/.test(text.slice(start, start + 5))) start -= 1
    else break
  }
  return start
}

/** "jürgen.müller@x.de" -> "***@x.de" for every address in `text`; the domain stays (it names the account). */
const maskEmailsInText = (text: string): string => {
  // Most log lines hold no "@": one scan and no allocation for them.
  if (!text.includes("@") && !text.includes("%40")) return text
  let out = ""
  let done = 0
  for (const match of text.matchAll(AT_DOMAIN)) {
    // a one-label host ("jane@intranet") in a path ("/pkg@latest") takes no more than the path's last segment
    const domain = match[1] as string
    const start = localPartStart(text, match.index, done, !/[.[]/.test(domain))
    // "@acme.com" alone is a handle or a mention, not an address.
    if (start === match.index) continue
    out += `${text.slice(done, start)}${MASK}@${domain.toLowerCase()}`
    done = match.index + match[0].length
  }
  return done === 0 ? text : out + text.slice(done)
}

/** What people type between a phone number's digits: spaces (no-break and thin too), . - / ( ) and dashes. */
const PHONE_SEP = " \\u00a0\\u2009\\u202f().\\/\\u2010-\\u2015-"
/** An extension after a number: "x123", " ext. 123", "#123". */
const EXTENSION = `(?:[ \\u00a0]?(?:[xX]|[eE][xX][tT]\\.?|#)[ \\u00a0]?[${DIGIT}]{1,6})?`

/**
 * Phone candidates: an optional +, digits (full-width too) and the separators people type, an optional extension,
 * bounded by anything that is not part of a larger token (ids, decimals, times, prices, IPs, paths).
 * `looksLikePhone` then rejects the lookalikes.
 */
const PHONE_CANDIDATE = new RegExp(
  `(?<![\\w.,/@$€£#=+\\-${DIGIT}])(?<![${DIGIT}]:)([+＋]?\\(?[${DIGIT}][${DIGIT}${PHONE_SEP}]{4,22}[${DIGIT}]\\)?)(${EXTENSION})` +
    `(?![\\w%@/${DIGIT}]|[.,:\\-][${DIGIT}])`,
  "g"
)
/**
 * A number right after a word that says it is one ("tel:", "phone=", "mobile ", "wa.me/", "WhatsApp #"): masked
 * even as a bare digit run, which is never masked without such a word (ids, counts and timestamps look the same).
 */
const PHONE_IN_CONTEXT = new RegExp(
  `((?:^|[^\\p{L}\\p{N}])(?:tel|tél|phone|telephone|telefon|telefono|mobile|mobil|cell|fax|whatsapp|wa\\.me|sms|handy|call)` +
    `[^\\p{L}\\p{N}\\n(+＋]{0,3}(?:(?:number|num|no|nr)\\.?[^\\p{L}\\p{N}\\n(+＋]{0,3})?)` +
    `([+＋]?\\(?[${DIGIT}][${DIGIT}${PHONE_SEP}]{5,22}[${DIGIT}])(${EXTENSION})(?![\\p{L}\\p{N}]|[.,:\\-][${DIGIT}])`,
  "giu"
)
/** An international number glued to a URL, a query or an identifier: "=+1415…", "#+1…", "/+49…", "_+33…", ".+1…". */
const PLUS_AFTER_GLUE = new RegExp(
  `(?<=[=#$/_.])([+＋][${DIGIT}][${DIGIT}${PHONE_SEP}]{5,20}[${DIGIT}])(${EXTENSION})(?![\\w%@/]|[.,:\\-][${DIGIT}])`,
  "g"
)

const NOT_DIGIT = new RegExp(`[^${DIGIT}]`, "g")
const GROUP_SPLIT = new RegExp(`[${PHONE_SEP}]+`)
const phoneDigits = (text: string) => text.replace(NOT_DIGIT, "")

const DATE_YMD = /^(\d{4})[-./ ](\d{1,2})[-./ ](\d{1,2})$/
const DATE_DMY = /^(\d{1,2})[-./ ](\d{1,2})[-./ ](\d{2}|\d{4})$/
const IPV4_SHAPE = /^\d{1,3}(?:\.\d{1,3}){3}$/
const THOUSANDS_SHAPE = /^\d{1,3}(?:[ .]\d{3})+$/
/** Three groups of three digits starting 6-9 (Spanish, and other 9-digit plans): a phone, not a thousands figure. */
const NINE_DIGIT_PLAN = /^[6-9]\d{2} \d{3} \d{3}$/
/** A national number with its trunk prefix, written without separators ("01711234567"); ids never start with one 0. */
const TRUNK_RUN = /^0[1-9]\d{8,10}$/

/** A date, by its values too: "12 34 5678" has no month 34, so it is no date. */
const isDate = (text: string): boolean => {
  const ymd = DATE_YMD.exec(text)
  if (ymd) return Number(ymd[2]) >= 1 && Number(ymd[2]) <= 12 && Number(ymd[3]) >= 1 && Number(ymd[3]) <= 31
  const dmy = DATE_DMY.exec(text)
  if (!dmy) return false
  const [a, b] = [Number(dmy[1]), Number(dmy[2])]
  return a >= 1 && b >= 1 && a <= 31 && b <= 31 && (a <= 12 || b <= 12)
}

const looksLikePhone = (candidate: string, before: string): boolean => {
  const digits = phoneDigits(candidate)
  if (digits.length < 7 || digits.length > 15) return false
  const opens = candidate.split("(").length - 1
  const closes = candidate.split(")").length - 1
  if (opens !== closes || opens > 1) return false
  if (candidate.startsWith("+") || candidate.startsWith("＋")) return true
  const trimmed = candidate.trim().replace(/[\uFF10-\uFF19]/g, (d) => String.fromCharCode(d.charCodeAt(0) - 0xfee0))
  const groups = trimmed.split(GROUP_SPLIT).filter((group) => group.length > 0)
  // A bare digit run is an id, a count or epoch millis, never a phone unless it starts with "+" or one trunk "0".
  if (groups.length < 2) return TRUNK_RUN.test(trimmed)
  if (isDate(trimmed) || IPV4_SHAPE.test(trimmed)) return false
  if (THOUSANDS_SHAPE.test(trimmed) && !(NINE_DIGIT_PLAN.test(trimmed) && !/[$€£¥]\s?$/.test(before))) return false
  // One slash, after the area code ("030/12345678", "415/555-0100"); more are a path or a date.
  const slashes = trimmed.split("/").length - 1
  if (slashes > 1 || (slashes === 1 && !trimmed.startsWith(`${groups[0]}/`))) return false
  // Dots mixed with other separators are a list of decimals ("12.50 34.75"), not one dotted number, unless an area
  // code in parentheses says it is one ("(415) 555.0100").
  if (trimmed.includes(".") && /[ ()\-\u00a0]/.test(trimmed) && !opens) return false
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

/** Text without a digit or an "@" holds no address, phone number or URL password: returned as it is, at once. */
const MAY_HOLD_PII = /[0-9\uFF10-\uFF19@]/

/**
 * Masks emails (domain kept), passwords in URLs and phone numbers inside free text; ids, timestamps, IPs, versions and
 * prices stay.
 *
 * The phone rule, balanced against CRM ids (HubSpot: all digits, up to ~12; Salesforce: 15/18 alphanumerics), epoch
 * millis, dates, amounts, scores, UUIDs and counts: a number is masked when it has a "+" (or full-width "＋"), or
 * follows a word that says it is a phone ("tel:", "phone=", "mobile", "WhatsApp", "wa.me/"), or is a run of digits
 * in groups shaped like a phone (7-15 digits; separators space, no-break space, . - / ( ) and dashes; an extension
 * "x123" masked with it); a bare run of digits only when it starts with one trunk "0" (10-12 digits). Dates,
 * IPv4 addresses, thousands ("1 234 567"), ranges, versions and decimal lists are left alone. A lead's own number is
 * masked in any spelling, bare runs included, by `redactTextFor`.
 */
export const redactText = (text: string): string => {
  if (!MAY_HOLD_PII.test(text)) return text
  const masked = maskEmailsInText(maskUrlPasswords(text))
    .replace(PHONE_IN_CONTEXT, (match, lead: string, number: string) =>
      phoneDigits(number).length >= 7 && phoneDigits(number).length <= 15 && !isDate(number.trim())
        ? `${lead}${PHONE_MASK}`
        : match
    )
    .replace(PLUS_AFTER_GLUE, (match, number: string) => {
      const count = phoneDigits(number).length
      return count >= 8 && count <= 15 ? PHONE_MASK : match
    })
  return masked.replace(PHONE_CANDIDATE, (match, number: string, _ext: string, offset: number, whole: string) => {
    // An unpaired edge parenthesis belongs to the sentence ("(call 415-555-0100)"), not to the number.
    let core = number
    let kept = ""
    if (core.endsWith(")") && !core.includes("(")) {
      core = core.slice(0, -1)
      kept = ")"
    }
    let lead = ""
    if (core.startsWith("(") && !core.includes(")")) {
      core = core.slice(1)
      lead = "("
    }
    const before = whole.slice(Math.max(0, offset - 2), offset)
    if (!looksLikePhone(core, before)) return match
    // an extension after a closing parenthesis of the sentence is not the number's
    return kept === "" ? `${lead}${PHONE_MASK}` : `${lead}${PHONE_MASK}${kept}${_ext}`
  })
}

const redactDeep = (value: unknown, seen: WeakSet<object>, depth: number, text: (text: string) => string): unknown => {
  if (typeof value === "string") return text(value)
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
    const recurse = (member: unknown) => redactDeep(member, seen, depth + 1, text)
    if (Array.isArray(value)) return value.map(recurse)
    if (value instanceof Map) return recurse(Object.fromEntries(value))
    if (value instanceof Set) return recurse([...value])
    const isError = value instanceof Error
    const source = isError ? { ...value, name: value.name, message: value.message } : value
    const out: Record<string, unknown> = Object.create(null)
    for (const [key, member] of Object.entries(source)) {
      // An error's name is its class ("GuardBlocked"), not a person.
      const kind = isError && key === "name" ? undefined : piiKind(key)
      // a key is data too ("contact.4155550100": true): masked as text, classified as it was written
      out[text(key)] = kind === undefined ? recurse(member) : maskValue(kind, member, recurse)
    }
    return { ...out }
  } finally {
    seen.delete(value)
  }
}

/**
 * A redacted deep copy for logs and audit rows: PII keys (email*, phone, tel, cell, names, address parts) masked by
 * key, emails, URL passwords and phone numbers masked inside any string and any key. Never mutates its input;
 * cycles and depth are bounded.
 */
export const redact = (value: unknown): unknown => redactDeep(value, new WeakSet(), 0, redactText)

/**
 * `redact`, with every string and key passed through `text` instead of `redactText` (which `text` must include):
 * `redactWith(value, redactPersonalTextFor(lead.input))` also masks that lead's own names, email and phone wherever
 * they appear.
 */
export const redactWith = (value: unknown, text: (text: string) => string): unknown =>
  redactDeep(value, new WeakSet(), 0, text)

/** Error text as the stores keep it (leads.error, crm_actions.error); `errorText` is the only way to make one. */
export type ErrorText = string & Brand.Brand<"revenueflow/ErrorText">

/**
 * The one place failure text becomes stored text: emails and phone numbers a CRM, a model or a guard echoed are
 * masked as in logs; `redactFor` (`redactTextFor` a lead) masks that lead's names, email and phone too. Idempotent,
 * so text that passed through it once may pass again.
 */
export const errorText = (text: string, redactFor: (text: string) => string = redactText): ErrorText =>
  redactFor(text) as ErrorText

/** Name keys a CRM writes in JSON it quotes ("firstname": "Ada", "LastName": "Lovelace"); not a bare "name". */
const QUOTED_NAME_PAIR = /("(?:first|last|middle|full)_?name"\s*:\s*")((?:[^"\\]|\\.)*)(")/gi

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")

const HTML_ESCAPES: ReadonlyArray<readonly [RegExp, ReadonlyArray<string>]> = [
  [/&/g, ["&amp;"]],
  [/'/g, ["&#39;", "&#x27;", "&apos;", "&#039;"]],
  [/"/g, ["&quot;", "&#34;"]],
  [/</g, ["&lt;"]],
  [/>/g, ["&gt;"]]
]

/** Letters that decomposition leaves whole, as systems without them write them ("Søren" -> "Soren"). */
const UNDECOMPOSED: Readonly<Record<string, string>> = {
  ø: "o",
  Ø: "O",
  æ: "ae",
  Æ: "AE",
  œ: "oe",
  Œ: "OE",
  ß: "ss",
  ł: "l",
  Ł: "L",
  đ: "d",
  Đ: "D",
  ð: "d",
  Ð: "D",
  þ: "th",
  Þ: "Th",
  ı: "i"
}

/** `value` as a system without its accents writes it (a CRM's username, a URL slug, an ASCII-only form): "Zoë" -> "Zoe". */
const withoutAccents = (value: string): string =>
  value
    .normalize("NFD")
    .replace(/\p{M}+/gu, "")
    .replace(/[øØæÆœŒßłŁđĐðÐþÞı]/g, (char) => UNDECOMPOSED[char] ?? char)

/**
 * How a value may be written in text: as it is, without its accents, with a typographic apostrophe, JSON-escaped,
 * with every non-ASCII character as \uXXXX, percent-encoded (as a URL or a form writes it: "o%27neil%40x.com",
 * "Mary+Ann") and with HTML entities ("O&#39;Neil").
 */
const spellings = (value: string): ReadonlyArray<string> => {
  const out = new Set<string>()
  const plain = withoutAccents(value)
  const forms = plain === value ? [value] : [value, plain]
  const bases = forms.flatMap((form) => (form.includes("'") ? [form, form.replaceAll("'", "\u2019")] : [form]))
  for (const base of bases) {
    const json = JSON.stringify(base).slice(1, -1)
    out.add(base).add(json)
    out.add(json.replace(/[^\x20-\x7e]/g, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, "0")}`))
    const percent = encodeURIComponent(base).replace(
      /[!'()*]/g,
      (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`
    )
    out.add(percent).add(percent.replaceAll("%20", "+")).add(encodeURIComponent(base))
    if (/[&'"<>]/.test(base)) {
      for (const [char, entities] of HTML_ESCAPES) {
        if (!char.test(base)) continue
        for (const entity of entities) for (const spelled of [...out]) out.add(spelled.replace(char, entity))
      }
    }
  }
  return [...out]
}

// longest first, so "Ada Lovelace" is masked whole before "Ada"
const alternatives = (values: Iterable<string>) =>
  [...new Set(values)]
    .sort((a, b) => b.length - a.length)
    .map(escapeRegExp)
    .join("|")

const DIGITS_ONLY = new RegExp(`[^${DIGIT}]`, "g")
const PHONE_GAP = `[${PHONE_SEP}\\s]{0,3}`
const digitClass = (digit: string) => `[${digit}\\u{${(0xff10 + Number(digit)).toString(16)}}]`

/**
 * A pattern for one phone number in any spelling: digits compared whatever separates them (up to three of space,
 * . - / ( ) or dashes between two digits, full-width digits too), with or without its country code ("+1", "001",
 * "49" glued to a number stored without it),
 * a trunk "0" ("0171 1234567" for "+49 171 1234567", and the other way round, "+49 (0)171…"), and an extension;
 * at least its last seven digits (a 7-digit id equal to them would be masked too: a chance of about one in ten
 * million, taken so that a local "555-0100" is masked). Undefined
 * for a value with fewer than seven digits.
 */
/** A phone number's digits (ASCII; no extension, no leading zeros), undefined when it is no phone number. */
const leadPhoneDigits = (phone: string): string | undefined => {
  const number = phone.split(/\s*(?:x|ext\.?|extension|#)\s*[0-9]+\s*$/i)[0] ?? phone
  const digits = number
    .replace(/[\uFF10-\uFF19]/g, (d) => String.fromCharCode(d.charCodeAt(0) - 0xfee0))
    .replace(DIGITS_ONLY, "")
    .replace(/^0+/, "")
  return digits.length < 7 || digits.length > 15 ? undefined : digits
}

const phonePattern = (phone: string): string | undefined => {
  const digits = leadPhoneDigits(phone)
  if (digits === undefined) return undefined
  const tail = digits.length - 7
  let optional = ""
  for (let i = 0; i < tail; i++) optional = `(?:${optional}${digitClass(digits[i] as string)}${PHONE_GAP})?`
  const rest = [...digits.slice(tail)].map(digitClass).join(PHONE_GAP)
  return `(?<![\\p{N}])(?:(?:[+＋]|00)${PHONE_GAP}(?:[${DIGIT}]{1,3}${PHONE_GAP})?|[${DIGIT}]{1,3})?(?:0${PHONE_GAP})?\\(?${optional}${rest}${EXTENSION}(?![\\p{N}])`
}

/** The lead fields whose values free text may quote, by key lower-cased without separators. */
const personKeys: Readonly<Record<string, "name" | "company" | "email" | "phone">> = {
  firstname: "name",
  lastname: "name",
  company: "company",
  email: "email",
  phone: "phone",
  mobilephone: "phone",
  mobile: "phone"
}

interface Person {
  readonly names: Set<string>
  readonly companies: Set<string>
  readonly emails: Map<string, string>
  readonly phones: Set<string>
  /** The last seven digits of each phone: whatever spells a phone holds them in a row among its digits. */
  readonly phoneTails: Set<string>
}

/** The person fields of `sources` as [kind, value] pairs: what a masker is built from (and cached by). */
const personFields = (sources: ReadonlyArray<unknown>): Array<readonly [string, string]> => {
  const fields: Array<readonly [string, string]> = []
  for (const source of sources) {
    if (source === null || typeof source !== "object") continue
    for (const [key, raw] of Object.entries(source)) {
      const kind = personKeys[key.toLowerCase().replace(/[^a-z]/g, "")]
      if (kind === undefined || typeof raw !== "string") continue
      const value = raw.normalize("NFC").trim()
      if (value.length >= 2) fields.push([kind, value])
    }
  }
  return fields
}

const personOf = (fields: ReadonlyArray<readonly [string, string]>): Person => {
  const person: Person = {
    names: new Set(),
    companies: new Set(),
    emails: new Map(),
    phones: new Set(),
    phoneTails: new Set()
  }
  for (const [kind, value] of fields) {
    if (kind === "phone") {
      const pattern = phonePattern(value)
      const digits = leadPhoneDigits(value)
      if (pattern !== undefined && digits !== undefined) {
        person.phones.add(pattern)
        person.phoneTails.add(digits.slice(-7))
      }
    } else if (kind === "email") {
      const at = value.lastIndexOf("@")
      if (at < 1) continue
      const masked = maskEmail(value)
      for (const spelling of spellings(value)) person.emails.set(spelling, masked)
      // "grace.hopper", "ghopper42": a local part that is no plain word is the person's name in another form
      const local = value.slice(0, at)
      if (local.length >= 5 && /[._'+\d-]/.test(local)) for (const s of spellings(local)) person.names.add(s)
    } else {
      for (const spelling of spellings(value)) (kind === "company" ? person.companies : person.names).add(spelling)
    }
  }
  return person
}

/**
 * Maskers built lately, by the person fields they mask: a lead's actions (and a list page's rows, read again) each
 * ask for the same one, and building it (spellings, regular expressions) costs far more than using it. Bounded (a
 * console page of 500 leads fits twice): the least recently used goes first. Held in this process's memory only, as the leads themselves are.
 */
const maskers = new Map<string, (text: string) => string>()
const MAX_MASKERS = 1024

const cachedMasker = (sources: ReadonlyArray<unknown>, withCompany: boolean): ((text: string) => string) => {
  // the same values from the lead and from a call's parameters are one masker
  const fields = [...new Map(personFields(sources).map((field) => [`${field[0]}\u0000${field[1]}`, field])).entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([, field]) => field)
  const key = `${withCompany}${JSON.stringify(fields)}`
  const cached = maskers.get(key)
  if (cached !== undefined) {
    // the most recently used last: what goes first is what was used longest ago
    maskers.delete(key)
    maskers.set(key, cached)
    return cached
  }
  const made = maskerFor(personOf(fields), withCompany)
  if (maskers.size >= MAX_MASKERS) maskers.delete(maskers.keys().next().value as string)
  maskers.set(key, made)
  return made
}

/** Free text redacted for one person: see `redactTextFor`; `withCompany` masks the company too. */
const maskerFor = (person: Person, withCompany: boolean): ((text: string) => string) => {
  const lowered = new Map([...person.emails].map(([spelling, masked]) => [spelling.toLowerCase(), masked]))
  // Each expression is compiled on its first use, and used only on text that may hold a match: on ASCII text
  // lower-casing is exact, so an expression none of whose spellings the text holds cannot match (a spelling with
  // other characters could occur in ASCII text only by Unicode case folding of ſ or the Kelvin sign, which no one's
  // name holds), and the lead's phone needs its last seven digits in a row among the text's digits (only separators
  // come between them). Most strings of an audit row hold none of the lead's details: they cost a few `includes`,
  // not the compilation of four Unicode expressions per lead (which had cost the consumer ~3 ms of CPU a lead).
  // Other text goes through every expression.
  const emailNeedles = [...lowered.keys()]
  const nameNeedles = [...person.names].map((name) => name.toLowerCase())
  const companyNeedles = withCompany ? [...person.companies].map((name) => name.toLowerCase()) : []
  const phoneTails = [...person.phoneTails]
  const anyIn = (text: string, needles: ReadonlyArray<string>) => needles.some((needle) => text.includes(needle))
  const lazily = (make: () => RegExp | undefined) => {
    let made: RegExp | undefined | null = null
    return () => {
      if (made === null) made = make()
      return made
    }
  }
  const email = lazily(() =>
    person.emails.size === 0
      ? undefined
      : new RegExp(
          `(?<![\\p{L}\\p{N}._%+-])(?:${alternatives(person.emails.keys())})(?![\\p{L}\\p{N}]|\\.[\\p{L}\\p{N}])`,
          "giu"
        )
  )
  const phone = lazily(() => (person.phones.size === 0 ? undefined : new RegExp([...person.phones].join("|"), "gu")))
  const names = lazily(() =>
    person.names.size === 0
      ? undefined
      : new RegExp(`(?<![\\p{L}\\p{N}])(?:${alternatives(person.names)})(?![\\p{L}\\p{N}])`, "giu")
  )
  const companies = lazily(() =>
    !withCompany || person.companies.size === 0
      ? undefined
      : new RegExp(
          `(?<![\\p{L}\\p{N}@])(?:${alternatives(person.companies)})(?![\\p{L}\\p{N}]|\\.[\\p{L}\\p{N}])`,
          "giu"
        )
  )
  const apply = (text: string, pattern: RegExp | undefined, by: string | ((found: string) => string)) =>
    pattern === undefined ? text : text.replace(pattern, by as string)
  // on ASCII text the same matches without a regular expression: each spelling, longest first, where it stands as
  // the expression would have it (`wordAt`); spellings with other characters cannot occur there
  const asciiEmails = longestFirst(emailNeedles)
  const asciiNames = longestFirst(nameNeedles)
  const asciiCompanies = longestFirst(companyNeedles)
  const emailMask = (needle: string) => lowered.get(needle) ?? MASK
  const mask = () => MASK
  const holdsPhone = (text: string) => phoneTails.length > 0 && anyIn(text.replace(NOT_ASCII_DIGIT, ""), phoneTails)
  return (text) => {
    const ascii = ASCII_ONLY.test(text)
    if (ascii) {
      // the common case (most strings of an audit row, every key): none of the lead's details, no JSON name pair
      const lower = text.toLowerCase()
      if (
        !anyIn(lower, asciiNames) &&
        !anyIn(lower, asciiEmails) &&
        !anyIn(lower, asciiCompanies) &&
        !text.includes('"') &&
        !holdsPhone(text)
      )
        return redactText(text)
    }
    let out = text
    if (emailNeedles.length > 0)
      out = ascii
        ? replaceWords(out, asciiEmails, EMAIL_BEFORE, DOMAIN_AFTER, emailMask)
        : apply(out, email(), (found) => lowered.get(found.toLowerCase()) ?? MASK)
    if (phoneTails.length > 0 && (!ascii || holdsPhone(out))) out = apply(out, phone(), PHONE_MASK)
    out = redactText(out)
    if (out.includes('"'))
      out = out.replace(QUOTED_NAME_PAIR, (pair, open: string, value: string, close: string) =>
        value.length === 0 ? pair : `${open}${MASK}${close}`
      )
    const stillAscii = ascii && ASCII_ONLY.test(out)
    if (nameNeedles.length > 0)
      out = stillAscii ? replaceWords(out, asciiNames, WORD_BEFORE, WORD_AFTER, mask) : apply(out, names(), MASK)
    if (companyNeedles.length > 0)
      out = stillAscii
        ? replaceWords(out, asciiCompanies, COMPANY_BEFORE, DOMAIN_AFTER, mask)
        : apply(out, companies(), MASK)
    return out
  }
}

/** ASCII spellings only, longest first (as `alternatives` orders them). */
const longestFirst = (needles: ReadonlyArray<string>): ReadonlyArray<string> =>
  [...new Set(needles)].filter((needle) => ASCII_ONLY.test(needle)).sort((a, b) => b.length - a.length)

const isAlnum = (code: number) =>
  (code >= 48 && code <= 57) || (code >= 97 && code <= 122) || (code >= 65 && code <= 90)
/** What may not stand before a match (the expressions' lookbehinds, on ASCII text). */
const WORD_BEFORE = (code: number) => isAlnum(code)
const EMAIL_BEFORE = (code: number) =>
  isAlnum(code) || code === 46 || code === 95 || code === 37 || code === 43 || code === 45
const COMPANY_BEFORE = (code: number) => isAlnum(code) || code === 64
/** What may not follow a match (the lookaheads): a letter or digit; for a domain, also "." then one. */
const WORD_AFTER = (text: string, end: number) => end < text.length && isAlnum(text.charCodeAt(end))
const DOMAIN_AFTER = (text: string, end: number) =>
  WORD_AFTER(text, end) || (text.charCodeAt(end) === 46 && WORD_AFTER(text, end + 1))

/**
 * `text` (ASCII) with each place a needle (lower case) stands, case-insensitively, between what `before` and
 * `after` allow replaced by `by(needle)`: at each position the longest needle that stands there wins, as in a
 * regular expression of alternatives ordered longest first.
 */
const replaceWords = (
  text: string,
  needles: ReadonlyArray<string>,
  before: (code: number) => boolean,
  after: (text: string, end: number) => boolean,
  by: (needle: string) => string
): string => {
  if (needles.length === 0) return text
  const lower = text.toLowerCase()
  if (!needles.some((needle) => lower.includes(needle))) return text
  let out = ""
  let copied = 0
  for (let i = 0; i < lower.length; ) {
    let found: string | undefined
    if (i === 0 || !before(lower.charCodeAt(i - 1)))
      found = needles.find((needle) => lower.startsWith(needle, i) && !after(lower, i + needle.length))
    if (found === undefined) {
      i++
      continue
    }
    out += text.slice(copied, i) + by(found)
    i += found.length
    copied = i
  }
  return copied === 0 ? text : out + text.slice(copied)
}

const NOT_ASCII_DIGIT = /[^0-9]/g
// biome-ignore lint/suspicious/noControlCharactersInRegex: the whole ASCII range, control characters included, is meant
const ASCII_ONLY = /^[\x00-\x7f]*$/

/**
 * Free text redacted for one lead: `redactText`, then the lead's own details taken from `sources` (the lead's input,
 * the call's parameters: firstName, lastName, company, email, phone), masked wherever they appear, in any case and in
 * any spelling a CRM, a URL or a web page gives them (JSON-escaped, \uXXXX, percent-encoded, HTML entities, a
 * typographic apostrophe): the names and company as whole words, the email whole (its domain kept), the phone by its
 * digits whatever separates them (see `phonePattern`), and every JSON `"firstname": "…"` pair a CRM quoted. A company
 * is not masked inside a domain ("***@globex.com" keeps its domain, as everywhere). Values shorter than two
 * characters are left alone: they identify no one and would mask words.
 */
export const redactTextFor = (...sources: ReadonlyArray<unknown>): ((text: string) => string) =>
  cachedMasker(sources, true)

/**
 * `redactTextFor` without the company: the lead's names, email and phone. For what an operator reads about the lead
 * (its input, analysis, grounding, audit rows), where the company is the account, not the person.
 */
export const redactPersonalTextFor = (...sources: ReadonlyArray<unknown>): ((text: string) => string) =>
  cachedMasker(sources, false)
