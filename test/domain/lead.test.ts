import { createHash } from "node:crypto"
import { describe, expect, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import { formatParseIssues } from "../../src/domain/guard.js"
import { accountDomain, LeadInput, strictParseOptions } from "../../src/domain/lead.js"
import { leadKey } from "../../src/domain/leadKey.js"

const decode = Schema.decodeUnknownEither(LeadInput, strictParseOptions)

/** Every failing path, as "a.b" strings, from a strict decode. */
const failingPaths = (input: unknown): ReadonlyArray<string> => {
  const result = decode(input)
  if (Either.isRight(result)) throw new Error(`expected a failure, got ${JSON.stringify(result.right)}`)
  return [...new Set(ParseResult.ArrayFormatter.formatErrorSync(result.left).map((issue) => issue.path.join(".")))]
}

const messagesAt = (input: unknown, path: string): ReadonlyArray<string> => {
  const result = decode(input)
  if (Either.isRight(result)) return []
  return ParseResult.ArrayFormatter.formatErrorSync(result.left)
    .filter((issue) => issue.path.join(".") === path)
    .map((issue) => issue.message)
}

describe("LeadInput", () => {
  it("normalises a valid lead: email trimmed and lower-cased, text fields trimmed", () => {
    const result = decode({
      email: "  Jane.Doe@ACME.com ",
      campaignId: " spring-2026 ",
      firstName: " Jane ",
      company: "Acme",
      activity: { pageViews: 12, demoRequested: true },
      attributes: { plan: "pro", seats: 25, trial: false, note: null }
    })
    expect(result).toEqual(
      Either.right({
        email: "jane.doe@acme.com",
        campaignId: "spring-2026",
        firstName: "Jane",
        company: "Acme",
        activity: { pageViews: 12, demoRequested: true },
        attributes: { plan: "pro", seats: 25, trial: false, note: null }
      })
    )
  })

  it("rejects a missing email and names it", () => {
    expect(failingPaths({ campaignId: "c" })).toEqual(["email"])
  })

  it.each(["not-an-email", "a@b", "a b@c.co", "a@@b.co", "<a@b.co>", "", "   ", ".ada@b.co", "ada.@b.co", "a..b@b.co"])(
    "rejects the email %j",
    (email) => {
      expect(failingPaths({ email, campaignId: "c" })).toEqual(["email"])
      expect(messagesAt({ email, campaignId: "c" }, "email")).toContain("email must be a valid email address")
    }
  )

  it("rejects an email over 254 characters", () => {
    const email = `${"a".repeat(64)}@${"b".repeat(63)}.${"c".repeat(63)}.${"d".repeat(63)}.com`
    expect(email.length).toBeGreaterThan(254)
    expect(messagesAt({ email, campaignId: "c" }, "email")).toContain("email must be at most 254 characters")
  })

  it("bounds campaignId to 1..128 characters after trimming", () => {
    expect(messagesAt({ email: "a@b.co", campaignId: "" }, "campaignId")).toContain("campaignId must not be empty")
    expect(messagesAt({ email: "a@b.co", campaignId: "   " }, "campaignId")).toContain("campaignId must not be empty")
    expect(Either.isRight(decode({ email: "a@b.co", campaignId: "c".repeat(128) }))).toBe(true)
    expect(messagesAt({ email: "a@b.co", campaignId: "c".repeat(129) }, "campaignId")).toContain(
      "campaignId must be at most 128 characters"
    )
  })

  it("rejects unknown top-level fields (no mass assignment)", () => {
    expect(failingPaths({ email: "a@b.co", campaignId: "c", status: "SYNCED" })).toEqual(["status"])
    const proto = JSON.parse('{"email":"a@b.co","campaignId":"c","__proto__":{"admin":true}}')
    expect(failingPaths(proto)).toEqual(["__proto__"])
  })

  it("bounds attributes: 50 keys, key shape, scalar values of at most 1024 characters", () => {
    const fifty = Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`k${i}`, i]))
    expect(Either.isRight(decode({ email: "a@b.co", campaignId: "c", attributes: fifty }))).toBe(true)
    const fiftyOne = { ...fifty, k50: 50 }
    expect(messagesAt({ email: "a@b.co", campaignId: "c", attributes: fiftyOne }, "attributes")).toContain(
      "attributes may hold at most 50 keys"
    )
    expect(failingPaths({ email: "a@b.co", campaignId: "c", attributes: { "1bad": 1 } })).toContain("attributes.1bad")
    expect(failingPaths({ email: "a@b.co", campaignId: "c", attributes: { nested: { a: 1 } } })).toContain(
      "attributes.nested"
    )
    expect(failingPaths({ email: "a@b.co", campaignId: "c", attributes: { long: "x".repeat(1025) } })).toContain(
      "attributes.long"
    )
  })

  it("rejects attribute numbers that JSON cannot carry (±Infinity, NaN), naming the attribute", () => {
    for (const value of [Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, Number.NaN]) {
      const input = { email: "a@b.co", campaignId: "c", attributes: { score: value, seats: 25 } }
      expect(failingPaths(input)).toEqual(["attributes.score"])
      expect(messagesAt(input, "attributes.score")).toContain("attribute values must be finite numbers")
    }
    const largest = { email: "a@b.co", campaignId: "c", attributes: { n: Number.MAX_VALUE, m: -Number.MAX_VALUE } }
    expect(Either.isRight(decode(largest))).toBe(true)
  })

  it("names every bad field at once, with its path", () => {
    const input = {
      email: "nope",
      campaignId: "",
      firstName: "",
      phone: "call me",
      extra: true,
      activity: { pageViews: -1, clicks: 2 },
      attributes: { "9lives": 1 }
    }
    expect([...failingPaths(input)].sort()).toEqual(
      [
        "activity.clicks",
        "activity.pageViews",
        "attributes.9lives",
        "campaignId",
        "email",
        "extra",
        "firstName",
        "phone"
      ].sort()
    )
    // The guard's formatter gives one readable line per field, without Schema.optional's "Expected undefined".
    const result = decode(input)
    if (Either.isRight(result)) throw new Error("expected a failure")
    const text = formatParseIssues(result.left)
    expect(text).toContain("email: email must be a valid email address")
    expect(text).toContain("activity.pageViews: Expected a number between 0 and 1000000, actual -1")
    expect(text).toContain("phone: phone must be 5-32 digits")
    expect(text).not.toContain("Expected undefined")
  })

  it("accountDomain prefers the website host, else the email domain", () => {
    expect(accountDomain({ email: "a@gmail.com", website: "https://www.Acme.io/about" })).toBe("acme.io")
    expect(accountDomain({ email: "a@acme.com" })).toBe("acme.com")
    expect(accountDomain({ email: "a@acme.com", website: "localhost" })).toBe("acme.com")
  })
})

describe("leadKey", () => {
  it("is sha256 of lower(trim(email)) + ':' + trim(campaignId), hex", () => {
    const expected = createHash("sha256").update("a@b.co:camp-1").digest("hex")
    expect(leadKey("a@b.co", "camp-1")).toBe(expected)
    expect(expected).toMatch(/^[0-9a-f]{64}$/)
  })

  it("gives the same key whatever the casing and surrounding whitespace", () => {
    const key = leadKey("a@b.co", "camp-1")
    expect(leadKey("  A@B.CO ", " camp-1\t")).toBe(key)
  })

  it("gives different keys for different campaigns or emails, and keeps campaign case", () => {
    const key = leadKey("a@b.co", "camp-1")
    expect(leadKey("a@b.co", "camp-2")).not.toBe(key)
    expect(leadKey("c@b.co", "camp-1")).not.toBe(key)
    expect(leadKey("a@b.co", "CAMP-1")).not.toBe(key)
  })
})
