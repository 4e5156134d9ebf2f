import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import {
  type Analysis,
  type ClaimType,
  type Decision,
  type Evidence,
  EvidenceSource,
  type EvidenceValue,
  type Grounding
} from "./analysis.js"
import { type Enrichment, isFreeMailDomain } from "./enrichment.js"
import { type Activity, accountDomain, emailDomain, type LeadInput } from "./lead.js"

/** The data an analysis is checked against: only what the pipeline itself holds about the lead. */
export interface GroundingContext {
  readonly lead: LeadInput
  readonly enrichment: Option.Option<Enrichment>
  /** The lead's CRM record, when the pipeline has fetched one; CRM claims fail without it. */
  readonly crm?: Readonly<Record<string, unknown>>
  /** Facts the pipeline derives itself (see computedFacts); the only target of COMPUTED claims. */
  readonly computed: Readonly<Record<string, unknown>>
}

/** How senior a job title reads; coarse on purpose, it only nudges a score. */
export type TitleSeniority = "executive" | "director" | "manager" | "individual" | "unknown"

/** Facts the pipeline computes from the lead and its enrichment; COMPUTED evidence cites these by key. */
export type ComputedFacts = {
  readonly emailDomain: string
  readonly accountDomain: string
  readonly isFreeMail: boolean
  readonly hasEnrichment: boolean
  readonly hasActivity: boolean
  readonly activityScore: number
  readonly titleSeniority: TitleSeniority
}

const capped = (count: number | undefined, points: number, max: number): number => Math.min((count ?? 0) * points, max)

/** A 0-100 engagement score from the lead's reported activity; integer, so claims about it match exactly. */
export const activityScore = (activity: Activity | undefined): number => {
  if (activity === undefined) return 0
  const score =
    capped(activity.pageViews, 1, 15) +
    capped(activity.emailOpens, 1, 5) +
    capped(activity.emailClicks, 2, 10) +
    capped(activity.formSubmissions, 5, 10) +
    capped(activity.pricingPageVisits, 5, 20) +
    (activity.demoRequested === true ? 25 : 0) +
    (activity.trialSignup === true ? 15 : 0) +
    capped(activity.productLogins, 2, 10)
  return Math.min(score, 100)
}

const seniorityPatterns: ReadonlyArray<readonly [TitleSeniority, RegExp]> = [
  [
    "executive",
    // "owner" and "partner" as ranks, not as the product owner or a partner-marketing team
    /\b(chief|c[eftoimr]o|ciso|founder|president|vp|svp|evp|(?<!product\s)owner|partner(?!\s+(marketing|manager|success|sales|channel|account|program|relations|development|solutions|enablement|specialist|associate)))\b/i
  ],
  ["director", /\b(director|head)\b/i],
  ["manager", /\b(manager|lead|principal)\b/i]
]

/** A title that is not the person's rank: a past one ("Former CEO", "ex-CTO"), or assisting one ("Assistant to the CEO"). */
const notTheirRank = /^\s*(former|ex[-\s]|retired|past)|\b(assistant|associate)\s+to\b|\bexecutive\s+assistant\b/i

/** The seniority a title suggests; "unknown" when there is no title. */
export const titleSeniority = (title: string | undefined): TitleSeniority => {
  if (title === undefined || title.trim() === "") return "unknown"
  if (notTheirRank.test(title)) return "individual"
  return seniorityPatterns.find(([, pattern]) => pattern.test(title))?.[0] ?? "individual"
}

/** Facts the pipeline computes itself, so that analysers can cite them as COMPUTED evidence. */
export const computedFacts = (lead: LeadInput, enrichment: Option.Option<Enrichment>): ComputedFacts => {
  const domain = emailDomain(lead.email)
  const engagement = activityScore(lead.activity)
  return {
    emailDomain: domain,
    accountDomain: accountDomain(lead),
    isFreeMail: isFreeMailDomain(domain),
    hasEnrichment: Option.isSome(enrichment),
    hasActivity: engagement > 0,
    activityScore: engagement,
    titleSeniority: titleSeniority(lead.title)
  }
}

/**
 * Which sources may back each claim type. SCORE accepts every source because a score is derived from
 * firmographic, behavioural and computed inputs alike; the value is still verified against that source's data.
 */
export const allowedSources: Readonly<Record<ClaimType, ReadonlyArray<EvidenceSource>>> = {
  FIRMOGRAPHIC: ["ENRICHMENT"],
  BEHAVIOR: ["MARKETING", "PRODUCT"],
  PIPELINE: ["CRM", "COMPUTED"],
  SCORE: ["COMPUTED", "ENRICHMENT", "MARKETING", "PRODUCT", "CRM"]
}

/** PRODUCT evidence must point at product usage; anything else the lead reports is MARKETING data. */
export const productFieldPaths: ReadonlySet<string> = new Set(["activity.productLogins", "activity.trialSignup"])

