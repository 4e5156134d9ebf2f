import { describe, expect, it } from "@effect/vitest"
import * as Arbitrary from "effect/Arbitrary"
import * as Either from "effect/Either"
import * as FastCheck from "effect/FastCheck"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import { CampaignId, Email, LeadInput, strictParseOptions } from "../../src/domain/lead.js"
import { leadKey } from "../../src/domain/leadKey.js"

const decode = Schema.decodeUnknownEither(LeadInput, strictParseOptions)

const issuesOf = (input: unknown) => {
  const result = decode(input)
  return Either.isRight(result) ? [] : ParseResult.ArrayFormatter.formatErrorSync(result.left)
}

/**
 * Characters a reader cannot see or that change what they see: C0 / C1 controls, bidi marks, embeddings, overrides
 * and isolates, zero-width and other default-ignorable or format characters, line / paragraph separators.
 */
const invisibles = [
  "\u0000",
  "\u0007",
  "\u0008",
  "\u0009",
  "\u000B",
  "\u001B",
  "\u007F",
  "\u0080",
  "\u0085",
  "\u009F",
  "\u00AD",
  "\u034F",
  "\u061C",
  "\u115F",
  "\u180E",
  "\u200B",
  "\u200C",
  "\u200D",
  "\u200E",
  "\u200F",
  "\u202A",
  "\u202B",
  "\u202C",
  "\u202D",
  "\u202E",
  "\u2028",
  "\u2029",
  "\u2060",
  "\u2063",
  "\u2066",
  "\u2067",
  "\u2068",
  "\u2069",
  "\u3164",
  "\uFE0F",
  "\uFEFF",
  "\uFFF9",
  "\u{1D173}",
  "\u{E0001}",
  "\u{E0041}"
]
const invisible = FastCheck.constantFrom(...invisibles)

/** `text` with `inserted` put strictly inside it (never at an end, where trimming has its own rule). */
const insideOf = (text: FastCheck.Arbitrary<string>, inserted: FastCheck.Arbitrary<string>) =>
  FastCheck.tuple(text, inserted, FastCheck.nat()).map(([value, char, at]) => {
    const cut = 1 + (at % Math.max(1, value.length - 1))
    return value.slice(0, cut) + char + value.slice(cut)
  })

const emails = Arbitrary.make(Email)
const campaigns = Arbitrary.make(CampaignId).filter((c) => c.length >= 2)

describe("identity fields refuse invisible characters", () => {
  it("an email with a control, bidi or invisible character inside is refused, naming email", () => {
    FastCheck.assert(
      FastCheck.property(insideOf(emails, invisible), (email) => {
        const issues = issuesOf({ email, campaignId: "spring" })
        expect(issues.map((issue) => issue.path.join("."))).toEqual(["email"])
        expect(issues[0]?.message).toBe("email must not contain control, bidi or invisible characters")
      }),
      { numRuns: 400 }
    )
  })

  it("a campaignId with a control, bidi or invisible character inside is refused, naming campaignId", () => {
    FastCheck.assert(
      FastCheck.property(insideOf(campaigns, invisible), (campaignId) => {
        const issues = issuesOf({ email: "ada@globex.com", campaignId })
        expect(issues.map((issue) => issue.path.join("."))).toEqual(["campaignId"])
        expect(issues[0]?.message).toBe("campaignId must not contain control, bidi or invisible characters")
      }),
      { numRuns: 400 }
    )
  })

  it("a campaignId made only of invisible characters is not a non-empty campaignId", () => {
    const onlyInvisible = FastCheck.array(
      invisible.filter((c) => c.trim() !== ""),
      { minLength: 1, maxLength: 5 }
    ).map((chars) => chars.join(""))
    FastCheck.assert(
      FastCheck.property(onlyInvisible, (campaignId) => {
        expect(issuesOf({ email: "ada@globex.com", campaignId }).map((issue) => issue.path.join("."))).toEqual([
          "campaignId"
        ])
      })
    )
    expect(issuesOf({ email: "ada@globex.com", campaignId: "\u200B" })[0]?.message).toBe(
      "campaignId must not contain control, bidi or invisible characters"
    )
  })

  it("an email or campaign written decomposed (NFD) and composed (NFC) is one identity, one lead key", () => {
    const composed = { email: "jos\u00E9.n\u00FA\u00F1ez@acme.io", campaignId: "caf\u00E9-\u00C5r" }
    const decomposed = { email: composed.email.normalize("NFD"), campaignId: composed.campaignId.normalize("NFD") }
    expect(decomposed.email).not.toBe(composed.email)
    const [a, b] = [composed, decomposed].map((input) => Either.getOrThrow(decode(input)))
    expect(b).toEqual(a)
    expect(leadKey(b!.email, b!.campaignId)).toBe(leadKey(a!.email, a!.campaignId))
    // an upper-case decomposed address too: "JOSE\u0301@ACME.IO"
    expect(Either.getOrThrow(decode({ ...decomposed, email: decomposed.email.toUpperCase() })).email).toBe(a!.email)
  })

  it("keys of leads valid before stay the same: trimming and casing only, as the lead key defines", () => {
    const padding = FastCheck.constantFrom("", " ", "\t", "\n", "\u00A0", "\uFEFF", " \u2028")
    FastCheck.assert(
      FastCheck.property(
        emails,
        campaigns,
        padding,
        padding,
        FastCheck.boolean(),
        (email, campaignId, before, after, upper) => {
          const rawEmail = `${before}${upper ? email.toUpperCase() : email}${after}`
          const rawCampaign = `${before}${campaignId}${after}`
          const decoded = decode({ email: rawEmail, campaignId: rawCampaign })
          // Upper-casing some non-ASCII letters changes them for good ("ß" -> "SS"); only round trips count. Input
          // in Unicode normal form C (what nearly every form and API sends) keeps its key; other forms are composed.
          if (rawEmail.trim().toLowerCase() !== email) return
          if (email !== email.normalize("NFC") || campaignId !== campaignId.normalize("NFC")) return
          if (Either.isLeft(decoded)) throw new Error(`${JSON.stringify(rawEmail)} was refused`)
          expect(leadKey(decoded.right.email, decoded.right.campaignId)).toBe(leadKey(rawEmail, rawCampaign))
        }
      ),
      { numRuns: 300 }
    )
  })
})

