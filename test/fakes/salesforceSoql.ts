/*
 * Just enough SOQL for the fake Salesforce: SELECT f1, f2 FROM Type [WHERE f = 'lit' | f LIKE 'pat' [OR ...]]
 * [ORDER BY ...] [LIMIT n]. String literals are read by the documented rules, so a query that the sanitiser escaped
 * wrongly (or not at all) is refused (400 MALFORMED_QUERY) or matches the wrong rows here, as it would there.
 */

type Row = Record<string, unknown> & { Id: string }

/** What Salesforce answers 400 MALFORMED_QUERY for. */
export class MalformedQuery extends Error {}

const simpleEscapes: Record<string, string> = {
  n: "\n",
  r: "\r",
  t: "\t",
  b: "\b",
  f: "\f",
  "'": "'",
  '"': '"',
  "\\": "\\"
}
const regExpEscaped = (c: string) => c.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")

/**
 * Reads a quoted string's body by Salesforce's "Quoted String Escape Sequences" table, in one pass: \n \r \t \b \f
 * (either case), \' \" \\, \uXXXX, and \% \_ in a LIKE pattern only; any other backslash is an error there, so it
 * throws here. A LIKE pattern reads as a regular expression (% and _ wildcards unless escaped), anything else as
 * the value.
 */
const readLiteral = (raw: string, like: boolean): string => {
  let out = ""
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i] as string
    if (c !== "\\") {
      out += like ? (c === "%" ? ".*" : c === "_" ? "." : regExpEscaped(c)) : c
      continue
    }
    const next = raw[++i] ?? ""
    const simple = "NRTBF".includes(next) ? simpleEscapes[next.toLowerCase()] : simpleEscapes[next]
    let char: string
    if (simple !== undefined) char = simple
    else if (next === "u" && /^[0-9a-fA-F]{4}$/.test(raw.slice(i + 1, i + 5))) {
      char = String.fromCharCode(Number.parseInt(raw.slice(i + 1, i + 5), 16))
      i += 4
    } else if (like && (next === "%" || next === "_")) char = next
    else throw new MalformedQuery(`invalid escape sequence \\${next}${like ? "" : " (\\% and \\_ only in LIKE)"}`)
    out += like ? regExpEscaped(char) : char
  }
  return out
}

const LITERAL = String.raw`'((?:[^'\\]|\\.)*)'`
const CONDITION = new RegExp(String.raw`^\s*(\w+)\s+(=|LIKE)\s+${LITERAL}\s*`, "i")

/** Runs the query against the fake's records; throws on anything it does not understand. */
export const runSoql = (query: string, records: Record<string, Array<Row>>) => {
  const head = /^\s*SELECT\s+([\w\s,]+?)\s+FROM\s+(\w+)\s*/i.exec(query)
  if (!head) throw new MalformedQuery(`unsupported SOQL: ${query}`)
  const fields = (head[1] as string).split(",").map((f) => f.trim())
  const type = head[2] as string
  let rest = query.slice(head[0].length)
  const conditions: Array<(row: Row) => boolean> = []
  if (/^WHERE\s/i.test(rest)) {
    rest = rest.replace(/^WHERE\s+/i, "")
    for (;;) {
      const m = CONDITION.exec(rest)
      if (!m) throw new MalformedQuery(`unsupported SOQL condition: ${rest}`)
      const [, field = "", op = "", raw = ""] = m
      if (op.toUpperCase() === "LIKE") {
        const pattern = new RegExp(`^${readLiteral(raw, true)}$`, "is")
        conditions.push((row) => pattern.test(String(row[field] ?? "")))
      } else {
        const value = readLiteral(raw, false).toLowerCase()
        conditions.push((row) => String(row[field] ?? "").toLowerCase() === value)
      }
      rest = rest.slice(m[0].length)
      if (!/^OR\s/i.test(rest)) break
      rest = rest.replace(/^OR\s+/i, "")
    }
  }
  rest = rest.replace(/^ORDER BY\s+\w+(\s+(ASC|DESC))?\s*/i, "")
  const limit = /^LIMIT\s+(\d+)\s*$/i.exec(rest)
  if (rest.trim() !== "" && !limit) throw new MalformedQuery(`unsupported SOQL tail: ${rest}`)
  const rows = (records[type] ?? []).filter((row) => conditions.length === 0 || conditions.some((c) => c(row)))
  const picked = rows.slice(0, limit ? Number(limit[1]) : undefined).map((row) => ({
    attributes: { type, url: `/services/data/v62.0/sobjects/${type}/${row.Id}` },
    ...Object.fromEntries(fields.map((f) => [f, row[f] ?? null]))
  }))
  return { totalSize: picked.length, done: true, records: picked }
}