/**
 * Lead fields whose values stay out of grounding reasons (reasons are stored and may be logged), even a count or a
 * flag; no other text the lead sent is quoted either (see checkClaim).
 */
export const personalFieldPaths: ReadonlySet<string> = new Set(["email", "firstName", "lastName", "phone"])

const isEvidenceSource = Schema.is(EvidenceSource)

/** Numbers are equal when they differ by less than this, relative to their size (floats from JSON/LLMs). */
const EPSILON = 1e-9

const scalarMatches = (claimed: unknown, actual: unknown): boolean => {
  if (typeof claimed === "number" && typeof actual === "number") {
    return Math.abs(claimed - actual) <= EPSILON * Math.max(1, Math.abs(claimed), Math.abs(actual))
  }
  if (typeof claimed === "string" && typeof actual === "string") {
    return claimed.trim().toLowerCase() === actual.trim().toLowerCase()
  }
  if (typeof claimed === "boolean" || claimed === null) return claimed === actual
  return false
}

/** Compares a claimed value with held data: numbers within epsilon, strings case/space-insensitive, lists as sets. */
export const valuesMatch = (claimed: EvidenceValue, actual: unknown): boolean => {
  if (Array.isArray(claimed) || Array.isArray(actual)) {
    if (!Array.isArray(claimed) || !Array.isArray(actual)) return false
    const held: ReadonlyArray<unknown> = actual
    return (
      claimed.every((c) => held.some((a) => scalarMatches(c, a))) &&
      held.every((a) => claimed.some((c) => scalarMatches(c, a)))
    )
  }
  return scalarMatches(claimed, actual)
}

const hasOwn = (target: object, key: string): boolean =>
  Array.isArray(target) ? /^\d+$/.test(key) && Object.hasOwn(target, key) : Object.hasOwn(target, key)

const resolveSegments = (target: unknown, segments: ReadonlyArray<string>): unknown => {
  if (segments.length === 0) return target
  if (target === null || typeof target !== "object") return undefined
  // Attribute keys may contain dots ("demo.hallucinate"), so try the longest own key first, then shorter ones.
  for (let take = segments.length; take >= 1; take--) {
    const key = segments.slice(0, take).join(".")
    if (!hasOwn(target, key)) continue
    const found = resolveSegments((target as Record<string, unknown>)[key], segments.slice(take))
    if (found !== undefined) return found
  }
  return undefined
}

/** The value at a dot path, following own properties only (no prototype keys); undefined when absent. */
export const resolvePath = (target: unknown, path: string): unknown =>
  path.trim() === "" ? undefined : resolveSegments(target, path.split("."))

/** A value as reasons and CRM descriptions quote it: JSON, at most 80 characters. */
export const describe = (value: unknown): string => {
  const text = JSON.stringify(value) ?? String(value)
  return text.length > 80 ? `${text.slice(0, 77)}...` : text
}

const sourceData = (source: EvidenceSource, context: GroundingContext): unknown =>
  source === "ENRICHMENT"
    ? Option.getOrUndefined(context.enrichment)
    : source === "CRM"
      ? context.crm
      : source === "COMPUTED"
        ? context.computed
        : context.lead

const missingData: Partial<Record<EvidenceSource, string>> = {
  ENRICHMENT: "the lead has no enrichment data",
  CRM: "the pipeline holds no CRM data for this lead"
}

/** A value of the lead's own data a reason may quote: a count, a flag or nothing; never text the lead sent. */
const quotable = (value: unknown): boolean => value === null || typeof value === "number" || typeof value === "boolean"

/** What kind of value a reason names instead of quoting it: "a text of 12 characters", "a list of 3", "a number". */
const kindOf = (value: unknown): string =>
  typeof value === "string"
    ? `a text of ${value.length} character${value.length === 1 ? "" : "s"}`
    : Array.isArray(value)
      ? `a list of ${value.length}`
      : value === null
        ? "null"
        : typeof value === "object"
          ? "an object"
          : `a ${typeof value}`

