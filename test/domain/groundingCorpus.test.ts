import { describe, expect, it } from "@effect/vitest"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { type Analysis, type Evidence, Grounding, type GroundingOutcome } from "../../src/domain/analysis.js"
import type { Enrichment } from "../../src/domain/enrichment.js"
import { computedFacts, type GroundingContext, ground } from "../../src/domain/grounding.js"
import type { LeadInput } from "../../src/domain/lead.js"

// A corpus of analyser outputs, as a model might produce them, each with the verdict grounding must reach.

const contoso: Enrichment = {
  domain: "contoso.com",
  name: "Contoso Financial",
  industry: "Financial Services",
  employees: 3100,
  annualRevenue: 780_000_000,
  country: "DE",
  technologies: ["Salesforce", "Azure"]
}

const corporateLead: LeadInput = {
  email: "mara.voss@contoso.com",
  campaignId: "q3-webinar",
  title: "Director of Operations",
  utmSource: "LinkedIn",
  activity: { pageViews: 9, pricingPageVisits: 3, demoRequested: true, trialSignup: false, productLogins: 4 },
  attributes: { plan: "enterprise", "lead.tier": 2 }
}

const freeMailLead: LeadInput = { email: "sam.okafor@gmail.com", campaignId: "newsletter" }

const contexts = {
  full: {
    lead: corporateLead,
    enrichment: Option.some(contoso),
    computed: computedFacts(corporateLead, Option.some(contoso))
  },
  withCrm: {
    lead: corporateLead,
    enrichment: Option.some(contoso),
    crm: { lead: { status: "Working", ownerId: "005XYZ", score: 55 }, openOpportunities: 1 },
    computed: computedFacts(corporateLead, Option.some(contoso))
  },
  freeMail: {
    lead: freeMailLead,
    enrichment: Option.none(),
    computed: computedFacts(freeMailLead, Option.none())
  }
} satisfies Record<string, GroundingContext>

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

const high = { intent: "High Fit", fitScore: 88, decision: "Route to SDR" } as const
const low = { intent: "Low Fit", fitScore: 20, decision: "Ignore" } as const

const industry = ev("FIRMOGRAPHIC", "ENRICHMENT", "industry", "Financial Services")
const demo = ev("BEHAVIOR", "MARKETING", "activity.demoRequested", true)

interface Case {
  readonly name: string
  readonly context: keyof typeof contexts
  readonly evidence: ReadonlyArray<Evidence>
  readonly analysis?: Partial<Analysis>
  readonly outcome: GroundingOutcome
  /** Text every reason-bearing verdict must mention (the failing field path, usually). */
  readonly reason?: string
  /** For DOWNGRADED: the analysis after downgrading. */
  readonly downgradedTo?: Pick<Analysis, "intent" | "fitScore" | "decision">
}

