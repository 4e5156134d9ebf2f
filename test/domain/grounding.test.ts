import { describe, expect, it } from "@effect/vitest"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { type Analysis, type Evidence, Grounding } from "../../src/domain/analysis.js"
import type { Enrichment } from "../../src/domain/enrichment.js"
import {
  activityScore,
  computedFacts,
  type GroundingContext,
  ground,
  resolvePath,
  titleSeniority,
  valuesMatch
} from "../../src/domain/grounding.js"
import type { LeadInput } from "../../src/domain/lead.js"

const company: Enrichment = {
  domain: "globex.com",
  name: "Globex Corporation",
  industry: "Software",
  employees: 1800,
  annualRevenue: 420_000_000,
  country: "US",
  technologies: ["HubSpot", "AWS"]
}

const lead: LeadInput = {
  email: "hank.scorpio@globex.com",
  campaignId: "spring-launch",
  firstName: "Hank",
  phone: "+1 555 0100",
  title: "VP Engineering",
  utmSource: "linkedin",
  activity: { pageViews: 12, pricingPageVisits: 2, demoRequested: true, productLogins: 3 },
  attributes: { "demo.hallucinate": false, plan: "enterprise" }
}

const context = (overrides: Partial<GroundingContext> = {}): GroundingContext => ({
  lead,
  enrichment: Option.some(company),
  computed: computedFacts(lead, Option.some(company)),
  ...overrides
})

const ev = (
  claimType: Evidence["claimType"],
  source: string,
  fieldPath: string,
  value: Evidence["value"]
): Evidence => ({
  claimType,
  source,
  fieldPath,
  value
})

const analysis = (evidence: ReadonlyArray<Evidence>, overrides: Partial<Analysis> = {}): Analysis => ({
  fitScore: 60,
  intent: "Medium Fit",
  decision: "Nurture",
  reasoning: "test",
  evidence,
  ...overrides
})

describe("valuesMatch", () => {
  it("compares numbers within a tiny relative epsilon, and nothing wider", () => {
    expect(valuesMatch(0.1 + 0.2, 0.3)).toBe(true)
    expect(valuesMatch(420_000_000, 420_000_000.0001)).toBe(true)
    expect(valuesMatch(1800, 1801)).toBe(false)
    expect(valuesMatch(0, 0.001)).toBe(false)
  })
  it("compares strings trimmed and case-insensitively", () => {
    expect(valuesMatch("  software ", "Software")).toBe(true)
    expect(valuesMatch("Software", "Softwares")).toBe(false)
  })
  it("compares lists as sets", () => {
    expect(valuesMatch(["aws", "HubSpot"], ["HubSpot", "AWS"])).toBe(true)
    expect(valuesMatch(["AWS", "AWS", "hubspot"], ["HubSpot", "AWS"])).toBe(true)
    expect(valuesMatch(["AWS"], ["HubSpot", "AWS"])).toBe(false)
    expect(valuesMatch(["AWS", "GCP"], ["AWS"])).toBe(false)
    expect(valuesMatch("AWS", ["AWS"])).toBe(false)
  })
  it("never coerces between types", () => {
    expect(valuesMatch(true, true)).toBe(true)
    expect(valuesMatch(true, "true")).toBe(false)
    expect(valuesMatch("1800", 1800)).toBe(false)
    expect(valuesMatch(1, true)).toBe(false)
    expect(valuesMatch(null, null)).toBe(true)
    expect(valuesMatch(null, 0)).toBe(false)
    expect(valuesMatch("Software", { industry: "Software" })).toBe(false)
  })
})

describe("resolvePath", () => {
  it("follows dot paths, including attribute keys that contain dots", () => {
    expect(resolvePath(lead, "activity.pageViews")).toBe(12)
    expect(resolvePath(lead, "attributes.demo.hallucinate")).toBe(false)
    expect(resolvePath(company, "technologies.1")).toBe("AWS")
  })
  it("never reaches prototype members or array internals", () => {
    for (const path of ["constructor", "__proto__", "toString", "email.length", "technologies.length", "a..b", ""]) {
      expect(resolvePath({ ...lead, technologies: ["x"] }, path)).toBeUndefined()
    }
  })
})

