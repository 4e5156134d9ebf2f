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

const COLON = 0x3a

/** Whether the next character after `at` that is not JSON whitespace is a colon: the string before it is a key. */
const colonFollows = (text: string, at: number): boolean => {
  for (let i = at; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) return c === COLON
  }
  return false
}

/** Filled by `scanJsonText`: how many object members the text writes (a duplicate key counts each time). */
export interface JsonTextCounts {
  members: number
}

/**
 * One cheap iterative pass over the raw text (strings and escapes respected): nesting depth against `maxDepth`, and
 * whether any value needs `findUnrepresentable`; with `counts`, the object members the text writes, which
 * `memberCount` of the parsed value matches unless a key was repeated in one object. Runs before JSON.parse so that
 * no recursive walk — ours, Schema's decoding or its error formatting — ever sees a body nested thousands deep; in
 * the usual body it finds nothing to check, so the value walk is skipped.
 */
export const scanJsonText = (text: string, maxDepth: number, counts?: JsonTextCounts): JsonTextScan => {
  let members = 0
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
      if (colonFollows(text, i + 1)) members++
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
  if (counts !== undefined) counts.members = members
  return suspect ? "check-values" : "plain"
}

/** How many members the objects of a parsed value hold, all levels (iterative: no depth overflows the stack). */
export const memberCount = (root: unknown): number => {
  let count = 0
  const stack: Array<unknown> = [root]
  for (let value = stack.pop(); value !== undefined || stack.length > 0; value = stack.pop()) {
    if (typeof value !== "object" || value === null) continue
    if (Array.isArray(value)) {
      for (const item of value) stack.push(item)
      continue
    }
    for (const key in value) {
      if (!Object.hasOwn(value, key)) continue
      count++
      stack.push((value as Record<string, unknown>)[key])
    }
  }
  return count
}

/**
 * The first key written twice in one object of a JSON text (which JSON.parse would resolve silently to the last),
 * with the path of that object ("(root)", "activity"); undefined when there is none. The slow path of a body whose
 * member counts differ: a tokenizer over well-formed JSON (the text has parsed), one set of keys per open object.
 */
export const findDuplicateKey = (text: string): { readonly key: string; readonly path: string } | undefined => {
  // per open object or array: its keys (arrays: undefined), its path, and the key of the member being read
  const open: Array<{ keys: Set<string> | undefined; path: string; key: string | undefined; index: number }> = []
  const pathOf = (frame: (typeof open)[number] | undefined) =>
    frame === undefined
      ? ""
      : frame.keys === undefined
        ? `${frame.path}${frame.path === "" ? "" : "."}${frame.index}`
        : `${frame.path}${frame.path === "" ? "" : "."}${frame.key ?? ""}`
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    const top = open[open.length - 1]
    if (c === QUOTE) {
      const start = i
      for (i++; i < text.length; i++) {
        const s = text.charCodeAt(i)
        if (s === QUOTE) break
        if (s === BACKSLASH) i++
      }
      if (top?.keys !== undefined && colonFollows(text, i + 1)) {
        const key = JSON.parse(text.slice(start, i + 1)) as string
        if (top.keys.has(key)) return { key, path: top.path === "" ? "(root)" : top.path }
        top.keys.add(key)
        top.key = key
      }
    } else if (c === 0x7b || c === 0x5b) {
      open.push({ keys: c === 0x7b ? new Set() : undefined, path: pathOf(top), key: undefined, index: 0 })
    } else if (c === 0x7d || c === 0x5d) {
      open.pop()
    } else if (c === 0x2c && top?.keys === undefined && top !== undefined) {
      top.index++
    }
  }
  return undefined
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
