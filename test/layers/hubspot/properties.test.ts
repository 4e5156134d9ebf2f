import { describe, expect, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Ref from "effect/Ref"
import * as TestClock from "effect/TestClock"
import { type Definitions, adapt, makeDefinitionsCache, toDefinitions } from "../../../layers/hubspot/properties.js"

const companies: Definitions = toDefinitions([
  {
    name: "industry",
    type: "enumeration",
    options: [
      { label: "Computer Software", value: "COMPUTER_SOFTWARE" },
      { label: "Financial Services", value: "FINANCIAL_SERVICES" },
      { label: "Food & Beverages", value: "FOOD_BEVERAGES" }
    ]
  },
  { name: "numberofemployees", type: "number" },
  { name: "annualrevenue", type: "number" },
  { name: "country", type: "string" },
  { name: "hs_num_child_companies", type: "number", calculated: true }
])

describe("fitting firmographics to HubSpot's property definitions", () => {
  it("an enumeration takes the option whose value or label matches, ignoring case, punctuation and space", () => {
    for (const [given, written] of [
      ["COMPUTER_SOFTWARE", "COMPUTER_SOFTWARE"],
      ["Computer Software", "COMPUTER_SOFTWARE"],
      ["computer-software", "COMPUTER_SOFTWARE"],
      ["financial_services", "FINANCIAL_SERVICES"],
      ["Food and Beverages", undefined],
      ["food & beverages", "FOOD_BEVERAGES"],
      ["Software", undefined],
      ["Fintech", undefined]
    ] as const) {
      const { properties, omitted } = adapt("companies", companies, { industry: given })
      expect(properties.industry).toBe(written)
      expect(omitted).toEqual(
        written === undefined
          ? [{ property: "industry", reason: `"${given}" is not an option of companies.industry` }]
          : []
      )
    }
  })

  it("two options matching alike is a guess: left out", () => {
    const twins = toDefinitions([
      {
        name: "industry",
        type: "enumeration",
        options: [
          { label: "E-Commerce", value: "E_COMMERCE" },
          { label: "ECommerce", value: "ECOMMERCE_2" }
        ]
      }
    ])
    expect(adapt("companies", twins, { industry: "ecommerce" }).properties).toEqual({})
  })

  it("numbers only when numeric; text as is; unknown and read-only properties left out; unset values ignored", () => {
    const result = adapt("companies", companies, {
      numberofemployees: 250,
      annualrevenue: "about 5M",
      country: "US",
      numemployees: "100-500",
      hs_num_child_companies: 3,
      industry: undefined
    })
    expect(result.properties).toEqual({ numberofemployees: "250", country: "US" })
    expect(result.omitted).toEqual([
      { property: "annualrevenue", reason: '"about 5M" is not a number (companies.annualrevenue)' },
      { property: "numemployees", reason: "companies.numemployees does not exist" },
      { property: "hs_num_child_companies", reason: "companies.hs_num_child_companies is read-only" }
    ])
    // as HubSpot takes numbers: plain digits, no exponent, no surrounding space
    expect(adapt("companies", companies, { annualrevenue: " 50000000 " }).properties).toEqual({
      annualrevenue: "50000000"
    })
    expect(adapt("companies", companies, { annualrevenue: 1e21 }).omitted).toEqual([
      { property: "annualrevenue", reason: '"1e+21" is not a number (companies.annualrevenue)' }
    ])
  })

  it("an enumeration whose options live elsewhere (externalOptions) is written as given: HubSpot alone can check it", () => {
    const deals = toDefinitions([{ name: "dealstage", type: "enumeration", options: [], externalOptions: true }])
    expect(adapt("deals", deals, { dealstage: "qualifiedtobuy" })).toEqual({
      properties: { dealstage: "qualifiedtobuy" },
      omitted: []
    })
  })
})

describe("the definitions cache", () => {
  it.effect("reads each object type once, again after the TTL or when forgotten; a failed read is not kept", () =>
    Effect.gen(function* () {
      const reads = yield* Ref.make<Array<string>>([])
      const failNext = yield* Ref.make(false)
      const cache = yield* makeDefinitionsCache(
        (type) =>
          Effect.flatMap(Ref.getAndSet(failNext, false), (fail) =>
            fail
              ? Effect.fail("HTTP 503" as const)
              : Effect.as(
                  Ref.update(reads, (r) => [...r, type]),
                  companies
                )
          ),
        "5 minutes"
      )
      expect(yield* cache.get("companies")).toEqual({ definitions: companies, readNow: true })
      // kept: the caller is told they were not read for it (a refusal under them may mean they changed)
      expect(yield* cache.get("companies")).toEqual({ definitions: companies, readNow: false })
      yield* cache.get("contacts")
      expect(yield* Ref.get(reads)).toEqual(["companies", "contacts"])

      yield* TestClock.adjust("4 minutes")
      yield* cache.get("companies")
      expect(yield* Ref.get(reads)).toHaveLength(2)
      yield* TestClock.adjust("2 minutes")
      yield* cache.get("companies")
      expect(yield* Ref.get(reads)).toEqual(["companies", "contacts", "companies"])

      yield* cache.forget("companies")
      yield* Ref.set(failNext, true)
      expect(yield* Effect.flip(cache.get("companies"))).toBe("HTTP 503")
      yield* cache.get("companies")
      expect(yield* Ref.get(reads)).toEqual(["companies", "contacts", "companies", "companies"])
    })
  )

  it.effect("a read that began before a forget does not put back what the forget dropped", () =>
    Effect.gen(function* () {
      const reads = yield* Ref.make(0)
      const gate = yield* Deferred.make<void>()
      const cache = yield* makeDefinitionsCache(
        () =>
          Effect.zipRight(
            Deferred.await(gate),
            Effect.as(
              Ref.update(reads, (n) => n + 1),
              companies
            )
          ),
        "5 minutes"
      )
      const inFlight = yield* Effect.fork(cache.get("companies"))
      yield* Effect.yieldNow()
      yield* cache.forget("companies")
      yield* Deferred.succeed(gate, undefined)
      expect((yield* Fiber.join(inFlight)).readNow).toBe(true)
      // not kept: the next use reads again
      expect((yield* cache.get("companies")).readNow).toBe(true)
      expect(yield* Ref.get(reads)).toBe(2)
    })
  )
})
