import * as Either from "effect/Either"

/*
 * Salesforce query safety. Rules from the Salesforce SOQL and SOSL Reference: "Quoted String Escape Sequences"
 * (\n \r \t \b \f \" \' \\ and \uXXXX; \_ and \% only inside LIKE) and "FIND {SearchQuery}" (reserved characters
 * ? & | ! { } [ ] ( ) ^ ~ * : \ " ' + - are escaped with a backslash).
 */

const stringEscapes: Readonly<Record<string, string>> = {
  "\\": "\\\\",
  "'": "\\'",
  '"': '\\"',
  "\n": "\\n",
  "\r": "\\r",
  "\t": "\\t",
  "\b": "\\b",
  "\f": "\\f"
}

// Any other control character has no short escape; \uXXXX is the documented way to write it.
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what this escapes
const NEEDS_ESCAPE = /[\\'"\u0000-\u001f\u007f]/g

const hex4 = (char: string) => `\\u${char.charCodeAt(0).toString(16).padStart(4, "0")}`

/** Escapes a value for use inside a single-quoted SOQL string literal (without the quotes). */
export const escapeSoqlString = (value: string): string =>
  value.replace(NEEDS_ESCAPE, (char) => stringEscapes[char] ?? hex4(char))

/** A complete, quoted SOQL string literal: 'Bob\'s BBQ'. */
export const soqlLiteral = (value: string): string => `'${escapeSoqlString(value)}'`

/** Escapes a value for a LIKE pattern: string escapes plus \% and \_ so the value matches only itself. */
export const escapeSoqlLike = (value: string): string => escapeSoqlString(value).replace(/[%_]/g, (char) => `\\${char}`)

/** Escapes a search term for SOSL FIND {...}: every reserved character gets a backslash. */
export const escapeSosl = (value: string): string => value.replace(/[?&|!{}[\]()^~*:\\"'+-]/g, (char) => `\\${char}`)

const maxSegments = 6 // a field plus at most five parent relationships, the SOQL limit
const maxSegmentLength = 80
/** namespace__ (optional) + name without double or trailing underscores + a Salesforce suffix (optional). */
const SEGMENT =
  /^(?:[A-Za-z](?:_?[A-Za-z0-9]){0,14}__)?[A-Za-z](?:_?[A-Za-z0-9])*(?:__(?:c|r|s|x|e|b|mdt|pc|pr|latitude__s|longitude__s))?$/

/** Checks a field API name or relationship path (Name, Custom_Field__c, Account.Owner.Name); Left is the reason. */
export const validateFieldName = (name: string): Either.Either<string, string> => {
  if (typeof name !== "string" || name.length === 0) return Either.left("field name is empty")
  const segments = name.split(".")
  if (segments.length > maxSegments) {
    return Either.left(`field path "${name.slice(0, 80)}" has more than ${maxSegments - 1} relationship levels`)
  }
  for (const segment of segments) {
    if (segment.length === 0) return Either.left(`field path "${name.slice(0, 80)}" has an empty segment`)
    if (segment.length > maxSegmentLength) return Either.left(`field name segment is over ${maxSegmentLength} chars`)
    if (!SEGMENT.test(segment)) {
      return Either.left(
        `"${segment.slice(0, 80)}" is not a field API name: start with a letter, use letters, digits and single underscores, optional __c/__r suffix`
      )
    }
  }
  return Either.right(name)
}

/** A field name that passed `validateFieldName`; the only way to put an identifier into `soql`. */
export class SoqlField {
  private constructor(readonly name: string) {}
  /** Validates and wraps a field API name. */
  static make(name: string): Either.Either<SoqlField, string> {
    return Either.map(validateFieldName(name), (valid) => new SoqlField(valid))
  }
}

/** Values the builder turns into literals: strings are quoted and escaped, never spliced raw. */
export type SoqlValue = string | number | boolean | null | Date | ReadonlyArray<string | number>

const literal = (value: SoqlValue): string => {
  if (value === null) return "NULL"
  if (typeof value === "string") return soqlLiteral(value)
  if (typeof value === "boolean") return value ? "TRUE" : "FALSE"
  if (typeof value === "number") {
    if (!Number.isFinite(value)) throw new RangeError("SOQL numbers must be finite")
    return String(value)
  }
  if (value instanceof Date) {
    if (Number.isNaN(value.getTime())) throw new RangeError("SOQL dates must be valid")
    return value.toISOString().replace(/\.\d{3}Z$/, "Z")
  }
  if (value.length === 0) throw new RangeError("SOQL IN lists must not be empty")
  return `(${value.map((item) => literal(item)).join(", ")})`
}

/**
 * Tagged template for SOQL: the template text is yours, every `${SoqlField}` is a validated name and every other
 * interpolation becomes an escaped literal. soql`SELECT Id FROM Lead WHERE ${email} = ${value} LIMIT 1`.
 * Throws RangeError on non-finite numbers, invalid dates or empty IN lists (programming errors, not input).
 */
export const soql = (strings: TemplateStringsArray, ...parts: ReadonlyArray<SoqlField | SoqlValue>): string => {
  let out = strings[0] ?? ""
  parts.forEach((part, i) => {
    out += part instanceof SoqlField ? part.name : literal(part)
    out += strings[i + 1] ?? ""
  })
  return out
}
