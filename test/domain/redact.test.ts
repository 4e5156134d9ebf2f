import { describe, expect, it } from "@effect/vitest"
import * as Arbitrary from "effect/Arbitrary"
import * as FastCheck from "effect/FastCheck"
import * as Redacted from "effect/Redacted"
import { GuardBlocked } from "../../src/domain/guard.js"
import { Email } from "../../src/domain/lead.js"
import { leadKey } from "../../src/domain/leadKey.js"
import { maskEmail, redact, redactText } from "../../src/domain/redact.js"

const deepFreeze = <T>(value: T): T => {
  if (value !== null && typeof value === "object") {
    for (const member of Object.values(value)) deepFreeze(member)
    Object.freeze(value)
  }
  return value
}

describe("maskEmail", () => {
  it("keeps only the domain", () => {
    expect(maskEmail("jane.doe@acme.com")).toBe("***@acme.com")
    expect(maskEmail("Jane@ACME.com")).toBe("***@acme.com")
    expect(maskEmail("not an email")).toBe("***")
    expect(maskEmail("a@b c")).toBe("***")
  })
})

describe("redact by key", () => {
  it("masks personal fields at any depth and keeps business fields", () => {
    const input = {
      email: "jane@acme.com",
      workEmail: "j.doe@acme.io",
      email_address: "jd@acme.co.uk",
      emails: ["a@x.com", "b@y.org"],
      firstName: "Jane",
      last_name: "Doe",
      name: "Jane Doe",
      fullName: "Jane Q. Doe",
      contactName: "J. Doe",
      phone: "+1 415 555 0100",
      mobilePhone: "4155550100",
      fax: 4155550101,
      address: { street: "1 Main St", city: "Springfield" },
      street: "1 Main St",
      postalCode: "94105",
      zip: "94105",
      company: "Acme",
      title: "VP Sales",
      campaignId: "camp-1",
      nested: { deeper: [{ email: "x@acme.com", lastName: "Roe", industry: "Software" }] }
    }
    expect(redact(input)).toEqual({
      email: "***@acme.com",
      workEmail: "***@acme.io",
      email_address: "***@acme.co.uk",
      emails: ["***@x.com", "***@y.org"],
      firstName: "***",
      last_name: "***",
      name: "***",
      fullName: "***",
      contactName: "***",
      phone: "***",
      mobilePhone: "***",
      fax: "***",
      address: "***",
      street: "***",
      postalCode: "***",
      zip: "***",
      company: "Acme",
      title: "VP Sales",
      campaignId: "camp-1",
      nested: { deeper: [{ email: "***@acme.com", lastName: "***", industry: "Software" }] }
    })
  })

  it("keeps counts, flags, nulls and empty values under personal-looking keys", () => {
    expect(redact({ emailOpens: 3, emailClicks: 0, phoneVerified: true, firstName: null, lastName: "" })).toEqual({
      emailOpens: 3,
      emailClicks: 0,
      phoneVerified: true,
      firstName: null,
      lastName: ""
    })
  })

  it("never mutates its input and returns a copy", () => {
    const input = deepFreeze({
      email: "jane@acme.com",
      list: [{ phone: "+1 415 555 0100" }],
      note: "call jane@acme.com"
    })
    const before = JSON.stringify(input)
    const output = redact(input) as typeof input
    expect(JSON.stringify(input)).toBe(before)
    expect(output).not.toBe(input)
    expect(output.list).not.toBe(input.list)
    expect(output.note).toBe("call ***@acme.com")
  })

  it("keeps an own __proto__ key as data without touching prototypes", () => {
    const output = redact(JSON.parse('{"__proto__":{"email":"a@b.co"}}')) as Record<string, unknown>
    expect(Object.getPrototypeOf(output)).toBe(Object.prototype)
    expect(Object.hasOwn(output, "__proto__")).toBe(true)
    expect(({} as Record<string, unknown>).email).toBeUndefined()
  })
})

