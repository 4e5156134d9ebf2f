/*
 * Just enough SOQL for the fake Salesforce: SELECT f1, f2 FROM Type [WHERE f = 'lit' | f LIKE 'pat' [OR ...]]
 * [ORDER BY f [ASC|DESC]] [LIMIT n]. String literals are read by the documented rules, so a query that the sanitiser
 * escaped wrongly (or not at all) is refused (400 MALFORMED_QUERY) or matches the wrong rows here, as it would there.
 * Given the org's fields, an object or a field it does not have is refused as Salesforce refuses it (400 INVALID_TYPE,
 * INVALID_FIELD "No such column ..."); field names are case-insensitive, and rows carry each field's own name.
 */

type Row = Record<string, unknown> & { Id: string }

/** What Salesforce answers 400 MALFORMED_QUERY for. */
export class MalformedQuery extends Error {}

/** A query naming an object (INVALID_TYPE) or a field (INVALID_FIELD) the org does not have. */
export class InvalidSoql extends Error {
  constructor(
    readonly errorCode: "INVALID_FIELD" | "INVALID_TYPE",
    message: string
  ) {
    super(message)
  }
}

/**
 * Salesforce's message for an unknown name: the query, a caret under the name, its row and column, then the reason,
 * e.g. "No such column 'Webside' on entity 'Account'. If you are attempting to use a custom field, ...".
 */
const pointAt = (query: string, at: number, reason: string) =>
  `\n${query}\n${" ".repeat(Math.max(at, 0))}^\nERROR at Row:1:Column:${at + 1}\n${reason}`
const noSuchColumn = (field: string, type: string) =>
  `No such column '${field}' on entity '${type}'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name. Please reference your WSDL or the describe call for the appropriate names.`
const notSupported = (type: string) =>
  `sObject type '${type}' is not supported. If you are attempting to use a custom object, be sure to append the '__c' after the entity name. Please reference your WSDL or the describe call for the appropriate names.`

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

/**
 * Runs the query against the fake's records; throws on anything it does not understand. With `orgFields` (every field
 * name by sObject), an object or field not among them is refused as Salesforce refuses it.
 */
export const runSoql = (
  query: string,
  records: Record<string, Array<Row>>,
  orgFields?: Readonly<Record<string, ReadonlyArray<string>>>
) => {
  const head = /^\s*SELECT\s+([\w\s,]+?)\s+FROM\s+(\w+)\s*/i.exec(query)
  if (!head) throw new MalformedQuery(`unsupported SOQL: ${query}`)
  const named = head[2] as string
  // object names are case-insensitive too
  const type = Object.keys(orgFields ?? {}).find((t) => t.toLowerCase() === named.toLowerCase()) ?? named
  const known = orgFields?.[type]
  if (orgFields !== undefined && known === undefined) {
    throw new InvalidSoql(
      "INVALID_TYPE",
      pointAt(query, head[0].indexOf(named, head[0].search(/FROM/i)), notSupported(named))
    )
  }
  /** A field's own name, or a refusal pointing at `at` in the query. */
  const column = (field: string, at: number): string => {
    if (known === undefined) return field
    const name = known.find((f) => f.toLowerCase() === field.toLowerCase())
    if (name === undefined) throw new InvalidSoql("INVALID_FIELD", pointAt(query, at, noSuchColumn(field, type)))
    return name
  }
  let from = head[0].search(/\S/) + "SELECT".length
  const fields = (head[1] as string).split(",").map((raw) => {
    const f = raw.trim()
    const at = query.indexOf(f, from)
    from = at + f.length
    return column(f, at)
  })
  let rest = query.slice(head[0].length)
  const offset = () => query.length - rest.length
  const conditions: Array<(row: Row) => boolean> = []
  if (/^WHERE\s/i.test(rest)) {
    rest = rest.replace(/^WHERE\s+/i, "")
    for (;;) {
      const m = CONDITION.exec(rest)
      if (!m) throw new MalformedQuery(`unsupported SOQL condition: ${rest}`)
      const [, name = "", op = "", raw = ""] = m
      const field = column(name, offset() + rest.indexOf(name))
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
  const order = /^ORDER BY\s+(\w+)(\s+(ASC|DESC))?\s*/i.exec(rest)
  let sortBy: { readonly field: string; readonly descending: boolean } | undefined
  if (order) {
    const field = column(order[1] as string, offset() + order[0].indexOf(order[1] as string, "ORDER BY".length))
    sortBy = { field, descending: order[3]?.toUpperCase() === "DESC" }
    rest = rest.slice(order[0].length)
  }
  const limit = /^LIMIT\s+(\d+)\s*$/i.exec(rest)
  if (rest.trim() !== "" && !limit) throw new MalformedQuery(`unsupported SOQL tail: ${rest}`)
  const rows = (records[type] ?? []).filter((row) => conditions.length === 0 || conditions.some((c) => c(row)))
  // sorted before LIMIT cuts, as SOQL does: nulls first ascending, last descending (its defaults)
  if (sortBy !== undefined) {
    const { field, descending } = sortBy
    const rank = (row: Row) => row[field] ?? null
    rows.sort((a, b) => {
      const x = rank(a)
      const y = rank(b)
      if (x === y) return 0
      if (x === null) return descending ? 1 : -1
      if (y === null) return descending ? -1 : 1
      const ascending = typeof x === "number" && typeof y === "number" ? x - y : String(x).localeCompare(String(y))
      return descending ? -ascending : ascending
    })
  }
  const picked = rows.slice(0, limit ? Number(limit[1]) : undefined).map((row) => ({
    attributes: { type, url: `/services/data/v62.0/sobjects/${type}/${row.Id}` },
    ...Object.fromEntries(fields.map((f) => [f, row[f] ?? null]))
  }))
  return { totalSize: picked.length, done: true, records: picked }
}
