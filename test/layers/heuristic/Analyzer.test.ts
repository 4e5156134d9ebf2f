import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as FastCheck from "effect/FastCheck"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { Analysis } from "../../../src/domain/analysis.js"
import { computedFacts, ground } from "../../../src/domain/grounding.js"
import { Activity, accountDomain, type LeadInput } from "../../../src/domain/lead.js"
import { heuristicAnalysis } from "../../../layers/heuristic/Analyzer.js"
import * as HeuristicAnalyzer from "../../../layers/heuristic/Analyzer.js"
import { companies } from "../../../layers/mock/companies.js"
import * as MockEnricher from "../../../layers/mock/Enricher.js"
import { Analyzer } from "../../../services/Analyzer.js"
import { Enricher } from "../../../services/Enricher.js"

/** Enrich, analyse and ground one lead the way the consumer does. */
const run = (lead: LeadInput) =>
  Effect.gen(function* () {
    const enrichment = yield* (yield* Enricher).enrich(accountDomain(lead))
    const analysis = yield* (yield* Analyzer).analyze({ leadId: "lead-1", lead, enrichment })
    const grounding = ground(analysis, { lead, enrichment, computed: computedFacts(lead, enrichment) })
    return { enrichment, analysis, grounding }
  })

const profiles: ReadonlyArray<Pick<LeadInput, "title" | "activity">> = [
  {},
  { title: "Analyst", activity: { emailOpens: 2 } },
  { title: "Head of Marketing", activity: { pageViews: 8, pricingPageVisits: 1, formSubmissions: 1 } },
  {
    title: "Chief Technology Officer",
    activity: { pageViews: 30, pricingPageVisits: 4, demoRequested: true, trialSignup: true, productLogins: 6 }
  }
]

const leadAt = (domain: string, profile: Pick<LeadInput, "title" | "activity">, index = 0): LeadInput => ({
  email: `buyer${index}@${domain}`,
  campaignId: "spring-launch",
  ...profile
})

describe("heuristic Analyzer", () => {
  it.layer(Layer.merge(HeuristicAnalyzer.layer, MockEnricher.layer))((it) => {
    it.effect("grounds VALID for every mock company under every activity profile", () =>
      Effect.gen(function* () {
        const intents = new Set<string>()
        for (const company of companies) {
          for (const [index, profile] of profiles.entries()) {
            const { analysis, enrichment, grounding } = yield* run(leadAt(company.domain, profile, index))
            expect(Option.isSome(enrichment)).toBe(true)
            expect(Schema.is(Analysis)(analysis)).toBe(true)
            expect({ domain: company.domain, index, grounding: grounding.outcome, reasons: grounding.reasons }).toEqual(
              {
                domain: company.domain,
                index,
                grounding: "VALID",
                reasons: []
              }
            )
            intents.add(`${analysis.intent} -> ${analysis.decision}`)
          }
        }
        expect(intents).toEqual(new Set(["High Fit -> Route to SDR", "Medium Fit -> Nurture", "Low Fit -> Ignore"]))
      })
    )

    it.effect("routes an engaged executive at a large target company to an SDR", () =>
      Effect.gen(function* () {
        const { analysis, grounding } = yield* run(leadAt("globex.com", profiles[3]!))
        expect(grounding.outcome).toBe("VALID")
        expect(analysis).toMatchObject({ intent: "High Fit", decision: "Route to SDR" })
        expect(analysis.fitScore).toBeGreaterThanOrEqual(75)
        expect(analysis.reasoning).toContain("requested a demo")
        expect(analysis.evidence).toContainEqual({
          claimType: "BEHAVIOR",
          source: "MARKETING",
          fieldPath: "activity.demoRequested",
          value: true
        })
      })
    )

    it.effect("ignores a free-mail lead with no activity, even one naming a known company website", () =>
      Effect.gen(function* () {
        for (const lead of [
          { email: "sam.okafor@gmail.com", campaignId: "newsletter" },
          { email: "ceo.fan@yahoo.com", campaignId: "newsletter", title: "CEO", website: "https://www.hooli.com" }
        ] satisfies ReadonlyArray<LeadInput>) {
          const { analysis, grounding } = yield* run(lead)
          expect(grounding).toMatchObject({ outcome: "VALID", reasons: [] })
          expect(analysis).toMatchObject({ intent: "Low Fit", decision: "Ignore" })
          expect(analysis.evidence).toContainEqual({
            claimType: "PIPELINE",
            source: "COMPUTED",
            fieldPath: "isFreeMail",
            value: true
          })
        }
      })
    )

    it.effect("the demo.hallucinate hook cites a wrong industry, which grounding rejects", () =>
      Effect.gen(function* () {
        for (const domain of ["contoso.com", "globex.com", "gmail.com"]) {
          const lead = { ...leadAt(domain, profiles[3]!), attributes: { "demo.hallucinate": true } }
          const { grounding } = yield* run(lead)
          expect(grounding.outcome).toBe("REJECTED")
          expect(grounding.reasons).toHaveLength(1)
          expect(grounding.reasons[0]).toContain('"industry"')
        }
        const notHallucinating = { ...leadAt("contoso.com", profiles[3]!), attributes: { "demo.hallucinate": "yes" } }
        expect((yield* run(notHallucinating)).grounding.outcome).toBe("VALID")
      })
    )

    it.effect("is deterministic: the same lead always gets the same analysis", () =>
      Effect.gen(function* () {
        const lead = leadAt("cloudlytics.io", profiles[2]!)
        const first = yield* run(lead)
        const second = yield* run(structuredClone(lead))
        expect(second.analysis).toEqual(first.analysis)
      })
    )
  })

  it.prop(
    "any activity, title and company grounds VALID and is never downgraded",
    {
      activity: Activity,
      company: FastCheck.option(FastCheck.constantFrom(...companies), { nil: undefined }),
      title: FastCheck.option(FastCheck.constantFrom("CEO", "VP Sales", "Director of IT", "Team Lead", "Intern"), {
        nil: undefined
      }),
      freeMail: FastCheck.boolean()
    },
    ({ activity, company, freeMail, title }) => {
      const lead: LeadInput = {
        email: freeMail ? "someone@gmail.com" : `someone@${company?.domain ?? "unknown.example"}`,
        campaignId: "c",
        activity,
        ...(title === undefined ? {} : { title }),
        ...(freeMail && company !== undefined ? { website: company.domain } : {})
      }
      const enrichment = Option.fromNullable(company)
      const analysis = heuristicAnalysis({ leadId: "l", lead, enrichment })
      expect(heuristicAnalysis({ leadId: "l", lead, enrichment })).toEqual(analysis)
      const grounding = ground(analysis, { lead, enrichment, computed: computedFacts(lead, enrichment) })
      expect(grounding.reasons).toEqual([])
      expect(grounding.outcome).toBe("VALID")
      const expectedIntent = analysis.fitScore >= 75 ? "High Fit" : analysis.fitScore >= 45 ? "Medium Fit" : "Low Fit"
      expect(analysis.intent).toBe(expectedIntent)
    },
    { fastCheck: { numRuns: 300 } }
  )
})