describe("computedFacts", () => {
  it("derives domain, enrichment and engagement facts", () => {
    expect(computedFacts(lead, Option.some(company))).toEqual({
      emailDomain: "globex.com",
      accountDomain: "globex.com",
      isFreeMail: false,
      hasEnrichment: true,
      hasActivity: true,
      activityScore: 12 + 10 + 25 + 6,
      titleSeniority: "executive"
    })
  })
  it("marks a free-mail lead with no activity", () => {
    const freeMail: LeadInput = { email: "someone@gmail.com", campaignId: "c", website: "https://www.Acme.com/about" }
    expect(computedFacts(freeMail, Option.none())).toMatchObject({
      emailDomain: "gmail.com",
      accountDomain: "acme.com",
      isFreeMail: true,
      hasEnrichment: false,
      hasActivity: false,
      activityScore: 0,
      titleSeniority: "unknown"
    })
  })
  it("caps the activity score at 100 and reads seniority from titles", () => {
    expect(
      activityScore({
        pageViews: 999,
        pricingPageVisits: 99,
        demoRequested: true,
        trialSignup: true,
        emailClicks: 50,
        formSubmissions: 9,
        productLogins: 40
      })
    ).toBe(100)
    expect(titleSeniority("Chief Revenue Officer")).toBe("executive")
    expect(titleSeniority("CTO")).toBe("executive")
    expect(titleSeniority("Head of Growth")).toBe("director")
    expect(titleSeniority("Engineering Manager")).toBe("manager")
    expect(titleSeniority("Accountant")).toBe("individual")
    // ranks, not words that look like them
    expect(titleSeniority("Managing Partner")).toBe("executive")
    expect(titleSeniority("Business Owner")).toBe("executive")
    for (const title of [
      "Former CEO",
      "ex-CTO",
      "Retired VP Sales",
      "Assistant to the CEO",
      "Executive Assistant",
      "Product Owner",
      "Partner Marketing Associate"
    ]) {
      expect(titleSeniority(title), title).toBe("individual")
    }
  })
})

