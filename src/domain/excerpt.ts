/**
 * What a refused call's audit row keeps of its arguments and reason: enough to see what was asked and why it was
 * refused, bounded whatever was sent. A refusal is recorded before anything of the call is trusted, so its size is the
 * caller's choice (an MCP line holds up to 10 MB, an HTTP body 64 KiB): without a bound an agent retrying a malformed
 * call with ever-different text writes megabytes of jsonb per attempt.
 */

/** Characters of one string kept in a refused call's row, and of its reason. */
export const EXCERPT_TEXT_CHARS = 256
export const EXCERPT_REASON_CHARS = 1_000
/** Items of one array, keys of one object and levels of nesting kept. */
export const EXCERPT_ITEMS = 20
export const EXCERPT_DEPTH = 6

/**
 * `text` cut to `max` UTF-16 units and marked with how much was left out; never halving a surrogate pair (jsonb
 * refuses a lone surrogate, so a cut one would lose the whole row).
 */
export const excerptText = (text: string, max: number): string => {
  if (text.length <= max) return text
  const code = text.charCodeAt(max - 1)
  const end = code >= 0xd800 && code <= 0xdbff ? max - 1 : max
  return `${text.slice(0, end)}… (${text.length - end} more characters)`
}

/** `value` (JSON data) with long strings, arrays and objects cut and deep nesting replaced, each cut marked. */
export const excerptValue = (value: unknown, depth = 0): unknown => {
  if (typeof value === "string") return excerptText(value, EXCERPT_TEXT_CHARS)
  if (value === null || typeof value !== "object") return value
  if (depth >= EXCERPT_DEPTH) return "… (nested deeper)"
  if (Array.isArray(value)) {
    const kept = value.slice(0, EXCERPT_ITEMS).map((item) => excerptValue(item, depth + 1))
    return value.length > EXCERPT_ITEMS ? [...kept, `… (${value.length - EXCERPT_ITEMS} more items)`] : kept
  }
  const entries = Object.entries(value)
  const kept: Record<string, unknown> = {}
  for (const [key, item] of entries.slice(0, EXCERPT_ITEMS)) {
    Object.defineProperty(kept, excerptText(key, EXCERPT_TEXT_CHARS), {
      value: excerptValue(item, depth + 1),
      enumerable: true,
      writable: true,
      configurable: true
    })
  }
  if (entries.length > EXCERPT_ITEMS) kept["…"] = `${entries.length - EXCERPT_ITEMS} more keys`
  return kept
}
