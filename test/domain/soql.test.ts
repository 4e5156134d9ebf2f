import { describe, expect, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as FastCheck from "effect/FastCheck"
import {
  escapeSoqlLike,
  escapeSosl,
  escapeSoqlString,
  SoqlField,
  soql,
  soqlLiteral,
  validateFieldName
} from "../../src/domain/soql.js"

/**
 * An independent reader of a SOQL quoted string, written from Salesforce's "Quoted String Escape Sequences" table:
 * returns the value and how many characters the literal used, or throws where Salesforce reports an error.
 */
const readLiteral = (text: string, like = false): { value: string; length: number } => {
  if (text[0] !== "'") throw new Error("literal must start with a quote")
  const simple: Record<string, string> = { n: "\n", r: "\r", t: "\t", b: "\b", f: "\f", '"': '"', "'": "'", "\\": "\\" }
  let value = ""
  for (let i = 1; i < text.length; i++) {
    const char = text[i] as string
    if (char === "'") return { value, length: i + 1 }
    if (char !== "\\") {
      value += char
      continue
    }
    const next = text[++i] ?? ""
    const lower = next.toLowerCase()
    if (lower in simple && "nrtbf".includes(lower)) value += simple[lower]
    else if (next in simple) value += simple[next]
    else if (like && (next === "%" || next === "_")) value += next
    else if (next === "u" && /^[0-9a-fA-F]{4}$/.test(text.slice(i + 1, i + 5))) {
      value += String.fromCharCode(Number.parseInt(text.slice(i + 1, i + 5), 16))
      i += 4
    } else throw new Error(`backslash in another context: \\${next}`)
  }
  throw new Error("unterminated literal")
}

describe("escapeSoqlString / soqlLiteral", () => {
  it.each([
    ["Bob's BBQ", "Bob\\'s BBQ"],
    ['say "hi"', 'say \\"hi\\"'],
    ["back\\slash", "back\\\\slash"],
    ["line\nbreak\r\ttab\bbell\fform", "line\\nbreak\\r\\ttab\\bbell\\fform"],
    ["\\'", "\\\\\\'"],
    ["nul\u0000vt\u000b", "nul\\u0000vt\\u000b"],
    ["plain 100% _under_", "plain 100% _under_"]
  ])("escapes %j", (input, escaped) => {
    expect(escapeSoqlString(input)).toBe(escaped)
    expect(soqlLiteral(input)).toBe(`'${escaped}'`)
  })

  it("keeps an injection attempt inside one literal", () => {
    const attack = "x' OR Name != '' OR Name = '\\"
    const literal = soqlLiteral(attack)
    const read = readLiteral(`${literal} LIMIT 1`)
    expect(read.value).toBe(attack)
    expect(read.length).toBe(literal.length)
  })

  it("round-trips any string through the documented escape rules", () => {
    FastCheck.assert(
      FastCheck.property(FastCheck.string({ unit: "binary", maxLength: 64 }), (value) => {
        const literal = soqlLiteral(value)
        const read = readLiteral(`${literal} AND Id != null`)
        return read.value === value && read.length === literal.length
      }),
      { numRuns: 500, seed: 42 }
    )
  })
})

describe("escapeSoqlLike", () => {
  it("escapes % and _ as well, so the value matches only itself", () => {
    expect(escapeSoqlLike("100%_off's")).toBe("100\\%\\_off\\'s")
    const read = readLiteral(`'${escapeSoqlLike("50%_a\\b")}%'`, true)
    expect(read.value).toBe("50%_a\\b%")
  })

  it("is rejected by the plain (non-LIKE) reader, as Salesforce does outside LIKE", () => {
    expect(() => readLiteral(`'${escapeSoqlLike("%")}'`)).toThrow("backslash in another context")
  })
})

describe("escapeSosl", () => {
  it("escapes every reserved character", () => {
    const reserved = "?&|!{}[]()^~*:\\\"'+-"
    expect(escapeSosl(reserved)).toBe([...reserved].map((char) => `\\${char}`).join(""))
  })

  it("leaves ordinary text alone", () => {
    expect(escapeSosl("Acme Corp 2026 éü")).toBe("Acme Corp 2026 éü")
    expect(escapeSosl("AT&T (US) - {x}")).toBe("AT\\&T \\(US\\) \\- \\{x\\}")
  })
})

describe("validateFieldName", () => {
  it.each([
    "Id",
    "Name",
    "Email",
    "Custom_Field__c",
    "ns__Custom_Field__c",
    "Account.Name",
    "Owner__r.Manager__r.Name",
    "Contact.Account.Owner.Manager.Profile.Name",
    "Location__latitude__s",
    "Setting__mdt"
  ])("accepts %s", (name) => {
    expect(validateFieldName(name)).toEqual(Either.right(name))
  })

  it.each([
    ["", "field name is empty"],
    ["1Name", "is not a field API name"],
    ["_Name", "is not a field API name"],
    ["Name__", "is not a field API name"],
    ["Bad___Field__c", "is not a field API name"],
    ["Name__c__x__y", "is not a field API name"],
    ["Name; DELETE", "is not a field API name"],
    ["Name FROM Lead", "is not a field API name"],
    ["Name)", "is not a field API name"],
    ["Na'me", "is not a field API name"],
    ["Account..Name", "has an empty segment"],
    ["Account.", "has an empty segment"],
    ["A.B.C.D.E.F.G", "more than 5 relationship levels"],
    [`A${"b".repeat(80)}`, "over 80 chars"]
  ])("rejects %j with a reason", (name, reason) => {
    const result = validateFieldName(name)
    expect(Either.isLeft(result)).toBe(true)
    if (Either.isLeft(result)) expect(result.left).toContain(reason)
  })
})

describe("soql builder", () => {
  const field = (name: string) => Either.getOrThrow(SoqlField.make(name))

  it("puts validated fields raw and every value as an escaped literal", () => {
    const email = field("Email")
    const score = field("Lead_Score__c")
    const query = soql`SELECT Id, ${field("Account.Name")} FROM Lead WHERE ${email} = ${"o'neil@acme.com"} AND ${score} >= ${70} AND IsConverted = ${false} AND OwnerId != ${null} AND Status IN ${["Open", "Working"]} AND CreatedDate > ${new Date("2026-11-26T13:17:43.123Z")}`
    expect(query).toBe(
      "SELECT Id, Account.Name FROM Lead WHERE Email = 'o\\'neil@acme.com' AND Lead_Score__c >= 70 AND IsConverted = FALSE AND OwnerId != NULL AND Status IN ('Open', 'Working') AND CreatedDate > 2026-11-26T13:17:43Z"
    )
  })

  it("a value can never become a field: strings are always quoted", () => {
    const query = soql`SELECT Id FROM Lead WHERE Email = ${"x' OR Id != null OR Email = 'y"}`
    const literal = query.slice(query.indexOf("'"))
    expect(readLiteral(literal)).toEqual({ value: "x' OR Id != null OR Email = 'y", length: literal.length })
  })

  it("field names only come through validation", () => {
    expect(Either.isLeft(SoqlField.make("Name FROM User --"))).toBe(true)
  })

  it("refuses values that have no literal", () => {
    expect(() => soql`LIMIT ${Number.NaN}`).toThrow(RangeError)
    expect(() => soql`LIMIT ${Number.POSITIVE_INFINITY}`).toThrow(RangeError)
    expect(() => soql`WHERE Id IN ${[]}`).toThrow(RangeError)
    expect(() => soql`WHERE CreatedDate > ${new Date("nope")}`).toThrow(RangeError)
  })
})
