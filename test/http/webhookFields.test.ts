import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { LeadStore } from "../../services/LeadStore.js"
import { hubspotSignatureV3 } from "../../src/domain/webhooks/hubspotSignature.js"
import { memoryEnv } from "../support/env.js"
import { expectProblem, servings, storedLeads, withApi } from "./harness.js"

/**
 * A webhook's sender does not retry a refusal (HubSpot no 4xx but 429, Marketo nothing): a lead refused for an
 * optional field its users typed freely would be lost. It is accepted without that field, the answer naming it.
 */
describe.each(servings)("webhook leads with optional fields that fail their checks (%s)", (_name, served) => {
  const secret = "hs-app-secret-5d1c"
  const publicUrl = "https://hooks.revenueflow.example/webhooks/hubspot"
  const token = "mk-token-7f3a"
  const env = () =>
    memoryEnv({ env: { HUBSPOT_APP_SECRET: secret, HUBSPOT_WEBHOOK_URL: publicUrl, MARKETO_WEBHOOK_TOKEN: token } })

  const signedHeaders = (body: string) => {
    const timestamp = String(Date.now())
    return {
      "content-type": "application/json",
      "x-hubspot-signature-v3": hubspotSignatureV3({ secret, method: "POST", uri: publicUrl, body, timestamp }),
      "x-hubspot-request-timestamp": timestamp
    }
  }
  const contact = (properties: Record<string, string>) =>
    JSON.stringify({
      objectId: 5151,
      portalId: 62515,
      properties: Object.fromEntries(Object.entries(properties).map(([name, value]) => [name, { value }]))
    })

  it.live("HubSpot: accepted without them (202), each named with its problem; the rest of the lead is kept", () =>
    withApi(
      env(),
      (api) =>
        Effect.gen(function* () {
          const body = contact({
            email: "grace@globex.com",
            firstname: "G".repeat(81),
            lastname: "Hopper",
            phone: "+1 555 123 4567 ext. 89",
            hs_analytics_num_page_views: "12.5"
          })
          const reply = yield* api.send("POST", "/webhooks/hubspot", { headers: signedHeaders(body), body })
          expect(reply.status, reply.text).toBe(202)
          expect(reply.json.dropped.map((d: { field: string }) => d.field).sort()).toEqual([
            "activity.pageViews",
            "firstName",
            "phone"
          ])
          expect(reply.json.dropped.find((d: { field: string }) => d.field === "phone").problem).toBe(
            "phone must be 5-32 digits, spaces or + ( ) . -"
          )
          const stored = yield* Effect.flatMap(LeadStore, (store) => store.get(reply.json.id))
          expect(stored?.input).toMatchObject({ email: "grace@globex.com", lastName: "Hopper" })
          expect(stored?.input).not.toHaveProperty("phone")
          expect(stored?.input).not.toHaveProperty("firstName")
          expect(stored?.input.activity ?? {}).not.toHaveProperty("pageViews")

          // the same delivery again: the duplicate, named the same way
          const again = yield* api.send("POST", "/webhooks/hubspot", { headers: signedHeaders(body), body })
          expect(again.status).toBe(200)
          expect(again.json.id).toBe(reply.json.id)
          expect(again.json.dropped).toHaveLength(3)
          expect(yield* storedLeads).toBe(1)
        }),
      served
    )
  )

  it.live("Marketo: one bad attribute is left out alone; a lead with no problem has no `dropped`", () =>
    withApi(
      env(),
      (api) =>
        Effect.gen(function* () {
          const headers = { "x-revenueflow-token": token }
          const reply = yield* api.postJson(
            "/webhooks/marketo",
            { email: "ada@globex.com", programId: 1042, phone: "(555) 123-4567 x89", "bad key!": "x", tier: "gold" },
            headers
          )
          expect(reply.status, reply.text).toBe(202)
          expect(reply.json.dropped.map((d: { field: string }) => d.field).sort()).toEqual([
            "attributes.bad key!",
            "phone"
          ])
          expect(reply.json.lead.attributes).toEqual({ tier: "gold" })

          const clean = yield* api.postJson("/webhooks/marketo", { email: "alan@globex.com", programId: 1042 }, headers)
          expect(clean.status).toBe(202)
          expect(clean.json).not.toHaveProperty("dropped")
        }),
      served
    )
  )

  it.live("an identity problem still refuses the delivery (400), and POST /leads still refuses an optional one", () =>
    withApi(
      env(),
      (api) =>
        Effect.gen(function* () {
          const body = contact({ email: "not an email", phone: "+1 555 123 4567 ext. 89" })
          const refused = yield* api.send("POST", "/webhooks/hubspot", { headers: signedHeaders(body), body })
          expectProblem(refused, 400)
          expect(refused.json.errors.map((e: { field: string }) => e.field)).toEqual(["email", "phone"])

          const long = yield* api.postJson(
            "/webhooks/marketo",
            { email: "ada@globex.com", campaignId: "c".repeat(129), phone: "x" },
            { "x-revenueflow-token": token }
          )
          expectProblem(long, 400)

          const viaApi = yield* api.postJson("/leads", {
            email: "ada@globex.com",
            campaignId: "spring",
            phone: "+1 555 123 4567 ext. 89"
          })
          expectProblem(viaApi, 400)
          expect(yield* storedLeads).toBe(0)
        }),
      served
    )
  )
})