const corpus: ReadonlyArray<Case> = [
  // VALID
  { name: "exact industry", context: "full", evidence: [industry], outcome: "VALID" },
  {
    name: "industry in other case and spacing",
    context: "full",
    evidence: [ev("FIRMOGRAPHIC", "ENRICHMENT", "industry", "  financial SERVICES ")],
    outcome: "VALID"
  },
  {
    name: "employee count",
    context: "full",
    evidence: [ev("FIRMOGRAPHIC", "ENRICHMENT", "employees", 3100)],
    outcome: "VALID"
  },
  {
    name: "revenue with float noise",
    context: "full",
    evidence: [ev("FIRMOGRAPHIC", "ENRICHMENT", "annualRevenue", 780_000_000.0001)],
    outcome: "VALID"
  },
  {
    name: "technologies in another order",
    context: "full",
    evidence: [ev("FIRMOGRAPHIC", "ENRICHMENT", "technologies", ["azure", "Salesforce"])],
    outcome: "VALID"
  },
  { name: "demo request", context: "full", evidence: [demo], outcome: "VALID" },
  {
    name: "marketing and product behaviour",
    context: "full",
    evidence: [
      ev("BEHAVIOR", "MARKETING", "activity.pageViews", 9),
      ev("BEHAVIOR", "PRODUCT", "activity.productLogins", 4),
      ev("BEHAVIOR", "PRODUCT", "activity.trialSignup", false)
    ],
    outcome: "VALID"
  },
  {
    name: "utm source any case",
    context: "full",
    evidence: [ev("BEHAVIOR", "MARKETING", "utmSource", "linkedin")],
    outcome: "VALID"
  },
  {
    name: "attributes, including a dotted key",
    context: "full",
    evidence: [
      ev("BEHAVIOR", "MARKETING", "attributes.plan", "Enterprise"),
      ev("BEHAVIOR", "MARKETING", "attributes.lead.tier", 2)
    ],
    outcome: "VALID"
  },
  {
    name: "CRM facts when the CRM record is held",
    context: "withCrm",
    evidence: [ev("PIPELINE", "CRM", "lead.status", "working"), ev("PIPELINE", "CRM", "openOpportunities", 1)],
    outcome: "VALID"
  },
  {
    name: "computed pipeline fact",
    context: "full",
    evidence: [ev("PIPELINE", "COMPUTED", "isFreeMail", false)],
    outcome: "VALID"
  },
  {
    name: "computed activity score",
    context: "full",
    evidence: [ev("SCORE", "COMPUTED", "activityScore", 57)],
    outcome: "VALID"
  },
  {
    name: "score explained by enrichment",
    context: "full",
    evidence: [ev("SCORE", "ENRICHMENT", "employees", 3100)],
    outcome: "VALID"
  },
  {
    name: "High Fit with firmographics and behaviour",
    context: "full",
    evidence: [industry, demo],
    analysis: high,
    outcome: "VALID"
  },
  {
    name: "High Fit with a positive computed activity fact",
    context: "full",
    evidence: [industry, ev("SCORE", "COMPUTED", "activityScore", 57)],
    analysis: high,
    outcome: "VALID"
  },
  {
    name: "High Fit whose only computed fact is a title seniority: no engagement",
    context: "full",
    evidence: [industry, ev("SCORE", "COMPUTED", "titleSeniority", "director")],
    analysis: high,
    outcome: "DOWNGRADED",
    downgradedTo: { intent: "Medium Fit", fitScore: 70, decision: "Nurture" }
  },
  {
    name: "Manual Review without claims",
    context: "full",
    evidence: [],
    analysis: { intent: "Manual Review" },
    outcome: "VALID",
    reason: "no claims"
  },
  { name: "Low Fit on firmographics alone", context: "full", evidence: [industry], analysis: low, outcome: "VALID" },
  {
    name: "free-mail lead citing only computed facts",
    context: "freeMail",
    evidence: [ev("PIPELINE", "COMPUTED", "isFreeMail", true), ev("PIPELINE", "COMPUTED", "hasEnrichment", false)],
    analysis: low,
    outcome: "VALID"
  },
  // DOWNGRADED
  {
    name: "High Fit on firmographics alone",
    context: "full",
    evidence: [industry, ev("FIRMOGRAPHIC", "ENRICHMENT", "employees", 3100)],
    analysis: { ...high, fitScore: 95 },
    outcome: "DOWNGRADED",
    reason: "High Fit",
    downgradedTo: { intent: "Medium Fit", fitScore: 70, decision: "Nurture" }
  },
  {
    name: "High Fit on firmographics and CRM status",
    context: "withCrm",
    evidence: [industry, ev("PIPELINE", "CRM", "lead.status", "Working")],
    analysis: high,
    outcome: "DOWNGRADED",
    downgradedTo: { intent: "Medium Fit", fitScore: 70, decision: "Nurture" }
  },
  {
    name: "High Fit scored below 70 keeps its score",
    context: "full",
    evidence: [industry],
    analysis: { intent: "High Fit", fitScore: 66, decision: "Nurture" },
    outcome: "DOWNGRADED",
    downgradedTo: { intent: "Medium Fit", fitScore: 66, decision: "Nurture" }
  },
  {
    name: "High Fit that already ignores keeps Ignore",
    context: "full",
    evidence: [industry],
    analysis: { intent: "High Fit", fitScore: 80, decision: "Ignore" },
    outcome: "DOWNGRADED",
    downgradedTo: { intent: "Medium Fit", fitScore: 70, decision: "Ignore" }
  },
  // REJECTED
  {
    name: "hallucinated industry",
    context: "full",
    evidence: [ev("FIRMOGRAPHIC", "ENRICHMENT", "industry", "Software"), demo],
    analysis: high,
    outcome: "REJECTED",
    reason: '"industry": claimed "Software" but ENRICHMENT data has "Financial Services"'
  },
  {
    name: "invented source",
    context: "full",
    evidence: [ev("FIRMOGRAPHIC", "LINKEDIN", "employees", 3100)],
    outcome: "REJECTED",
    reason: 'unknown source "LINKEDIN"'
  },
  {
    name: "source in the wrong case",
    context: "full",
    evidence: [ev("FIRMOGRAPHIC", "enrichment", "employees", 3100)],
    outcome: "REJECTED",
    reason: "unknown source"
  },
  {
    name: "inflated employee count",
    context: "full",
    evidence: [ev("FIRMOGRAPHIC", "ENRICHMENT", "employees", 3200)],
    outcome: "REJECTED",
    reason: '"employees"'
  },
  {
    name: "revenue off by one percent",
    context: "full",
    evidence: [ev("FIRMOGRAPHIC", "ENRICHMENT", "annualRevenue", 787_800_000)],
    outcome: "REJECTED",
    reason: '"annualRevenue"'
  },
  {
    name: "number given as text",
    context: "full",
    evidence: [ev("FIRMOGRAPHIC", "ENRICHMENT", "employees", "3100")],
    outcome: "REJECTED",
    reason: '"employees"'
  },
  { name: "empty evidence", context: "full", evidence: [], outcome: "REJECTED", reason: "no evidence" },
  {
    name: "High Fit with empty evidence",
    context: "full",
    evidence: [],
    analysis: high,
    outcome: "REJECTED",
    reason: "no evidence"
  },
  {
    name: "unknown enrichment field",
    context: "full",
    evidence: [ev("FIRMOGRAPHIC", "ENRICHMENT", "revenue", 780_000_000)],
    outcome: "REJECTED",
    reason: 'no field "revenue"'
  },
  {
    name: "unknown activity field",
    context: "full",
    evidence: [ev("BEHAVIOR", "MARKETING", "activity.webinarsAttended", 2)],
    outcome: "REJECTED",
    reason: '"activity.webinarsAttended"'
  },
  {
    name: "prototype member as path",
    context: "full",
    evidence: [ev("FIRMOGRAPHIC", "ENRICHMENT", "constructor", "Object")],
    outcome: "REJECTED",
    reason: '"constructor"'
  },
  {
    name: "CRM evidence without CRM data",
    context: "full",
    evidence: [ev("PIPELINE", "CRM", "lead.status", "Working")],
    outcome: "REJECTED",
    reason: "no CRM data"
  },
  {
    name: "firmographics for an unenriched lead",
    context: "freeMail",
    evidence: [ev("FIRMOGRAPHIC", "ENRICHMENT", "industry", "Software")],
    outcome: "REJECTED",
    reason: "no enrichment data"
  },
  {
    name: "behaviour claimed from enrichment",
    context: "full",
    evidence: [ev("BEHAVIOR", "ENRICHMENT", "employees", 3100)],
    outcome: "REJECTED",
    reason: "BEHAVIOR claims must cite MARKETING or PRODUCT"
  },
  {
    name: "firmographics claimed as computed",
    context: "full",
    evidence: [ev("FIRMOGRAPHIC", "COMPUTED", "accountDomain", "contoso.com")],
    outcome: "REJECTED",
    reason: "FIRMOGRAPHIC claims must cite ENRICHMENT, not COMPUTED"
  },
  {
    name: "product source for marketing data",
    context: "full",
    evidence: [ev("BEHAVIOR", "PRODUCT", "activity.pricingPageVisits", 3)],
    outcome: "REJECTED",
    reason: "product usage"
  },
  {
    name: "technologies subset",
    context: "full",
    evidence: [ev("FIRMOGRAPHIC", "ENRICHMENT", "technologies", ["Salesforce"])],
    outcome: "REJECTED",
    reason: '"technologies"'
  },
  {
    name: "boolean flipped",
    context: "full",
    evidence: [ev("BEHAVIOR", "PRODUCT", "activity.trialSignup", true)],
    outcome: "REJECTED",
    reason: '"activity.trialSignup"'
  },
  {
    name: "valid mix spoiled by one wrong claim",
    context: "full",
    evidence: [industry, demo, ev("BEHAVIOR", "MARKETING", "activity.pageViews", 90)],
    outcome: "REJECTED",
    reason: "evidence[2]"
  },
  {
    name: "High Fit whose only behaviour claim is wrong is rejected, not downgraded",
    context: "full",
    evidence: [industry, ev("BEHAVIOR", "MARKETING", "activity.pricingPageVisits", 12)],
    analysis: high,
    outcome: "REJECTED",
    reason: '"activity.pricingPageVisits"'
  },
  {
    name: "computed fact that is not computed",
    context: "full",
    evidence: [ev("SCORE", "COMPUTED", "fitScore", 88)],
    outcome: "REJECTED",
    reason: '"fitScore"'
  },
  {
    name: "score from CRM without CRM data",
    context: "freeMail",
    evidence: [ev("SCORE", "CRM", "lead.score", 55)],
    outcome: "REJECTED",
    reason: "no CRM data"
  },
  {
    name: "path to an object, not a value",
    context: "full",
    evidence: [ev("BEHAVIOR", "MARKETING", "activity", 9)],
    outcome: "REJECTED",
    reason: '"activity"'
  }
]

