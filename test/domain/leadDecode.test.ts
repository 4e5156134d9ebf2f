import { describe, expect, it } from "@effect/vitest"
import * as Arbitrary from "effect/Arbitrary"
import * as Either from "effect/Either"
import * as FastCheck from "effect/FastCheck"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import { decodeLeadInput, Email, LeadInput, plainLeadInput, strictParseOptions } from "../../src/domain/lead.js"
import { leadBody } from "../../scripts/bench/lib/leads.js"

const decode = Schema.decodeUnknownEither(LeadInput, strictParseOptions)
const issuesOf = (result: Either.Either<unknown, ParseResult.ParseError>) =>
  Either.isRight(result) ? [] : ParseResult.ArrayFormatter.formatErrorSync(result.left)

/** Text near every bound the fast path checks: padding, lengths around the limits, upper case, and what it refuses. */
const text = FastCheck.oneof(
  FastCheck.constantFrom("", " ", "a", " a ", "Ab", "\t", "x\u200By", "é", "\u202E", "a\u0000", " +1 (555) 010-9999 "),
  FastCheck.tuple(
    FastCheck.constantFrom(1, 5, 32, 33, 40, 41, 64, 65, 80, 81, 128, 129, 255, 256, 1024, 1025),
    FastCheck.boolean()
  ).map(([n, pad]) => (pad ? " " : "") + "x".repeat(n) + (pad ? " " : "")),
  FastCheck.string({ maxLength: 12 }),
  FastCheck.string({ unit: "grapheme", maxLength: 6 }),
  FastCheck.stringMatching(/^ ?\+?[0-9 ().-]{3,34} ?$/)
)
const scalar = FastCheck.oneof(
  text,
  FastCheck.integer(),
  FastCheck.double(),
  FastCheck.boolean(),
  FastCheck.constant(null)
)
const anyValue = FastCheck.oneof(scalar, FastCheck.constant(undefined), FastCheck.array(scalar, { maxLength: 2 }))

const email = FastCheck.oneof(
  Arbitrary.make(Email),
  Arbitrary.make(Email).map((e) => ` ${e.toUpperCase()} `),
  FastCheck.constantFrom(
    "ada@globex.com",
    "ADA@Globex.COM",
    "a@b",
    "a@b.c",
    `${"a".repeat(250)}@b.co`,
    "a b@c.com",
    "a..b@c.com",
    ".a@c.com"
  ),
  anyValue
)
const count = FastCheck.oneof(
  FastCheck.constantFrom(0, 1, 1_000_000, 1_000_001, -1, 0.5, -0, Number.NaN),
  FastCheck.integer({ min: -5, max: 1_000_005 }),
  anyValue
)
const activity = FastCheck.record(
  {
    pageViews: count,
    emailOpens: count,
    emailClicks: count,
    formSubmissions: count,
    pricingPageVisits: count,
    demoRequested: FastCheck.oneof(FastCheck.boolean(), anyValue),
    trialSignup: FastCheck.oneof(FastCheck.boolean(), anyValue),
    productLogins: count,
    lastActivityAt: text,
    extra: anyValue
  },
  { requiredKeys: [] }
)
const attributes = FastCheck.oneof(
  FastCheck.dictionary(
    FastCheck.oneof(
      FastCheck.constantFrom("plan", "seats.count", "a-b_c", "9x", "_x", "x".repeat(64), "x".repeat(65)),
      FastCheck.string({ maxLength: 4 })
    ),
    scalar,
    { maxKeys: 8 }
  ),
  FastCheck.integer({ min: 48, max: 52 }).map((n) =>
    Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, i]))
  ),
  anyValue
)
const field = FastCheck.oneof({ arbitrary: text, weight: 4 }, { arbitrary: anyValue, weight: 1 })
const lead = FastCheck.record(
  {
    email,
    campaignId: field,
    firstName: field,
    lastName: field,
    company: field,
    title: field,
    phone: field,
    website: field,
    country: field,
    source: field,
    utmSource: field,
    utmMedium: field,
    utmCampaign: field,
    utmTerm: field,
    utmContent: field,
    activity: FastCheck.oneof(activity, anyValue),
    attributes,
    unknownField: anyValue
  },
  { requiredKeys: [] }
)

