import { describe, expect, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import type { Grounding } from "../../src/domain/analysis.js"
import { guardAction } from "../../src/domain/guard.js"
import type { LeadInput } from "../../src/domain/lead.js"
import { leadKey } from "../../src/domain/leadKey.js"
import { crmDomain, planActions } from "../../src/domain/plan.js"
import type { LeadRecord } from "../../src/domain/record.js"

const grounding: Grounding = {
  outcome: "VALID",
  reasons: [],
  analysis: { fitScore: 40, intent: "Low Fit", decision: "Nurture", reasoning: "", evidence: [] }
}

/** The firmographics sync planned for a lead with this website, and whether the guard lets every action through. */
const planFor = (website: string) => {
  const input: LeadInput = { email: "ada@globex.com", campaignId: "spring", website }
  const lead: LeadRecord = {
    id: "0b6a7a52-7d5e-4d62-9a8e-5e2b3c9d1f02",
    leadKey: leadKey(input.email, input.campaignId),
    source: "api",
    status: "PROCESSING",
    input,
    createdAt: new Date("2026-12-01T10:00:00Z"),
    updatedAt: new Date("2026-12-01T10:00:00Z")
  }
  const actions = planActions(lead, grounding, Option.some({ domain: "globex.com", name: "Globex", employees: 250 }))
  const sync = actions.find((a) => a.tool === "sync_firmographics")
  return {
    domain: sync?.params && "domain" in sync.params ? sync.params.domain : undefined,
    refused: actions.filter((a) => Either.isLeft(guardAction(a.tool, a.params))).map((a) => a.tool)
  }
}

describe("the domain a firmographics sync carries (a website is written by hand)", () => {
  it.each([
    ["https://www.acme.com./pricing", "acme.com"],
    ["ACME.COM..", "acme.com"],
    ["https://münchen.de/", "xn--mnchen-3ya.de"],
    ["http://Bücher.example.", "xn--bcher-kva.example"],
    ["https://пример.рф/", "xn--e1afmkfd.xn--p1ai"],
    ["globex.com", "globex.com"]
  ])("%s: normalised to %s, which the guard accepts", (website, domain) => {
    expect(planFor(website)).toEqual({ domain, refused: [] })
  })

  it.each(["http://192.168.0.1/contact", "10.0.0.1", "https://acme_corp.com", "http://-acme.com", "https://acme.123"])(
    "%s: no DNS name, so the sync goes to the contact alone (no domain), and the guard refuses nothing",
    (website) => {
      expect(planFor(website)).toEqual({ domain: undefined, refused: [] })
    }
  )

  it("crmDomain keeps a DNS name as it is and refuses what the guard would", () => {
    expect(crmDomain("acme.com")).toBe("acme.com")
    expect(crmDomain("sub.acme.co.uk.")).toBe("sub.acme.co.uk")
    expect(crmDomain("xn--mnchen-3ya.de")).toBe("xn--mnchen-3ya.de")
    expect(crmDomain("m%C3%BCnchen.de")).toBe("xn--mnchen-3ya.de")
    expect(crmDomain("0x7f.1")).toBeUndefined()
    expect(crmDomain("ac me.com")).toBeUndefined()
    expect(crmDomain("a..b.com")).toBeUndefined()
    expect(crmDomain("")).toBeUndefined()
  })
})