/** Characters free text loses: they spoof what a CRM user reads (bidi overrides) or hide in it (zero-width, controls). */
const stripped = [
  "\u0000",
  "\u0007",
  "\u000B",
  "\u001B",
  "\u007F",
  "\u0085",
  "\u009F",
  "\u00AD",
  "\u180E",
  "\u200B",
  "\u202A",
  "\u202B",
  "\u202C",
  "\u202D",
  "\u202E",
  "\u2060",
  "\u2064",
  "\u2066",
  "\u2067",
  "\u2068",
  "\u2069",
  "\uFEFF",
  "\uFFF9",
  "\u{E0001}",
  "\u{E0041}"
]

const visibleText = FastCheck.string({ unit: "grapheme", minLength: 1, maxLength: 40 })
  .map((text) => text.replace(/[\p{Cc}\p{Cf}\p{Default_Ignorable_Code_Point}\p{Z}]/gu, "x"))
  .filter((text) => text.length > 0 && text.length <= 60)

const sprinkled = FastCheck.tuple(
  visibleText,
  FastCheck.array(FastCheck.tuple(FastCheck.constantFrom(...stripped), FastCheck.nat()), { maxLength: 4 })
).map(([text, inserts]) => {
  // inserted between code points: a character put inside a surrogate pair would break the text itself
  const points = Array.from(text)
  for (const [char, at] of inserts) points.splice(at % (points.length + 1), 0, char)
  return { clean: text, dirty: points.join("") }
})

describe("free text drops bidi overrides, zero-width characters and controls, and keeps the rest", () => {
  it("company, names, title, utm*, lastActivityAt and attribute text are stored without them", () => {
    FastCheck.assert(
      FastCheck.property(sprinkled, ({ clean, dirty }) => {
        const result = decode({
          email: "ada@globex.com",
          campaignId: "spring",
          firstName: dirty,
          company: dirty,
          title: dirty,
          utmCampaign: dirty,
          activity: { lastActivityAt: dirty.slice(0, 40) },
          attributes: { note: dirty }
        })
        if (Either.isLeft(result)) throw new Error(ParseResult.TreeFormatter.formatErrorSync(result.left))
        const lead = result.right
        expect([lead.firstName, lead.company, lead.title, lead.utmCampaign, lead.attributes?.note]).toEqual([
          clean,
          clean,
          clean,
          clean,
          clean
        ])
        const at = lead.activity?.lastActivityAt ?? ""
        expect(stripped.filter((char) => at.includes(char))).toEqual([])
      }),
      { numRuns: 300 }
    )
  })

  it("keeps what real scripts and emoji need (ZWNJ, ZWJ, direction marks, variation selectors), tabs and newlines", () => {
    const persian = "می\u200Cخواهم"
    const family = "\u{1F468}\u200D\u{1F469}\u200D\u{1F467}"
    const hebrew = "\u05D0\u200F (Acme)"
    const result = decode({
      email: "ada@globex.com",
      campaignId: "spring",
      company: `${persian} ${family} ${hebrew} \u2764\uFE0F`,
      attributes: { note: "line one\nline two\tend" }
    })
    expect(Either.getOrThrow(result)).toMatchObject({
      company: `${persian} ${family} ${hebrew} \u2764\uFE0F`,
      attributes: { note: "line one\nline two\tend" }
    })
  })

  it("a field that is only invisible characters is empty, and named as such", () => {
    const issues = issuesOf({ email: "ada@globex.com", campaignId: "spring", company: "\u200B\u202E", firstName: "x" })
    expect(issues.map((issue) => [issue.path.join("."), issue.message])).toEqual([
      ["company", "company must not be empty"]
    ])
  })
})
