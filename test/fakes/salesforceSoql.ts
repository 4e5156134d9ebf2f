/*
 * Just enough SOQL for the fake Salesforce: SELECT f1, f2 FROM Type [WHERE f = 'lit' | f LIKE 'pat' [OR ...]]
 * [ORDER BY ...] [LIMIT n]. String literals are unescaped by the documented rules, so a query that the
 * sanitiser escaped wrongly (or not at all) fails to parse or matches the wrong rows here, as it would there.
 */

type Row = Record<string, unknown> & { Id: string }

const unescape = (literal: string): string =>
  literal.replace(/\\(u[0-9a-fA-F]{4}|.)/g, (_, c: string) =>
    c.startsWith("u") && c.length === 5
      ? String.fromCharCode(Number.parseInt(c.slice(1), 16))
      : (({ n: "\n", r: "\r", t: "\t", b: "\b", f: "\f", "'": "'", '"': '"' } as Record<string, string>)[c] ?? `\\${c}`)
  )

// LIKE: % and _ are wildcards unless escaped; after unescape, "\%" and "\_" remain as literal markers.
const likeToRegExp = (pattern: string): RegExp => {
  let source = ""
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i] as string
    if (c === "\\" && (pattern[i + 1] === "%" || pattern[i + 1] === "_" || pattern[i + 1] === "\\")) {
      source += (pattern[++i] as string).replace(/[\\]/, "\\\\")
      continue
    }
    source += c === "%" ? ".*" : c === "_" ? "." : c.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")
  }
  return new RegExp(`^${source}$`, "i")
}

const LITERAL = String.raw`'((?:[^'\\]|\\.)*)'`
const CONDITION = new RegExp(String.raw`^\s*(\w+)\s+(=|LIKE)\s+${LITERAL}\s*`, "i")

/** Runs the query against the fake's records; throws on anything it does not understand. */
export const runSoql = (query: string, records: Record<string, Array<Row>>) => {
  const head = /^\s*SELECT\s+([\w\s,]+?)\s+FROM\s+(\w+)\s*/i.exec(query)
  if (!head) throw new Error(`unsupported SOQL: ${query}`)
  const fields = (head[1] as string).split(",").map((f) => f.trim())
  const type = head[2] as string
  let rest = query.slice(head[0].length)
  const conditions: Array<(row: Row) => boolean> = []
  if (/^WHERE\s/i.test(rest)) {
    rest = rest.replace(/^WHERE\s+/i, "")
    for (;;) {
      const m = CONDITION.exec(rest)
      if (!m) throw new Error(`unsupported SOQL condition: ${rest}`)
      const [, field = "", op = "", raw = ""] = m
      const value = unescape(raw)
      conditions.push(
        op.toUpperCase() === "LIKE"
          ? (row) => likeToRegExp(value).test(String(row[field] ?? ""))
          : (row) => String(row[field] ?? "").toLowerCase() === value.replace(/\\([%_])/g, "$1").toLowerCase()
      )
      rest = rest.slice(m[0].length)
      if (!/^OR\s/i.test(rest)) break
      rest = rest.replace(/^OR\s+/i, "")
    }
  }
  rest = rest.replace(/^ORDER BY\s+\w+(\s+(ASC|DESC))?\s*/i, "")
  const limit = /^LIMIT\s+(\d+)\s*$/i.exec(rest)
  if (rest.trim() !== "" && !limit) throw new Error(`unsupported SOQL tail: ${rest}`)
  const rows = (records[type] ?? []).filter((row) => conditions.length === 0 || conditions.some((c) => c(row)))
  const picked = rows.slice(0, limit ? Number(limit[1]) : undefined).map((row) => ({
    attributes: { type, url: `/services/data/v62.0/sobjects/${type}/${row.Id}` },
    ...Object.fromEntries(fields.map((f) => [f, row[f] ?? null]))
  }))
  return { totalSize: picked.length, done: true, records: picked }
}
