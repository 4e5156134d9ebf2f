import { describe, expect, it } from "@effect/vitest"
import { redactTextFor } from "../../src/domain/redact.js"

describe("redactTextFor: a CRM's text with one lead's names masked", () => {
  const lead = { firstName: "José", lastName: "Lovelace", company: "Globex" }

  it("masks the lead's names as whole words in any case, JSON-escaped too, and name pairs a CRM quoted", () => {
    const mask = redactTextFor(lead)
    expect(mask("Contact JOSÉ lovelace exists")).toBe("Contact *** *** exists")
    expect(mask('{"firstname":"Jos\\u00e9","lastname":"Someone Else"}')).toBe('{"firstname":"***","lastname":"***"}')
    expect(mask("Lovelaces and Joséphine are other words")).toBe("Lovelaces and Joséphine are other words")
    expect(mask("company Globex refused")).toBe("company *** refused")
  })

  it("keeps a company inside a domain and email masking as before; short values mask nothing", () => {
    const mask = redactTextFor(lead, { firstName: "A", lastName: 7 })
    expect(mask("jose@globex.com at www.globex.com")).toBe("***@globex.com at www.globex.com")
    expect(mask("a value")).toBe("a value")
    expect(redactTextFor()("call +1 415 555 0100")).toBe("call [phone]")
  })
})