describe("ground", () => {
  it("accepts claims that match the data of their source", () => {
    const result = ground(
      analysis([
        ev("FIRMOGRAPHIC", "ENRICHMENT", "industry", "software"),
        ev("BEHAVIOR", "MARKETING", "activity.demoRequested", true),
        ev("BEHAVIOR", "PRODUCT", "activity.productLogins", 3),
        ev("PIPELINE", "COMPUTED", "accountDomain", "globex.com"),
        ev("SCORE", "ENRICHMENT", "employees", 1800)
      ]),
      context()
    )
    expect(result).toEqual({ outcome: "VALID", reasons: [], analysis: result.analysis })
    expect(Schema.is(Grounding)(result)).toBe(true)
  })

  it("rejects with one reason per failed claim, naming its field path, and keeps the analysis as given", () => {
    const input = analysis([
      ev("FIRMOGRAPHIC", "ENRICHMENT", "industry", "Retail"),
      ev("BEHAVIOR", "MARKETING", "activity.pageViews", 12),
      ev("BEHAVIOR", "MARKETING", "activity.webinarsAttended", 4),
      ev("FIRMOGRAPHIC", "CLEARBIT", "employees", 1800)
    ])
    const result = ground(input, context())
    expect(result.outcome).toBe("REJECTED")
    expect(result.analysis).toBe(input)
    expect(result.reasons).toEqual([
      'evidence[0] FIRMOGRAPHIC claim on "industry": claimed "Retail" but ENRICHMENT data has "Software"',
      'evidence[2] BEHAVIOR claim on "activity.webinarsAttended": MARKETING data has no field "activity.webinarsAttended"',
      'evidence[3] FIRMOGRAPHIC claim on "employees": unknown source "CLEARBIT"'
    ])
  })

  it("rejects a claim type backed by the wrong source", () => {
    const result = ground(analysis([ev("FIRMOGRAPHIC", "MARKETING", "country", "US")]), context())
    expect(result.reasons).toEqual([
      'evidence[0] FIRMOGRAPHIC claim on "country": FIRMOGRAPHIC claims must cite ENRICHMENT, not MARKETING'
    ])
  })

  it("rejects PRODUCT evidence that is not product usage", () => {
    const result = ground(analysis([ev("BEHAVIOR", "PRODUCT", "activity.pageViews", 12)]), context())
    expect(result.outcome).toBe("REJECTED")
    expect(result.reasons[0]).toContain("PRODUCT evidence must cite product usage")
  })

  it("fails enrichment and CRM claims when that data is missing", () => {
    const result = ground(
      analysis([ev("FIRMOGRAPHIC", "ENRICHMENT", "industry", "Software"), ev("PIPELINE", "CRM", "status", "Open")]),
      context({ enrichment: Option.none() })
    )
    expect(result.reasons).toEqual([
      'evidence[0] FIRMOGRAPHIC claim on "industry": cites ENRICHMENT but the lead has no enrichment data',
      'evidence[1] PIPELINE claim on "status": cites CRM but the pipeline holds no CRM data for this lead'
    ])
    const withCrm = ground(
      analysis([ev("PIPELINE", "CRM", "lead.status", "open")]),
      context({ crm: { lead: { status: "Open" } } })
    )
    expect(withCrm.outcome).toBe("VALID")
  })

  it("keeps personal lead values out of reasons", () => {
    const result = ground(analysis([ev("BEHAVIOR", "MARKETING", "email", "other@globex.com")]), context())
    expect(result.outcome).toBe("REJECTED")
    expect(result.reasons.join(" ")).not.toContain("hank")
    expect(result.reasons[0]).toContain('"email"')
  })

  it("rejects empty evidence, except a Manual Review which claims nothing", () => {
    expect(ground(analysis([]), context())).toMatchObject({ outcome: "REJECTED" })
    expect(ground(analysis([], { intent: "Manual Review", fitScore: 0 }), context())).toMatchObject({
      outcome: "VALID",
      reasons: ["no claims"]
    })
  })

  it("downgrades a High Fit that rests on firmographics alone", () => {
    const input = analysis([ev("FIRMOGRAPHIC", "ENRICHMENT", "employees", 1800)], {
      intent: "High Fit",
      fitScore: 92,
      decision: "Route to SDR"
    })
    const result = ground(input, context())
    expect(result.outcome).toBe("DOWNGRADED")
    expect(result.reasons).toHaveLength(1)
    expect(result.analysis).toEqual({ ...input, intent: "Medium Fit", fitScore: 70, decision: "Nurture" })
    const lowScore = ground({ ...input, fitScore: 64, decision: "Ignore" }, context())
    expect(lowScore.analysis).toMatchObject({ intent: "Medium Fit", fitScore: 64, decision: "Ignore" })
  })

  it("a lead is routed to a rep, called High Fit or scored above 70 only on verified engagement", () => {
    const firm = ev("FIRMOGRAPHIC", "ENRICHMENT", "employees", 1800)
    const { activity: _activity, ...idle } = lead
    const idleContext = context({ lead: idle, computed: computedFacts(idle, Option.some(company)) })
    // a computed fact saying there was NO activity is no support
    const noActivity = ev("PIPELINE", "COMPUTED", "hasActivity", false)
    const high = { intent: "High Fit", fitScore: 95, decision: "Route to SDR" } as const
    const claimed = ground(analysis([firm, noActivity], high), idleContext)
    expect(claimed.outcome).toBe("DOWNGRADED")
    expect(claimed.analysis).toMatchObject({ intent: "Medium Fit", fitScore: 70, decision: "Nurture" })
    // a Medium Fit scored 100 and routed to a rep on firmographics alone
    const medium = ground(
      analysis([firm], { intent: "Medium Fit", fitScore: 100, decision: "Route to SDR" }),
      context()
    )
    expect(medium.outcome).toBe("DOWNGRADED")
    expect(medium.analysis).toMatchObject({ intent: "Medium Fit", fitScore: 70, decision: "Nurture" })
    // a Low Fit routed to a rep: not, even with engagement
    const demo = ev("BEHAVIOR", "MARKETING", "activity.demoRequested", true)
    const low = ground(analysis([firm, demo], { intent: "Low Fit", fitScore: 3, decision: "Route to SDR" }), context())
    expect(low.outcome).toBe("DOWNGRADED")
    expect(low.analysis).toMatchObject({ intent: "Low Fit", fitScore: 3, decision: "Nurture" })
    // the same claims with a behaviour that happened stand
    expect(ground(analysis([firm, demo], high), context()).outcome).toBe("VALID")
  })

  it("keeps a High Fit backed by verified behaviour or a computed fact", () => {
    const high = { intent: "High Fit", fitScore: 90, decision: "Route to SDR" } as const
    const firm = ev("FIRMOGRAPHIC", "ENRICHMENT", "employees", 1800)
    expect(
      ground(analysis([firm, ev("BEHAVIOR", "MARKETING", "utmSource", "LinkedIn")], high), context()).outcome
    ).toBe("VALID")
    expect(ground(analysis([firm, ev("SCORE", "COMPUTED", "activityScore", 53)], high), context()).outcome).toBe(
      "VALID"
    )
  })
})