/** Why one claim fails, or undefined when the data the pipeline holds supports it. */
const checkClaim = (evidence: Evidence, index: number, context: GroundingContext): string | undefined => {
  const { claimType, fieldPath, source } = evidence
  // JSON-quoted so a model-supplied path cannot forge line breaks or quotes in stored reasons.
  const label = `evidence[${index}] ${claimType} claim on ${JSON.stringify(fieldPath)}`
  if (!isEvidenceSource(source)) return `${label}: unknown source ${describe(source)}`
  const allowed = allowedSources[claimType]
  if (allowed === undefined) return `${label}: unknown claim type`
  if (!allowed.includes(source)) return `${label}: ${claimType} claims must cite ${allowed.join(" or ")}, not ${source}`
  if (source === "PRODUCT" && !productFieldPaths.has(fieldPath)) {
    return `${label}: PRODUCT evidence must cite product usage (${[...productFieldPaths].join(", ")})`
  }
  const data = sourceData(source, context)
  if (data === undefined) return `${label}: cites ${source} but ${missingData[source]}`
  const actual = resolvePath(data, fieldPath)
  if (actual === undefined) return `${label}: ${source} data has no field ${JSON.stringify(fieldPath)}`
  if (valuesMatch(evidence.value, actual)) return undefined
  if (source === "MARKETING" || source === "PRODUCT") {
    // The lead's own data: its counts and flags are quoted, never text it sent (company, website, title, utm*,
    // attribute text, names...), nor a claim of text about it, which may quote it too.
    return personalFieldPaths.has(fieldPath) || !quotable(evidence.value) || !quotable(actual)
      ? `${label}: claimed value does not match the ${source} data (${kindOf(evidence.value)} claimed, ${kindOf(actual)} held; the lead's own values are not quoted)`
      : `${label}: claimed ${describe(evidence.value)} but ${source} data has ${describe(actual)}`
  }
  return `${label}: claimed ${describe(evidence.value)} but ${source} data has ${describe(actual)}`
}

const decisionRank: Readonly<Record<Decision, number>> = { Ignore: 0, Nurture: 1, "Route to SDR": 2 }

/** Facts the pipeline computes about engagement: COMPUTED evidence that the lead engaged cites one of these. */
const engagementFacts: ReadonlySet<string> = new Set(["hasActivity", "activityScore"])

/** A value that says something happened: true, a count above zero, a non-blank text (a date, a source). */
const positive = (value: unknown): boolean =>
  value === true || (typeof value === "number" && value > 0) || (typeof value === "string" && value.trim() !== "")

/**
 * A verified claim that the lead engaged: a BEHAVIOR claim (MARKETING or PRODUCT data) whose value says something
 * happened, or the pipeline's own engagement facts when positive. `hasActivity: false` is evidence of the opposite,
 * and a computed title seniority or enrichment flag is no behaviour at all.
 */
const showsEngagement = (evidence: Evidence): boolean =>
  evidence.source === "COMPUTED"
    ? engagementFacts.has(evidence.fieldPath) && positive(evidence.value)
    : evidence.claimType === "BEHAVIOR" && positive(evidence.value)

/** The fit score above which an analysis claims a strong fit, as High Fit does (and the heuristic's 75). */
const STRONG_SCORE = 70

/** Ignore < Nurture < Route to SDR. */
const lowerDecision = (a: Decision, b: Decision): Decision => (decisionRank[a] <= decisionRank[b] ? a : b)

/**
 * Checks every claim of an analysis against the data the pipeline holds, then the decision against the claims. Any
 * failed claim, or no claims at all (except a "Manual Review" analysis, which decides nothing), REJECTS. An analysis
 * that routes the lead to a sales rep, calls it High Fit or scores it above 70 must rest on verified engagement (a
 * behaviour that happened, or the pipeline's positive activity facts): without it, it is DOWNGRADED to at most
 * Medium Fit, a score of at most 70 and Nurture — firmographics alone, or a fact saying there was no activity, do not
 * send a lead to a rep. A Low Fit is never routed to a rep either (at most Nurture).
 */
export const ground = (analysis: Analysis, context: GroundingContext): Grounding => {
  if (analysis.evidence.length === 0) {
    return analysis.intent === "Manual Review"
      ? { outcome: "VALID", reasons: ["no claims"], analysis }
      : { outcome: "REJECTED", reasons: [`no evidence: a ${analysis.intent} analysis must cite its claims`], analysis }
  }
  const failures = analysis.evidence.flatMap((evidence, index) => checkClaim(evidence, index, context) ?? [])
  if (failures.length > 0) return { outcome: "REJECTED", reasons: failures, analysis }
  const claimsStrong =
    analysis.intent === "High Fit" || analysis.decision === "Route to SDR" || analysis.fitScore > STRONG_SCORE
  if (claimsStrong && !analysis.evidence.some(showsEngagement)) {
    return {
      outcome: "DOWNGRADED",
      reasons: [
        `${analysis.intent}, ${analysis.decision}, score ${Math.round(analysis.fitScore)} without verified engagement ` +
          "(a BEHAVIOR that happened, or a positive computed activity fact): downgraded to at most Medium Fit, " +
          `score ${STRONG_SCORE}, Nurture`
      ],
      analysis: {
        ...analysis,
        intent: analysis.intent === "High Fit" ? "Medium Fit" : analysis.intent,
        fitScore: Math.min(analysis.fitScore, STRONG_SCORE),
        decision: lowerDecision(analysis.decision, "Nurture")
      }
    }
  }
  if (analysis.intent === "Low Fit" && analysis.decision === "Route to SDR") {
    return {
      outcome: "DOWNGRADED",
      reasons: ["a Low Fit is not routed to a sales rep: decision lowered to Nurture"],
      analysis: { ...analysis, decision: "Nurture" }
    }
  }
  return { outcome: "VALID", reasons: [], analysis }
}
