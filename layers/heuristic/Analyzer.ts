import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type { Analysis, ClaimType, Decision, Evidence, EvidenceValue, Intent } from "../../src/domain/analysis.js"
import type { Enrichment } from "../../src/domain/enrichment.js"
import { computedFacts, type TitleSeniority } from "../../src/domain/grounding.js"
import type { Activity } from "../../src/domain/lead.js"
import { withSpanWhenTraced } from "../../src/domain/spans.js"
import { type AnalysisInput, Analyzer } from "../../services/Analyzer.js"

/** Lead attribute that makes the heuristic cite a wrong industry on purpose (see heuristicAnalysis). */
export const hallucinateAttribute = "demo.hallucinate"

const targetIndustries = ["software", "saas", "fintech", "financial services", "technology", "internet", "analytics"]
const targetCountries = new Set(["us", "usa", "united states", "gb", "uk", "united kingdom", "ca", "canada", "de"])
const seniorityPoints: Readonly<Record<TitleSeniority, number>> = {
  executive: 10,
  director: 8,
  manager: 5,
  individual: 2,
  unknown: 0
}

const isTargetIndustry = (industry: string): boolean =>
  targetIndustries.some((target) => industry.toLowerCase().includes(target))

const employeePoints = (employees: number): number =>
  employees >= 1000 ? 20 : employees >= 200 ? 15 : employees >= 50 ? 10 : employees >= 10 ? 5 : 0

const revenuePoints = (revenue: number): number =>
  revenue >= 100_000_000 ? 10 : revenue >= 10_000_000 ? 6 : revenue >= 1_000_000 ? 3 : 0

/** An industry that is certainly not the company's: the deliberate hallucination. */
const wrongIndustry = (actual: string | undefined): string =>
  actual?.toLowerCase() === "financial services" ? "Aerospace & Defense" : "Financial Services"

const claim = (claimType: ClaimType, source: string, fieldPath: string, value: EvidenceValue): Evidence => ({
  claimType,
  source,
  fieldPath,
  value
})

/** Activity fields cited as behaviour when non-zero / true; product usage is PRODUCT, the rest MARKETING. */
const activityFields: ReadonlyArray<readonly [keyof Activity, "MARKETING" | "PRODUCT", string]> = [
  ["demoRequested", "MARKETING", "requested a demo"],
  ["trialSignup", "PRODUCT", "signed up for a trial"],
  ["pricingPageVisits", "MARKETING", "pricing page visits"],
  ["formSubmissions", "MARKETING", "form submissions"],
  ["pageViews", "MARKETING", "page views"],
  ["emailClicks", "MARKETING", "email clicks"],
  ["emailOpens", "MARKETING", "email opens"],
  ["productLogins", "PRODUCT", "product logins"]
]

const firmographics = (company: Enrichment, hallucinate: boolean) => {
  const evidence: Array<Evidence> = []
  const notes: Array<string> = []
  let points = 0
  if (company.employees !== undefined) {
    points += employeePoints(company.employees)
    evidence.push(claim("FIRMOGRAPHIC", "ENRICHMENT", "employees", company.employees))
    notes.push(`${company.employees} employees`)
  }
  const industry = hallucinate ? wrongIndustry(company.industry) : company.industry
  if (industry !== undefined) {
    const target = hallucinate || isTargetIndustry(industry)
    points += target ? 10 : 0
    evidence.push(claim("FIRMOGRAPHIC", "ENRICHMENT", "industry", industry))
    notes.push(target ? `${industry} (target industry)` : industry)
  }
  if (company.annualRevenue !== undefined) {
    points += revenuePoints(company.annualRevenue)
    evidence.push(claim("FIRMOGRAPHIC", "ENRICHMENT", "annualRevenue", company.annualRevenue))
    notes.push(`revenue $${(company.annualRevenue / 1_000_000).toFixed(1)}M`)
  }
  if (company.country !== undefined) {
    const target = targetCountries.has(company.country.trim().toLowerCase())
    points += target ? 5 : 0
    evidence.push(claim("FIRMOGRAPHIC", "ENRICHMENT", "country", company.country))
    notes.push(target ? `${company.country} (target market)` : company.country)
  }
  return { points, evidence, notes }
}

