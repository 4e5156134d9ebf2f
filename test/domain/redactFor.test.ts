import { describe, expect, it } from "@effect/vitest"
import * as FastCheck from "effect/FastCheck"
import { redactPersonalTextFor, redactTextFor, redactWith } from "../../src/domain/redact.js"

describe("redactTextFor: a CRM's text with one lead's names masked", () => {
  const lead = { firstName: "José", lastName: "Lovelace", company: "Globex" }

  it("masks the lead's names as whole words in any case, JSON-escaped too, and name pairs a CRM quoted", () => {
    const mask = redactTextFor(lead)
    expect(mask("Contact JOSÉ lovelace exists")).toBe("Contact *** *** exists")
    expect(mask('{"firstname":"Jos\\u00e9","lastname":"Someone Else"}')).toBe('{"firstname":"***","lastname":"***"}')
    expect(mask("Lovelaces and Joséphine are other words")).toBe("Lovelaces and Joséphine are other words")
    expect(mask("company Globex refused")).toBe("company *** refused")
  })

  it("masks the names as a system without their accents writes them: a username, a URL slug, ASCII-only text", () => {
    const mask = redactTextFor({ firstName: "Zoë", lastName: "Søren-Łukasz", company: "Müller AG" })
    expect(mask("Duplicate contact Zoe Soren-Lukasz (zoe_soren-lukasz)")).toBe("Duplicate contact *** *** (***_***)")
    expect(mask("linkedin.com/in/zoe-soren-lukasz-12345")).toBe("linkedin.com/in/***-***-12345")
    expect(mask("ZOË called, ask for zoe at Muller AG")).toBe("*** called, ask for *** at ***")
    // other words that merely share letters stay
    expect(mask("Zoey and Sorensen")).toBe("Zoey and Sorensen")
  })

  it("keeps a company inside a domain and email masking as before; short values mask nothing", () => {
    const mask = redactTextFor(lead, { firstName: "A", lastName: 7 })
    expect(mask("jose@globex.com at www.globex.com")).toBe("***@globex.com at www.globex.com")
    expect(mask("a value")).toBe("a value")
    expect(redactTextFor()("call +1 415 555 0100")).toBe("call [phone]")
  })
})

describe("redactTextFor: the lead's own email and phone, in every spelling", () => {
  const lead = {
    firstName: "Sean",
    lastName: "O'Neil",
    email: "sean.o'neil@initech.com",
    phone: "+1 415 555 0100",
    company: "Initech"
  }

  it("masks the email percent-encoded, HTML-escaped and JSON-escaped, keeping its domain", () => {
    const mask = redactTextFor(lead)
    expect(mask("email sean.o%27neil%40initech.com&x=1")).toBe("email ***@initech.com&x=1")
    expect(mask("value sean.o&#39;neil@initech.com is taken")).toBe("value ***@initech.com is taken")
    expect(mask("duplicate of SEAN.O'NEIL@INITECH.COM")).toBe("duplicate of ***@initech.com")
  })

  it("masks the names HTML-escaped, percent-encoded and with a typographic apostrophe", () => {
    const mask = redactTextFor(lead)
    expect(mask("LastName O&#39;Neil is invalid")).toBe("LastName *** is invalid")
    expect(mask("q=O%27Neil")).toBe("q=***")
    expect(mask("Dear Sean O\u2019Neil")).toBe("Dear *** ***")
  })

  it("masks the phone by its digits whatever the spelling, and no other number", () => {
    const mask = redactTextFor(lead)
    for (const spelling of [
      "4155550100",
      "14155550100",
      "+14155550100",
      "001 415 555 0100",
      "(415) 555.0100",
      "415/555-0100",
      "415\u2013555\u20130100",
      "415-555-0100 x12",
      "\uff14\uff11\uff15\uff15\uff15\uff15\uff10\uff11\uff10\uff10"
    ]) {
      expect(mask(`call ${spelling} today`)).toBe("call [phone] today")
    }
    expect(mask("Existing ID: 4155550101; created 1732627063123")).toBe(
      "Existing ID: 4155550101; created 1732627063123"
    )
  })

  it("a national number with its trunk prefix is the same phone with its country code", () => {
    const mask = redactTextFor({ phone: "01711234567" })
    expect(mask("+49 171 1234567 / +49 (0)171 1234567 / 491711234567 / 01711234567")).toBe(
      "[phone] / [phone] / [phone] / [phone]"
    )
  })

  it("is idempotent", () => {
    const mask = redactTextFor(lead)
    const once = mask("Sean O'Neil, sean.o'neil@initech.com, 4155550100, Initech")
    expect(mask(once)).toBe(once)
    expect(once).toBe("*** ***, ***@initech.com, [phone], ***")
  })
})

describe("redactPersonalTextFor and redactWith: what an operator reads about a lead", () => {
  const lead = {
    firstName: "Grace",
    lastName: "Hopper",
    email: "grace@globex.com",
    phone: "4155550100",
    company: "Globex"
  }

  it("masks names, email and phone in values and keys at any depth, keeps the company", () => {
    const out = redactWith(
      {
        utmTerm: "Grace Hopper",
        company: "Grace Hopper Consulting",
        evidence: [
          { fieldPath: "email", value: "grace@globex.com" },
          { fieldPath: "phone", value: "4155550100" }
        ],
        reasoning: "Grace (grace@globex.com, 415 555 0100) works at Globex",
        "contact.4155550100": true
      },
      redactPersonalTextFor(lead)
    )
    expect(out).toEqual({
      utmTerm: "*** ***",
      company: "*** *** Consulting",
      evidence: [
        { fieldPath: "email", value: "***@globex.com" },
        { fieldPath: "phone", value: "[phone]" }
      ],
      reasoning: "*** (***@globex.com, [phone]) works at Globex",
      "contact.[phone]": true
    })
  })
})

describe("redactTextFor on ASCII text matches without regular expressions, as the expressions would", () => {
  // a text with any non-ASCII character goes through the expressions; one more, set apart by spaces, changes no
  // match, so the two paths can be held to the same answers on the same words
  const lead = {
    firstName: "Ann",
    lastName: "O'Neil",
    company: "Globex",
    email: "ann.oneil42@globex.com",
    phone: "+1 415 555 0100"
  }
  const tokens = [
    "Ann",
    "ANN",
    "ann",
    "Anna",
    "annual",
    "O'Neil",
    "o'neil",
    "O&#39;Neil",
    "ONeil",
    "Globex",
    "globex.com",
    "Globex.",
    "GLOBEX",
    "ann.oneil42@globex.com",
    "ANN.ONEIL42@GLOBEX.COM",
    "ann.oneil42%40globex.com",
    "x.ann.oneil42@globex.com",
    "ann.oneil42",
    "@",
    ".",
    "-",
    "_",
    "%",
    "+",
    "'",
    "/",
    ":",
    '"',
    " ",
    "  ",
    "1",
    "415 555 0100",
    "4155550100",
    "call",
    "the",
    "pre",
    "@globex",
    "Globex2"
  ]
  const text = FastCheck.array(FastCheck.constantFrom(...tokens), { maxLength: 12 }).map((parts) => parts.join(""))
  it("for the lead's names, company and email, in the words around them", () =>
    FastCheck.assert(
      FastCheck.property(text, (sample) => {
        for (const mask of [redactTextFor(lead), redactPersonalTextFor(lead)]) {
          const forced = mask(`${sample} \u2003 `)
          expect(forced).toBe(`${mask(sample)} \u2003 `)
        }
      }),
      { numRuns: 2000 }
    ))
})
