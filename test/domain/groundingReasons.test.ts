import { describe, expect, it } from "@effect/vitest"
import * as Option from "effect/Option"
import type { Analysis, Evidence } from "../../src/domain/analysis.js"
import { computedFacts, ground } from "../../src/domain/grounding.js"
import type { LeadInput } from "../../src/domain/lead.js"

/** What the lead itself sent: none of its text may be quoted by a reason (reasons are logged, stored and listed). */
const lead: LeadInput = {
  email: "grace@globex.com",
  campaignId: "spring-launch",
  company: "Grace Hopper Consulting",
  website: "https://admin:pw@grace-hopper.example",
  title: "Chief Grace Officer",
  utmTerm: "Grace Hopper",
  activity: { pageViews: 12, demoRequested: true, productLogins: 3 },
  attributes: { mobile: "415 555 0100", note: "ask for Grace", score: 7 }
}

const ev = (claimType: Evidence["claimType"], source: string, fieldPath: string, value: Evidence["value"]): Evidence =>
  ({ claimType, source, fieldPath, value }) as Evidence

const analysis = (evidence: ReadonlyArray<Evidence>): Analysis => ({
  fitScore: 60,
  intent: "Medium Fit",
  decision: "Nurture",
  reasoning: "test",
  evidence
})

const reasonsFor = (evidence: ReadonlyArray<Evidence>) =>
  ground(analysis(evidence), {
    lead,
    enrichment: Option.none(),
    computed: computedFacts(lead, Option.none())
  }).reasons

describe("grounding reasons never quote the lead's own text", () => {
  it("names the field and that the value differs, for every MARKETING text field and attribute", () => {
    const reasons = reasonsFor([
      ev("SCORE", "MARKETING", "company", "Globex"),
      ev("SCORE", "MARKETING", "website", "https://globex.com"),
      ev("SCORE", "MARKETING", "title", "CEO"),
      ev("SCORE", "MARKETING", "utmTerm", "crm"),
      ev("SCORE", "MARKETING", "attributes.mobile", "1"),
      ev("SCORE", "MARKETING", "attributes.note", "ask for Ada"),
      ev("SCORE", "MARKETING", "attributes", "x")
    ])
    expect(reasons).toHaveLength(7)
    expect(reasons[0]).toBe(
      'evidence[0] SCORE claim on "company": claimed value does not match the MARKETING data (a text of 6 characters ' +
        "claimed, a text of 23 characters held; the lead's own values are not quoted)"
    )
    expect(reasons[6]).toContain("an object held")
    for (const reason of reasons) {
      for (const quoted of ["Grace", "Hopper", "pw@", "555", "Ada", "Globex", "CEO", "crm"]) {
        expect(reason, reason).not.toContain(quoted)
      }
    }
  })

  it("still quotes counts and flags, which say what differs", () => {
    expect(reasonsFor([ev("BEHAVIOR", "MARKETING", "activity.pageViews", 40)])).toEqual([
      'evidence[0] BEHAVIOR claim on "activity.pageViews": claimed 40 but MARKETING data has 12'
    ])
    expect(reasonsFor([ev("BEHAVIOR", "PRODUCT", "activity.productLogins", 9)])).toEqual([
      'evidence[0] BEHAVIOR claim on "activity.productLogins": claimed 9 but PRODUCT data has 3'
    ])
  })
})
