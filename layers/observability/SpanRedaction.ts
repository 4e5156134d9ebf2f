import type { Attributes, AttributeValue, Link, SpanStatus } from "@opentelemetry/api"
import type { ReadableSpan, SpanExporter, TimedEvent } from "@opentelemetry/sdk-trace-base"
import { MASK, redactTextFor } from "../../src/domain/redact.js"

// The last stop of every span before it leaves the process: whatever made it (our spans, the platform's, a library's,
// Effect's log lines copied in as events, an error's message and stack recorded as the span's status and exception
// event), its text is masked here as the JSON log lines are, and HTTP attributes that carry secrets by nature
// (request and response headers, the query) are kept to the harmless. The exporters run it on the batch, off the
// request: the BatchSpanProcessor calls `export` on its timer, not when a span ends.

/** A URL's password masked ("redis://app:***@cache:6379"), as the Lambda handlers' lines (src/lambda/log.ts). */
const URL_PASSWORD = /(\b[a-z][a-z0-9+.-]*:\/\/[^\s:/@"]*):[^\s@"/]*@/gi

/** Keys of personal fields a CRM or a log annotation writes as JSON text ("company": "Globex"); a bare "name" is not. */
const PII_KEYS =
  "(?:first|last|middle|full|given|family|display|contact)_?name|surname|company(?:_?name)?|(?:mobile_?|home_?|work_?)?phone(?:_?number)?|mobile|fax|street|(?:street|postal|mailing|billing|shipping|home)_?address|city|zip(?:_?code)?|post(?:al)?_?code"

/** `"key": "value"` with a personal key, in JSON as written (a log annotation, a body a CRM quoted). */
const PII_PAIR = new RegExp(`("(?:${PII_KEYS})"\\s*:\\s*")((?:[^"\\\\]|\\\\.)*)(")`, "gi")
/** The same pair inside JSON that was itself quoted as a JSON string (\"company\":\"Globex\"). */
const ESCAPED_PII_PAIR = new RegExp(`(\\\\"(?:${PII_KEYS})\\\\"\\s*:\\s*\\\\")((?:[^"\\\\]|\\\\[^"])*)(\\\\")`, "gi")

/** redactText (emails, phones) and the JSON `"firstname": "…"` pairs: `redactTextFor` with no lead to name. */
const redactGeneric = redactTextFor()

/**
 * Text that may hold what a mask looks for: an "@" (an address, a URL's password), a digit (phones, full-width ones
 * too; "%40") or a quote (JSON pairs). Most attribute values hold none of them and cost this one test.
 */
const MAYBE_PII = /[@\d"\uFF10-\uFF19]/

/** A UUID (a lead's id, most spans' one digit-bearing value): nothing in it to mask. */
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/** Free text as a span may export it: emails, phones, URL passwords and personal JSON fields masked. */
export const maskText = (text: string): string => {
  if (!MAYBE_PII.test(text) || (text.length === 36 && UUID.test(text))) return text
  const masked = redactGeneric(text)
  if (!masked.includes('"') && !masked.includes("://")) return masked
  const pair = (whole: string, open: string, value: string, close: string) =>
    value.length === 0 ? whole : `${open}${MASK}${close}`
  return masked.replace(URL_PASSWORD, "$1:***@").replace(PII_PAIR, pair).replace(ESCAPED_PII_PAIR, pair)
}

/** Headers whose values are kept on a span: what helps to read a trace and never names a secret or a person. */
export const harmlessHeaders: ReadonlySet<string> = new Set([
  "accept",
  "accept-encoding",
  "content-encoding",
  "content-length",
  "content-type",
  "user-agent"
])

const HEADER_ATTRIBUTE = /^http\.(?:request|response)\.header\.(.*)$/

/** Attributes that hold a whole URL (its query may carry a key or an address): kept without query and fragment. */
const urlKeys: ReadonlySet<string> = new Set(["url.full", "url.original", "http.url", "http.target"])

/** Attributes that hold a URL or a path, masked segment by segment (an address's local part may hold a "/"). */
const pathKeys: ReadonlySet<string> = new Set([...urlKeys, "url.path", "http.route"])

/** Attributes that are a URL's query alone: dropped. */
const queryKeys: ReadonlySet<string> = new Set(["url.query"])

const withoutQuery = (url: string): string => {
  const end = url.search(/[?#]/)
  return end < 0 ? url : url.slice(0, end)
}

/** A URL or path with each segment masked: "/leads/***@acme.com", not "***@acme.com". */
const maskPath = (path: string): string => (MAYBE_PII.test(path) ? path.split("/").map(maskText).join("/") : path)

/** An attribute's value, masked; the same value when nothing in it changed. */
const maskValue = (value: AttributeValue): AttributeValue => {
  if (typeof value === "string") return maskText(value)
  if (!Array.isArray(value)) return value
  let changed = false
  const out = value.map((item: unknown) => {
    if (typeof item !== "string") return item
    const masked = maskText(item)
    if (masked !== item) changed = true
    return masked
  })
  return changed ? (out as AttributeValue) : value
}

/**
 * Attributes as a span may export them: a header only when it is harmless, a URL without its query, no query
 * attribute, every string masked. The same object when nothing changed (most spans: no copy).
 */
export const maskAttributes = (attributes: Attributes): Attributes => {
  let out: Attributes | undefined
  for (const key in attributes) {
    const value = attributes[key]
    let next: AttributeValue | undefined = value
    const header = key.startsWith("http.re") ? HEADER_ATTRIBUTE.exec(key) : null
    if (header !== null) {
      if (!harmlessHeaders.has((header[1] as string).toLowerCase())) next = undefined
      else if (value !== undefined) next = maskValue(value)
    } else if (queryKeys.has(key)) next = undefined
    else if (value !== undefined) {
      next =
        pathKeys.has(key) && typeof value === "string"
          ? maskPath(urlKeys.has(key) ? withoutQuery(value) : value)
          : maskValue(value)
    }
    if (next === value && out === undefined) continue
    if (out === undefined) {
      // copy what came before this key, unchanged
      out = {}
      for (const before in attributes) {
        if (before === key) break
        out[before] = attributes[before]
      }
    }
    if (next !== undefined) out[key] = next
  }
  return out ?? attributes
}

const maskEvents = (events: ReadonlyArray<TimedEvent>): Array<TimedEvent> | undefined => {
  let out: Array<TimedEvent> | undefined
  for (let i = 0; i < events.length; i++) {
    const event = events[i] as TimedEvent
    const name = maskText(event.name)
    const attributes = event.attributes === undefined ? undefined : maskAttributes(event.attributes)
    if (name === event.name && attributes === event.attributes) {
      if (out !== undefined) out.push(event)
      continue
    }
    out ??= events.slice(0, i)
    out.push({ ...event, name, ...(attributes === undefined ? {} : { attributes }) })
  }
  return out
}

const maskLinks = (links: ReadonlyArray<Link>): Array<Link> | undefined => {
  let out: Array<Link> | undefined
  for (let i = 0; i < links.length; i++) {
    const link = links[i] as Link
    const attributes = link.attributes === undefined ? undefined : maskAttributes(link.attributes)
    if (attributes === link.attributes) {
      if (out !== undefined) out.push(link)
      continue
    }
    out ??= links.slice(0, i)
    out.push({ ...link, ...(attributes === undefined ? {} : { attributes }) })
  }
  return out
}

/**
 * `span` as it may leave the process: name, status message, attributes, events (log lines, exceptions) and link
 * attributes masked. The span itself when nothing changed; else a copy (the ended span is never modified).
 */
export const redactSpan = (span: ReadableSpan): ReadableSpan => {
  const name = maskText(span.name)
  const message = span.status.message
  const masked = message === undefined ? undefined : maskText(message)
  const status: SpanStatus = masked === message ? span.status : { ...span.status, message: masked as string }
  const attributes = maskAttributes(span.attributes)
  const events = maskEvents(span.events)
  const links = maskLinks(span.links)
  if (
    name === span.name &&
    status === span.status &&
    attributes === span.attributes &&
    events === undefined &&
    links === undefined
  ) {
    return span
  }
  return {
    name,
    kind: span.kind,
    spanContext: () => span.spanContext(),
    ...(span.parentSpanContext === undefined ? {} : { parentSpanContext: span.parentSpanContext }),
    startTime: span.startTime,
    endTime: span.endTime,
    status,
    attributes,
    links: links ?? span.links,
    events: events ?? span.events,
    duration: span.duration,
    ended: span.ended,
    resource: span.resource,
    instrumentationScope: span.instrumentationScope,
    droppedAttributesCount: span.droppedAttributesCount,
    droppedEventsCount: span.droppedEventsCount,
    droppedLinksCount: span.droppedLinksCount
  }
}

/** ExportResultCode.FAILED (@opentelemetry/core), without importing it for one number. */
const FAILED = 1

/** `exporter`, handed every span as `redactSpan` makes it: nothing unmasked is exported, whoever made the span. */
export const redactingExporter = (exporter: SpanExporter): SpanExporter => ({
  export: (spans, resultCallback) => {
    let masked: Array<ReadableSpan>
    try {
      masked = spans.map(redactSpan)
    } catch (error) {
      // never export a batch that could not be masked
      resultCallback({ code: FAILED, error: error instanceof Error ? error : new Error(String(error)) })
      return
    }
    exporter.export(masked, resultCallback)
  },
  shutdown: () => exporter.shutdown(),
  forceFlush: () => exporter.forceFlush?.() ?? Promise.resolve()
})