describe("redact in text", () => {
  it.each([
    ["Contact jane.doe@acme.com today", "Contact ***@acme.com today"],
    ["<JANE@Acme.COM>", "<***@acme.com>"],
    ["call +1 (415) 555-0100 now", "call [phone] now"],
    ["(415) 555-0100", "[phone]"],
    ["415-555-0100", "[phone]"],
    ["415.555.0100", "[phone]"],
    ["415 555 0100", "[phone]"],
    ["+14155550100", "[phone]"],
    ["+44 20 7946 0958", "[phone]"],
    ["+49-30-1234567", "[phone]"],
    ["tel:+33 1 23 45 67 89", "tel:[phone]"],
    ["Phone: 555-0100.", "Phone: [phone]."],
    ["(call 415-555-0100)", "(call [phone])"],
    ["030 1234567", "[phone]"],
    ["1-800-555-0100", "[phone]"],
    ["call 06 12 34 56 78", "call [phone]"],
    ['{"phone":"+1 415 555 0100","email":"a@b.co"}', '{"phone":"[phone]","email":"***@b.co"}']
  ])("%j -> %j", (input, expected) => {
    expect(redactText(input)).toBe(expected)
  })

  const key = leadKey("a@b.co", "camp-1")
  it.each([
    ["ISO timestamp", "2026-11-26T13:17:43.123Z"],
    ["ISO timestamp with offset", "2026-11-26T13:17:43+02:00"],
    ["date", "2026-11-26"],
    ["date and time", "at 2026-11-26 13:17:43 UTC"],
    ["European date", "26.11.2026"],
    ["date range", "2026-11-26 - 2026-12-01"],
    ["UUID", "550e8400-e29b-41d4-a716-446655440000"],
    ["UUID with digit groups", "12345678-1234-1234-1234-123456789012"],
    ["lead key (64 hex)", key],
    ["digit-heavy hex", "1234567890abcdef1234567890abcdef"],
    ["Salesforce id", "00Q5g00000AbCdE"],
    ["Salesforce 18-char id", "0015g00000XyZ12AAB"],
    ["numeric id", "id 982374982374"],
    ["epoch millis", "ts=1732627063123 and 1732627063124"],
    ["IPv4", "from 192.168.100.200"],
    ["IPv4 with port", "10.20.30.40:8080"],
    ["IPv6", "2001:db8:85a3::8a2e:370:7334"],
    ["version", "v1.22.4 and 10.0.19045.3803"],
    ["semver", "effect@3.22.4"],
    ["price", "$1,299.99"],
    ["decimal amount", "amount 1234567.89 USD"],
    ["list of prices", "12.50 34.75 99.10"],
    ["coordinates", "lat 37.774929, lng -122.419416"],
    ["trace id", "4bf92f3577b34da6a3ce929d0e0e4736"],
    ["HTTP date", "Mon, 26 Nov 2026 13:17:43 GMT"],
    ["ports", "port 5432 and 6379"],
    ["thousands", "employees 1 234 567"],
    ["European thousands", "€ 1.234.567,89"],
    ["range", "1000-5000 employees"],
    ["duration", "took 1234567 ms"],
    ["percent", "99.95%"],
    ["job id path", "/jobs/12345678/attempts/3"]
  ])("leaves a %s alone", (_label, text) => {
    expect(redactText(text)).toBe(text)
  })
})

describe("redact: awkward values", () => {
  it("handles cycles without looping, and shared references are not cycles", () => {
    const shared = { company: "Acme" }
    const node: Record<string, unknown> = { email: "a@b.co", left: shared, right: shared }
    node.self = node
    expect(redact(node)).toEqual({
      email: "***@b.co",
      left: { company: "Acme" },
      right: { company: "Acme" },
      self: "[Circular]"
    })
  })

  it("stops at a bounded depth", () => {
    let deep: Record<string, unknown> = { email: "a@b.co" }
    for (let i = 0; i < 100; i++) deep = { next: deep }
    expect(JSON.stringify(redact(deep))).toContain("[MaxDepth]")
    expect(JSON.stringify(redact(deep))).not.toContain("a@b.co")
  })

  it("redacts errors but keeps their class name and tagged fields", () => {
    expect(redact(new Error("no lead for jane@acme.com"))).toEqual({
      name: "Error",
      message: "no lead for ***@acme.com"
    })
    const tagged = redact(new GuardBlocked({ tool: "delete_lead", rule: "blocked-tool", reason: "x" }))
    expect(tagged).toMatchObject({ name: "GuardBlocked", _tag: "GuardBlocked", tool: "delete_lead" })
  })

  it("passes scalars and Redacted values through, copies dates, summarises binary", () => {
    const secret = Redacted.make("s3cret")
    expect((redact({ secret }) as { secret: unknown }).secret).toBe(secret)
    expect(redact(42)).toBe(42)
    expect(redact(null)).toBe(null)
    expect(redact(undefined)).toBe(undefined)
    expect(redact("mail a@b.co")).toBe("mail ***@b.co")
    const at = new Date(0)
    const copy = redact({ at }) as { at: Date }
    expect(copy.at).toEqual(at)
    expect(copy.at).not.toBe(at)
    expect(redact({ body: Buffer.from("a@b.co") })).toEqual({ body: "[binary 6 bytes]" })
    expect(redact(new Map([["email", "a@b.co"]]))).toEqual({ email: "***@b.co" })
  })
})