/** Mostly valid leads, each with a small chance of one value at or past a bound, so the fast path is exercised. */
const rarely = <A>(valid: FastCheck.Arbitrary<A>, other: FastCheck.Arbitrary<unknown>) =>
  FastCheck.oneof({ arbitrary: valid, weight: 30 }, { arbitrary: other, weight: 1 })
const bound = FastCheck.tuple(
  FastCheck.constantFrom(4, 5, 32, 33, 40, 41, 64, 65, 80, 81, 128, 129, 254, 255, 256, 1024, 1025),
  FastCheck.constantFrom("", " ")
).map(([n, pad]) => pad + "x".repeat(n) + pad)
const word = FastCheck.oneof(
  { arbitrary: FastCheck.stringMatching(/^ ?[A-Za-z0-9][A-Za-z0-9 .,'-]{0,20} ?$/), weight: 2 },
  { arbitrary: bound, weight: 1 }
)
const nearValid = FastCheck.record(
  {
    email: rarely(FastCheck.constantFrom("ada@globex.com", " Bo@Initech.COM ", "x.y+z@a-b.example.org"), email),
    campaignId: rarely(word, field),
    firstName: rarely(word, field),
    lastName: rarely(word, field),
    company: rarely(word, field),
    title: rarely(word, field),
    phone: rarely(FastCheck.stringMatching(/^ ?\+?[0-9 ().-]{5,32} ?$/), field),
    website: rarely(word, field),
    country: rarely(word, field),
    utmSource: rarely(word, field),
    activity: rarely(
      FastCheck.record(
        {
          pageViews: FastCheck.oneof(FastCheck.nat(1_000_000), FastCheck.constantFrom(1_000_000, 1_000_001, -1)),
          demoRequested: FastCheck.boolean(),
          lastActivityAt: word
        },
        { requiredKeys: [] }
      ),
      activity
    ),
    attributes: rarely(
      FastCheck.oneof(
        FastCheck.dictionary(FastCheck.stringMatching(/^[a-z][a-z0-9_.-]{0,8}$/), FastCheck.oneof(scalar, bound), {
          maxKeys: 5
        }),
        FastCheck.constantFrom(50, 51).map((n) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, i])))
      ),
      attributes
    ),
    unknownField: anyValue
  },
  { requiredKeys: ["email", "campaignId"] }
).map(({ unknownField, ...rest }) =>
  Math.abs(JSON.stringify(rest).length % 17) === 0 ? { ...rest, unknownField } : rest
)

describe("decodeLeadInput: the fast path answers only what the schema answers", () => {
  it("on generated input, either the fast path stands aside or it gives the schema's lead, key order included", () => {
    let fast = 0
    FastCheck.assert(
      FastCheck.property(
        FastCheck.oneof(lead, nearValid, Arbitrary.make(LeadInput).map(Schema.encodeSync(LeadInput))),
        (input) => {
          const schema = decode(input)
          const plain = plainLeadInput(input)
          if (plain !== undefined) {
            fast++
            expect(Either.isRight(schema), JSON.stringify(issuesOf(schema))).toBe(true)
            expect(JSON.stringify(plain)).toBe(JSON.stringify(Either.getOrThrow(schema)))
            expect(plain).toStrictEqual(Either.getOrThrow(schema))
          }
          const both = decodeLeadInput(input)
          expect(Either.isRight(both)).toBe(Either.isRight(schema))
          if (Either.isRight(both)) expect(both.right).toStrictEqual(Either.getOrThrow(schema))
          else expect(issuesOf(both)).toEqual(issuesOf(schema))
        }
      ),
      { numRuns: 4000 }
    )
    // the generators reach the fast path often enough for the comparison to mean something
    expect(fast).toBeGreaterThan(150)
  })

  it("takes the fast path for an everyday lead", () => {
    const body = JSON.parse(JSON.stringify(leadBody("run", 3)))
    expect(plainLeadInput(body)).toStrictEqual(Either.getOrThrow(decode(body)))
    expect(plainLeadInput({ ...body, attributes: { plan: "pro", seats: 12, trial: true, note: null } })).toBeDefined()
  })
})
