import { describe, expect, it } from "@effect/vitest"
import { crmTierLimit, tiersFor } from "../../src/domain/rateTiers.js"

describe("rate-limit tiers", () => {
  const limits = { perLead: 10, perAccount: 100, crm: 1000, windowMs: 60_000 }
  const lead = {
    leadKey: "k".repeat(64),
    input: { email: "a@globex.com", campaignId: "c", website: "https://www.acme.com/x" }
  }

  it("has a tier per lead, per account domain (website host before email domain) and per CRM", () => {
    expect(tiersFor(lead, "salesforce", limits)).toEqual([
      { name: "lead", key: `lead:${"k".repeat(64)}`, limit: 10, windowMs: 60_000 },
      { name: "account", key: "account:acme.com", limit: 100, windowMs: 60_000 },
      { name: "crm", key: "crm:salesforce", limit: 1000, windowMs: 60_000, cost: 1 }
    ])
  })

  it("the CRM-wide tiers take one permit per HTTP call of the action; lead and account one per action", () => {
    const tiers = tiersFor(lead, "hubspot", limits, undefined, { cost: 5, window: { limit: 100, intervalMs: 10_000 } })
    expect(tiers.map((t) => [t.name, "cost" in t ? t.cost : 1, t.limit, t.windowMs])).toEqual([
      ["lead", 1, 10, 60_000],
      ["account", 1, 100, 60_000],
      ["crm", 5, 1000, 60_000],
      ["crm_interval", 5, 100, 10_000]
    ])
    expect(tiers[3]?.key).toBe("crm-interval:hubspot")
    // a cost above a limit is cut to it, or the action could never run
    const tight = tiersFor(lead, "hubspot", { ...limits, crm: 3 }, undefined, {
      cost: 5,
      window: { limit: 4, intervalMs: 1 }
    })
    expect(tight.map((t) => ("cost" in t ? t.cost : 1))).toEqual([1, 1, 3, 4])
  })

  it("keeps the CRM-wide limit while the CRM's quota has room", () => {
    expect(crmTierLimit(1000, undefined)).toBe(1000)
    expect(crmTierLimit(1000, { used: 500, limit: 15_000 })).toBe(1000)
    expect(crmTierLimit(1000, { used: 13_500, limit: 15_000 })).toBe(1000)
  })

  it("tightens as the CRM reports its quota nearly spent, never below 1", () => {
    expect(crmTierLimit(1000, { used: 14_250, limit: 15_000 })).toBe(500)
    expect(crmTierLimit(1000, { used: 14_925, limit: 15_000 })).toBe(50)
    expect(crmTierLimit(1000, { used: 15_000, limit: 15_000 })).toBe(1)
    expect(crmTierLimit(1000, { used: 16_000, limit: 15_000 })).toBe(1)
    expect(tiersFor(lead, "hubspot", limits, { used: 95, limit: 100 })[2]?.limit).toBe(500)
  })
})