/** Every address the lead schema accepts, from the schema's own generator (non-ASCII, quotes, braces, tildes...). */
const addresses = Arbitrary.make(Email)
const parts = (email: string) => ({
  local: email.slice(0, email.lastIndexOf("@")),
  domain: email.slice(email.lastIndexOf("@") + 1)
})
/** What a CRM or a log message puts right before and after an address it quotes. */
const before = FastCheck.constantFrom(
  "",
  " ",
  "Email: invalid email address: ",
  "\n",
  "\t",
  "<",
  "(",
  "[",
  '"',
  ",",
  ";"
)
const after = FastCheck.constantFrom("", " ", ".", ",", ";", ":", ")", ">", "]", '"', "'", "\n", " is invalid", "}")
/** The text with each mask taken out, so an address made of asterisks ("*@x.de") is not found inside "***@x.de". */
const unmasked = (text: string) => text.replaceAll("***@", "@")
/** JSON with non-ASCII escaped as \uXXXX, as Python's json.dumps and some Java serialisers write it. */
const asciiJson = (value: string) =>
  JSON.stringify(value).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`)

describe("redaction covers every address the lead schema accepts", () => {
  it("the generator reaches the hard cases", () => {
    const sample = FastCheck.sample(addresses, { numRuns: 2000, seed: 42 })
    expect(sample.some((email) => /[^\p{ASCII}]/u.test(parts(email).local))).toBe(true)
    for (const char of ["'", "~", "{", "}", "+", "ü"]) expect(sample.some((email) => email.includes(char))).toBe(true)
  })

  it("in text, the whole local part is masked and the domain kept", () => {
    FastCheck.assert(
      FastCheck.property(addresses, before, after, (email, prefix, suffix) => {
        const out = redactText(`${prefix}${email}${suffix}`)
        expect(out).toBe(`${prefix}***@${parts(email).domain}${suffix}`)
        expect(unmasked(out)).not.toContain(email)
      }),
      { numRuns: 1000 }
    )
  })

  it("in JSON a CRM echoes, plain or with non-ASCII escaped", () => {
    FastCheck.assert(
      FastCheck.property(addresses, (email) => {
        const { local, domain } = parts(email)
        for (const body of [
          JSON.stringify({ message: `Email address ${email} is invalid`, email }),
          `{"message":${asciiJson(`Email address ${email} is invalid`)}}`,
          `Property values were not valid: [{"isValid":false,"message":${asciiJson(email)}}]`
        ]) {
          const out = redactText(body)
          expect(unmasked(out)).not.toContain(email)
          expect(unmasked(out)).not.toContain(asciiJson(email).slice(1, -1))
          expect(out).toContain(`***@${domain}`)
          if (local.length >= 4) expect(out).not.toContain(local)
        }
      }),
      { numRuns: 500 }
    )
  })

  it("by key and inside errors", () => {
    FastCheck.assert(
      FastCheck.property(addresses, (email) => {
        const out = JSON.stringify(
          redact({ email, contact: { workEmail: email }, note: `reach ${email}`, error: new Error(`no ${email}`) })
        )
        expect(unmasked(out)).not.toContain(email)
        expect(unmasked(out)).not.toContain(JSON.stringify(email).slice(1, -1))
      }),
      { numRuns: 300 }
    )
  })
})

describe("phone numbers in every spelling people type (safe patterns)", () => {
  it.each([
    ["01711234567", "[phone]"],
    ["call 612 345 678", "call [phone]"],
    ["030/12345678", "[phone]"],
    ["415/555-0100", "[phone]"],
    ["415\u00a0555\u00a00100", "[phone]"],
    ["415\u2013555\u20130100", "[phone]"],
    ["(415) 555.0100", "[phone]"],
    ["12 34 5678", "[phone]"],
    ["0612 34 56", "[phone]"],
    ["?phone=+14155550100&x=1", "?phone=[phone]&x=1"],
    ["https://wa.me/14155550100", "https://wa.me/[phone]"],
    ["ref#+14155550100", "ref#[phone]"],
    ["id_+14155550100", "id_[phone]"],
    ["tel:4155550100", "tel:[phone]"],
    ["phone number: 4155550100", "phone number: [phone]"],
    ["WhatsApp 4155550100", "WhatsApp [phone]"],
    ["415-555-0100 x123", "[phone]"],
    ["415-555-0100 ext. 42.", "[phone]."],
    ["+\uff11 \uff14\uff11\uff15 \uff15\uff15\uff15 \uff10\uff11\uff10\uff10", "[phone]"],
    ["\uff14\uff11\uff15-\uff15\uff15\uff15-\uff10\uff11\uff10\uff10", "[phone]"]
  ])("%j -> %j", (input, expected) => {
    expect(redactText(input)).toBe(expected)
  })

  it.each([
    ["HubSpot id", "Existing ID: 123456789012"],
    ["short count", "Existing ID: 12345"],
    ["bare epoch millis", "1732627063123"],
    ["bare 10-digit id", "contact 4155550100 updated"],
    ["zero-padded id", "order 0012345678"],
    ["years", "2024/2025/2026"],
    ["slashed date", "10/12/2026"],
    ["amount in nine digits", "€ 612 345 678"],
    ["thousands", "revenue 123 456 789"],
    ["date after a phone word", "call on 2026-11-26"]
  ])("leaves a %s alone", (_label, text) => {
    expect(redactText(text)).toBe(text)
  })
})

describe("email addresses the lead schema does not produce, as CRMs and URLs echo them", () => {
  it.each([
    ["?email=grace%40globex.com", "***@globex.com"],
    ["to jürgen@müller.de now", "to ***@müller.de now"],
    ['"john doe"@example.com', "***@example.com"],
    ["mail jane@intranet.", "mail ***@intranet."],
    ["jane@[10.1.2.3]", "***@[10.1.2.3]"],
    ["jane@10.1.2.3", "***@10.1.2.3"],
    ["postgres://app@db.example.com/x", "postgres://***@db.example.com/x"]
  ])("%j -> %j", (input, expected) => {
    expect(redactText(input)).toBe(expected)
  })

  it("by key, a Unicode or IP-literal domain is kept", () => {
    expect(redact({ email: "jürgen@müller.de", workEmail: "x@[10.1.2.3]" })).toEqual({
      email: "***@müller.de",
      workEmail: "***@[10.1.2.3]"
    })
  })
})

describe("passwords in URLs, whatever the host", () => {
  it.each([
    ["https://admin:pw@10.1.2.3:8443/crm", "https://admin:***@10.1.2.3:8443/crm"],
    ["redis://:tok@cache:6379", "redis://:***@cache:6379"],
    ["see postgres://app:s3cr%40t@db.example.com/x", "see postgres://app:***@db.example.com/x"],
    ['{"url":"https:\\/\\/u:p@h\\/x"}', '{"url":"https:\\/\\/u:***@h\\/x"}']
  ])("%j -> %j", (input, expected) => {
    expect(redactText(input)).toBe(expected)
  })

  it("leaves URLs without a password alone (a user name is masked as an address's local part)", () => {
    for (const url of ["https://example.com:8443/a", "http://h:80/x?y=z", "https://x.org/@handle"]) {
      expect(redactText(url)).toBe(url)
    }
    expect(redactText("https://u@10.0.0.1/x")).toBe("https://***@10.0.0.1/x")
    expect(redactText("https://example.com:8443/pkg@latest")).toBe("https://example.com:8443/***@latest")
  })
})

describe("keys that carry personal data", () => {
  it("masks tel, cell, WhatsApp, owner and names in other languages by key, and masks inside keys", () => {
    expect(
      redact({
        tel: "4155550100",
        cell: "612345678",
        whatsapp: "4155550100",
        owner: "Jane Doe",
        ownerId: 12345,
        vorname: "Jürgen",
        nachname: "Müller",
        prenom: "Zoé",
        hotel: "Ritz",
        "contact.+14155550100": true,
        "jane@acme.com": 1
      })
    ).toEqual({
      tel: "***",
      cell: "***",
      whatsapp: "***",
      owner: "***",
      ownerId: 12345,
      vorname: "***",
      nachname: "***",
      prenom: "***",
      hotel: "Ritz",
      "contact.[phone]": true,
      "***@acme.com": 1
    })
  })
})
