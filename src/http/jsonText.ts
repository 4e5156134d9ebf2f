/** How deep objects and arrays may nest in a body; a lead needs 3 levels, a HubSpot contact body about 5. */
export const MAX_JSON_DEPTH = 32

/** What one pass over a JSON text found before it is parsed. */
export type JsonTextScan =
  /** Deeper than the limit: never parsed, never walked. */
  | "too-deep"
  /** An escape jsonb may refuse (\u0000, a surrogate) or a number that may overflow: walk the parsed value. */
  | "check-values"
  | "plain"

const QUOTE = 0x22
const BACKSLASH = 0x5c
const LOWER_U = 0x75

/** `\u` followed by 0000 or a surrogate (D800-DFFF); `at` is the first hex digit. Lower-casing with | 0x20. */
const suspectEscape = (text: string, at: number): boolean => {
  if ((text.charCodeAt(at) | 0x20) === 0x64) {
    const next = text.charCodeAt(at + 1) | 0x20
    return next === 0x38 || next === 0x39 || (next >= 0x61 && next <= 0x66)
  }
  return text.startsWith("0000", at)
}

/**
 * One cheap iterative pass over the raw text (strings and escapes respected): nesting depth against `maxDepth`, and
 * whether any value needs `findUnrepresentable`. Runs before JSON.parse so that no recursive walk — ours, Schema's
 * decoding or its error formatting — ever sees a body nested thousands deep; in the usual body it finds nothing to
 * check, so the value walk is skipped.
 */
export const scanJsonText = (text: string, maxDepth: number): JsonTextScan => {
  let depth = 0
  let digits = 0
  let suspect = false
  const length = text.length
  for (let i = 0; i < length; i++) {
    const c = text.charCodeAt(i)
    if (c === QUOTE) {
      for (i++; i < length; i++) {
        const s = text.charCodeAt(i)
        if (s === QUOTE) break
        if (s === BACKSLASH) {
          i++
          if (text.charCodeAt(i) === LOWER_U && suspectEscape(text, i + 1)) suspect = true
        }
      }
      digits = 0
    } else if (c === 0x7b || c === 0x5b) {
      if (++depth > maxDepth) return "too-deep"
      digits = 0
    } else if (c >= 0x30 && c <= 0x39) {
      // more than 308 digits in a row may exceed Number.MAX_VALUE
      if (++digits > 308) suspect = true
    } else if ((c === 0x65 || c === 0x45) && digits > 0) {
      // an exponent ("1e309"); the e of true / false follows a letter
      suspect = true
    } else {
      if (c === 0x7d || c === 0x5d) depth--
      digits = 0
    }
  }
  return suspect ? "check-values" : "plain"
}

/** A value the store cannot hold as sent, and where it is ("(root)", "activity.note", "tags.2"). */
export interface Unrepresentable {
  readonly path: string
  /** text: a NUL or an unpaired surrogate (jsonb refuses both); number: ±Infinity (JSON has no such number). */
  readonly kind: "text" | "number"
}

// NUL, a high surrogate not followed by a low one, or a low surrogate not preceded by a high one
// biome-ignore lint/suspicious/noControlCharactersInRegex: NUL is exactly what this looks for
const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/

/**
 * The first string (key or value) or number, in document order, that cannot be stored as sent; undefined when there
 * is none. Iterative (an explicit stack), so no input depth can overflow the call stack.
 */
export const findUnrepresentable = (root: unknown): Unrepresentable | undefined => {
  // [value, its path, its key when it is an object member]; children pushed in reverse so they pop in order
  const stack: Array<readonly [unknown, string, string | undefined]> = [[root, "", undefined]]
  for (let entry = stack.pop(); entry !== undefined; entry = stack.pop()) {
    const [value, path, key] = entry
    if (key !== undefined && UNSTORABLE.test(key)) return { path, kind: "text" }
    if (typeof value === "string") {
      if (UNSTORABLE.test(value)) return { path: path || "(root)", kind: "text" }
    } else if (typeof value === "number") {
      if (!Number.isFinite(value)) return { path: path || "(root)", kind: "number" }
    } else if (typeof value === "object" && value !== null) {
      const isArray = Array.isArray(value)
      const entries = Object.entries(value)
      for (let i = entries.length - 1; i >= 0; i--) {
        const [name, child] = entries[i] as [string, unknown]
        stack.push([child, path === "" ? name : `${path}.${name}`, isArray ? undefined : name])
      }
    }
  }
  return undefined
}
