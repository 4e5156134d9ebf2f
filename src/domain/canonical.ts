/** JSON with object keys sorted at every depth and undefined members dropped: equal data, equal text. */
export const canonicalJson = (value: unknown): string => JSON.stringify(sortKeys(value))

const sortKeys = (value: unknown): unknown => {
  if (Array.isArray(value)) return value.map(sortKeys)
  if (value !== null && typeof value === "object") {
    // Dates and other toJSON values serialise as JSON.stringify would, not as "{}" (two dates, two keys).
    const toJSON = (value as { toJSON?: unknown }).toJSON
    if (typeof toJSON === "function") return sortKeys(toJSON.call(value))
    // Null prototype: an own "__proto__" key (JSON.parse makes them) stays a key instead of setting the prototype.
    const out: Record<string, unknown> = Object.create(null)
    for (const key of Object.keys(value).sort()) {
      const member = (value as Record<string, unknown>)[key]
      if (member !== undefined) out[key] = sortKeys(member)
    }
    return out
  }
  return value
}