const toAnalysis = (testCase: Case): Analysis => ({
  fitScore: 55,
  intent: "Medium Fit",
  decision: "Nurture",
  reasoning: testCase.name,
  evidence: testCase.evidence,
  ...testCase.analysis
})

describe("grounding corpus", () => {
  it("holds at least 30 cases covering every outcome", () => {
    expect(corpus.length).toBeGreaterThanOrEqual(30)
    expect(new Set(corpus.map((c) => c.outcome))).toEqual(new Set(["VALID", "DOWNGRADED", "REJECTED"]))
  })

  it.each(corpus)("$outcome: $name", (testCase) => {
    const analysis = toAnalysis(testCase)
    const result = ground(analysis, contexts[testCase.context])
    expect(Schema.is(Grounding)(result)).toBe(true)
    expect(result.outcome).toBe(testCase.outcome)
    if (testCase.reason !== undefined) expect(result.reasons.join("\n")).toContain(testCase.reason)
    if (testCase.outcome === "REJECTED") {
      expect(result.reasons.length).toBeGreaterThan(0)
      expect(result.analysis).toEqual(analysis)
    }
    if (testCase.outcome === "DOWNGRADED") {
      expect(result.analysis).toEqual({ ...analysis, ...testCase.downgradedTo })
    }
    if (testCase.outcome === "VALID") expect(result.analysis).toEqual(analysis)
  })
})
