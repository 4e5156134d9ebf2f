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
  ["executive", /\b(chief|c[eftoimr]o|ciso|founder|owner|president|vp|svp|evp|partner)\b/i],
  ["director", /\b(director|head)\b/i],
  ["manager", /\b(manager|lead|principal)\b/i]
]

/** The seniority a title suggests; "unknown" when there is no title. */
export const titleSeniority = (title: string | undefined): TitleSeniority => {
  if (title === undefined || title.trim() === "") return "unknown"
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

/** Lead fields whose values stay out of grounding reasons (reasons are stored and may be logged). */
const personalFieldPaths: ReadonlySet<string> = new Set(["email", "firstName", "lastName", "phone"])

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

const describe = (value: unknown): string => {
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
  const personal = (source === "MARKETING" || source === "PRODUCT") && personalFieldPaths.has(fieldPath)
  return personal
    ? `${label}: claimed value does not match the ${source} data`
    : `${label}: claimed ${describe(evidence.value)} but ${source} data has ${describe(actual)}`
}

const decisionRank: Readonly<Record<Decision, number>> = { Ignore: 0, Nurture: 1, "Route to SDR": 2 }

/** High Fit must rest on more than firmographics: a verified behaviour claim or a pipeline-computed fact. */
const hasBehaviouralSupport = (evidence: ReadonlyArray<Evidence>): boolean =>
  evidence.some((e) => e.claimType === "BEHAVIOR" || e.source === "COMPUTED")

/**
 * Checks every claim of an analysis against the data the pipeline holds. Any failed claim, or no claims at all
 * (except a "Manual Review" analysis, which decides nothing), REJECTS; a High Fit resting on firmographics alone
 * is DOWNGRADED to Medium Fit (score at most 70, decision at most Nurture).
 */
export const ground = (analysis: Analysis, context: GroundingContext): Grounding => {
  if (analysis.evidence.length === 0) {
    return analysis.intent === "Manual Review"
      ? { outcome: "VALID", reasons: ["no claims"], analysis }
      : { outcome: "REJECTED", reasons: [`no evidence: a ${analysis.intent} analysis must cite its claims`], analysis }
  }
  const failures = analysis.evidence.flatMap((evidence, index) => checkClaim(evidence, index, context) ?? [])
  if (failures.length > 0) return { outcome: "REJECTED", reasons: failures, analysis }
  if (analysis.intent === "High Fit" && !hasBehaviouralSupport(analysis.evidence)) {
    const decision: Decision = decisionRank[analysis.decision] > decisionRank.Nurture ? "Nurture" : analysis.decision
    return {
      outcome: "DOWNGRADED",
      reasons: ["High Fit without verified BEHAVIOR or COMPUTED evidence: downgraded to Medium Fit"],
      analysis: { ...analysis, intent: "Medium Fit", fitScore: Math.min(analysis.fitScore, 70), decision }
    }
  }
  return { outcome: "VALID", reasons: [], analysis }
}
