import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { call, email, ref, setup } from "./support.js"

describe("the calls an action is counted for (HubSpot's burst limit counts calls)", () => {
  it.scopedLive("a contact-only tool is one call, as the README says: one fits in the window's last call", () =>
    Effect.gen(function* () {
      const { fake, crm } = yield* setup({}, { burstLimit: 3, burstIntervalMs: 60_000 })
      const contactOnly = [
        call({ tool: "upsert_lead", params: { ...ref, campaignId: "spring-2025" } }),
        call({ tool: "create_lead", params: { ...ref, campaignId: "spring-2025" } }),
        call({ tool: "update_lead_status", params: { ...ref, status: "Working" } }),
        call({ tool: "set_lead_score", params: { ...ref, score: 82, intent: "High Fit", decision: "Route to SDR" } })
      ]
      expect(contactOnly.map((action) => crm.callCost!(action))).toEqual([1, 1, 1, 1])
      expect(crm.callCost!(call({ tool: "match_account", params: { ...ref, domain: "acme.com" } }))).toBe(2)
      // three calls in the window: after two, HubSpot says one remains, and a contact-only tool takes one
      yield* crm.execute(contactOnly[0]!)
      yield* crm.execute(contactOnly[1]!)
      yield* crm.admit!(contactOnly[2]!)
      yield* crm.execute(contactOnly[2]!)
      expect(fake.requests).toHaveLength(3)
      expect(fake.throttled()).toBe(0)
    })
  )

  it.scopedLive("an action that made more calls than it reserved takes nothing from later actions", () =>
    Effect.gen(function* () {
      const { fake, crm } = yield* setup({}, { burstLimit: 6, burstIntervalMs: 60_000 })
      // the lead's email is another contact's secondary one: its upsert is refused 409 naming that contact, which is
      // updated by id instead, so the sync makes 3 calls (definitions, upsert, update) where it reserved 2
      const at = new Date().toISOString()
      fake.records.contacts = [
        {
          id: "501",
          properties: { email: "jane@acme-old.com", hs_additional_emails: email },
          createdAt: at,
          updatedAt: at
        }
      ]
      const sync = call({ tool: "sync_firmographics", params: { ...ref, industry: "Software" } })
      expect(crm.callCost!(sync)).toBe(2)
      expect(yield* crm.execute(sync)).toMatchObject({ crmId: "501" })
      expect(fake.requests).toHaveLength(3)
      // HubSpot says 3 calls remain: a note's 3 fit, for nothing this process promised is still outstanding
      const note = call({ tool: "log_activity", params: { ...ref, subject: "Scored 82", description: "Fit: high" } })
      yield* crm.admit!(note)
      yield* crm.execute(note)
      expect(fake.requests).toHaveLength(6)
      expect(fake.throttled()).toBe(0)
    })
  )
})