const behaviour = (activity: Activity | undefined) => {
  const evidence: Array<Evidence> = []
  const notes: Array<string> = []
  for (const [field, source, label] of activityFields) {
    const value = activity?.[field]
    if (value === true) notes.push(label)
    else if (typeof value === "number" && value > 0) notes.push(`${value} ${label}`)
    else continue
    evidence.push(claim("BEHAVIOR", source, `activity.${field}`, value))
  }
  return { evidence, notes }
}

const intentFor = (score: number): Intent => (score >= 75 ? "High Fit" : score >= 45 ? "Medium Fit" : "Low Fit")
const decisionFor: Readonly<Record<Intent, Decision>> = {
  "High Fit": "Route to SDR",
  "Medium Fit": "Nurture",
  "Low Fit": "Ignore",
  "Manual Review": "Nurture"
}

/**
 * Scores a lead from firmographics (max 45), behaviour (max 45) and title seniority (max 10), citing only data it
 * holds, so its analyses ground VALID. A High Fit needs at least 20 behaviour points, so it always cites behaviour.
 *
 * Demo hook: a lead whose attributes hold `"demo.hallucinate": true` gets a deliberately wrong industry claim (and
 * the target-industry points it would earn), so the demo can show grounding REJECT a hallucinating analyser.
 */
export const heuristicAnalysis = ({ enrichment, lead }: AnalysisInput): Analysis => {
  const facts = computedFacts(lead, enrichment)
  const hallucinate = lead.attributes?.[hallucinateAttribute] === true
  const firm = Option.match(enrichment, {
    onNone: () =>
      hallucinate
        ? {
            points: 10,
            evidence: [claim("FIRMOGRAPHIC", "ENRICHMENT", "industry", wrongIndustry(undefined))],
            notes: []
          }
        : { points: 0, evidence: [], notes: [] },
    onSome: (company) => firmographics(company, hallucinate)
  })
  const acts = behaviour(lead.activity)
  const behaviourPoints = Math.round(facts.activityScore * 0.45)
  const titlePoints = seniorityPoints[facts.titleSeniority]
  let score = Math.min(100, firm.points + behaviourPoints + titlePoints)

  const evidence: Array<Evidence> = [
    ...firm.evidence,
    ...acts.evidence,
    claim("PIPELINE", "COMPUTED", "hasEnrichment", facts.hasEnrichment)
  ]
  if (facts.activityScore > 0) evidence.push(claim("SCORE", "COMPUTED", "activityScore", facts.activityScore))
  if (facts.titleSeniority !== "unknown") {
    evidence.push(claim("SCORE", "COMPUTED", "titleSeniority", facts.titleSeniority))
  }
  const freeMailNoActivity = facts.isFreeMail && !facts.hasActivity
  if (freeMailNoActivity) {
    // A personal address with no engagement says nothing about a buying company, whatever the website field claims.
    score = Math.min(score, 20)
    evidence.push(
      claim("PIPELINE", "COMPUTED", "isFreeMail", true),
      claim("PIPELINE", "COMPUTED", "hasActivity", false)
    )
  }

  const intent = intentFor(score)
  const decision = decisionFor[intent]
  const reasoning = [
    `Fit ${score}/100 (${intent}).`,
    firm.notes.length > 0 ? `Firmographics: ${firm.notes.join(", ")}.` : "No company data.",
    acts.notes.length > 0
      ? `Behaviour: ${acts.notes.join(", ")} (activity score ${facts.activityScore}).`
      : "No recorded activity.",
    facts.titleSeniority !== "unknown" ? `Title seniority: ${facts.titleSeniority}.` : "",
    freeMailNoActivity ? "Free-mail address with no activity." : "",
    `Decision: ${decision}.`
  ]
    .filter((part) => part !== "")
    .join(" ")
  return { fitScore: score, intent, decision, reasoning, evidence }
}

/** The deterministic heuristic analyser: same lead and enrichment, same analysis; never fails. */
export const layer: Layer.Layer<Analyzer> = Layer.succeed(
  Analyzer,
  Analyzer.of({
    analyze: (input) =>
      Effect.sync(() => heuristicAnalysis(input)).pipe(
        withSpanWhenTraced("Analyzer.heuristic", { captureStackTrace: false })
      )
  })
)
