import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { hubspotSignatureV3 } from "../../src/domain/webhooks/hubspotSignature.js"
import { memoryEnv } from "../support/env.js"
import { type Client, expectProblem, servings, storedLeads, withApi } from "./harness.js"

describe.each(servings)("POST /webhooks/marketo (%s)", (_name, served) => {
  const env = () => memoryEnv({ env: { MARKETO_WEBHOOK_TOKEN: "mk-token-7f3a" } })
  const payload = {
    email: "Ada.Lovelace@Globex.com",
    firstName: "Ada",
    lastName: "Lovelace",
    company: "Globex",
    programId: 1042,
    marketoLeadId: 88231,
    leadSource: "Webinar"
  }

  it.live("without or with a wrong X-RevenueFlow-Token is 401 and creates nothing; the right one is 202", () =>
    withApi(
      env(),
      (api) =>
        Effect.gen(function* () {
          expectProblem(yield* api.postJson("/webhooks/marketo", payload), 401)
          expectProblem(yield* api.postJson("/webhooks/marketo", payload, { "x-revenueflow-token": "mk-token" }), 401)
          expectProblem(yield* api.postJson("/webhooks/marketo", payload, { "x-revenueflow-token": "" }), 401)
          expect(yield* storedLeads).toBe(0)

          const accepted = yield* api.postJson("/webhooks/marketo", payload, { "x-revenueflow-token": "mk-token-7f3a" })
          expect(accepted.status, accepted.text).toBe(202)
          expect(accepted.headers.location).toBe(`/leads/${accepted.json.id}`)
          expect(accepted.json).toMatchObject({
            source: "marketo",
            lead: {
              email: "ada.lovelace@globex.com",
              campaignId: "1042",
              source: "Webinar",
              attributes: { "marketo.leadId": "88231" }
            }
          })
          expect(yield* storedLeads).toBe(1)
        }),
      served
    )
  )

  it.live("a token configured with whitespace around it (HTTP strips it from the header) still matches", () =>
    withApi(
      memoryEnv({ env: { MARKETO_WEBHOOK_TOKEN: "mtok ", MARKETO_WEBHOOK_TOKEN_PREVIOUS: "\told-tok " } }),
      (api) =>
        Effect.gen(function* () {
          const current = yield* api.postJson("/webhooks/marketo", payload, { "x-revenueflow-token": "mtok" })
          expect(current.status, current.text).toBe(202)
          const previous = yield* api.postJson(
            "/webhooks/marketo",
            { ...payload, email: "grace@globex.com" },
            { "x-revenueflow-token": "old-tok" }
          )
          expect(previous.status, previous.text).toBe(202)
          expectProblem(yield* api.postJson("/webhooks/marketo", payload, { "x-revenueflow-token": "mtok x" }), 401)
        }),
      served
    )
  )

  it.live("a token-bearing but invalid payload is a 400 problem naming the field", () =>
    withApi(
      env(),
      (api) =>
        Effect.gen(function* () {
          const reply = yield* api.postJson(
            "/webhooks/marketo",
            { ...payload, email: "not an email" },
            { "x-revenueflow-token": "mk-token-7f3a" }
          )
          expectProblem(reply, 400)
          expect(reply.json.errors.map((e: { field: string }) => e.field)).toEqual(["email"])
        }),
      served
    )
  )

  it.live("a body that is not a JSON object is a 400 saying so, not the fields its mapping would miss", () =>
    withApi(
      env(),
      (api) =>
        Effect.gen(function* () {
          for (const [body, kind] of [
            [[payload], "an array"],
            [null, "null"],
            ["ada@globex.com", "a string"]
          ] as const) {
            const reply = yield* api.postJson("/webhooks/marketo", body, { "x-revenueflow-token": "mk-token-7f3a" })
            expectProblem(reply, 400)
            expect(reply.json.detail).toBe(`The body must be a JSON object (got ${kind})`)
          }
          expect(yield* storedLeads).toBe(0)
        }),
      served
    )
  )

  it.live("is 401 when no token is configured, whatever the request sends", () =>
    withApi(
      memoryEnv(),
      (api) =>
        Effect.gen(function* () {
          expectProblem(yield* api.postJson("/webhooks/marketo", payload, { "x-revenueflow-token": "anything" }), 401)
          expect(yield* storedLeads).toBe(0)
        }),
      served
    )
  )
})

describe.each(servings)("POST /webhooks/hubspot (%s)", (_name, served) => {
  const secret = "hs-app-secret-5d1c"
  const publicUrl = "https://hooks.revenueflow.example/webhooks/hubspot"
  const env = () => memoryEnv({ env: { HUBSPOT_APP_SECRET: secret, HUBSPOT_WEBHOOK_URL: publicUrl } })
  const contact = (email: string) =>
    JSON.stringify({
      objectId: 5151,
      portalId: 62515,
      properties: {
        email: { value: email },
        firstname: { value: "Grace" },
        lastname: { value: "Hopper" },
        hs_analytics_num_page_views: { value: "12" }
      }
    })

  /** POST `body` signed as `signed` says (defaults: the same body, the public URL, now, the right secret). */
  const post = (
    api: Client,
    path: string,
    body: string,
    signed: { secret?: string; uri?: string; body?: string; timestamp?: number } = {}
  ) => {
    const timestamp = String(signed.timestamp ?? Date.now())
    const signature = hubspotSignatureV3({
      secret: signed.secret ?? secret,
      method: "POST",
      uri: signed.uri ?? publicUrl,
      body: signed.body ?? body,
      timestamp
    })
    return api.send("POST", path, {
      headers: {
        "content-type": "application/json",
        "x-hubspot-signature-v3": signature,
        "x-hubspot-request-timestamp": timestamp
      },
      body
    })
  }

  it.live("a secret configured with whitespace around it verifies deliveries signed with the secret itself", () =>
    withApi(
      memoryEnv({ env: { HUBSPOT_APP_SECRET: ` ${secret}\n`, HUBSPOT_WEBHOOK_URL: publicUrl } }),
      (api) =>
        Effect.gen(function* () {
          const accepted = yield* post(api, "/webhooks/hubspot", contact("grace@globex.com"))
          expect(accepted.status, accepted.text).toBe(202)
        }),
      served
    )
  )

  it.live("a correctly signed request is 202 with the mapped lead", () =>
    withApi(
      env(),
      (api) =>
        Effect.gen(function* () {
          const accepted = yield* post(api, "/webhooks/hubspot", contact("grace@globex.com"))
          expect(accepted.status, accepted.text).toBe(202)
          expect(accepted.json).toMatchObject({
            source: "hubspot",
            lead: {
              email: "grace@globex.com",
              campaignId: "hubspot",
              firstName: "Grace",
              activity: { pageViews: 12 },
              attributes: { "hubspot.contactId": "5151", "hubspot.portalId": "62515" }
            }
          })
          // the query string is part of what HubSpot signs
          const withQuery = yield* post(api, "/webhooks/hubspot?portal=62515", contact("alan@globex.com"), {
            uri: `${publicUrl}?portal=62515`
          })
          expect(withQuery.status, withQuery.text).toBe(202)
          expect(yield* storedLeads).toBe(2)
        }),
      served
    )
  )

  it.live("a signed body that is not a JSON object is a 400 saying so", () =>
    withApi(
      env(),
      (api) =>
        Effect.gen(function* () {
          const reply = yield* post(api, "/webhooks/hubspot", JSON.stringify([JSON.parse(contact("grace@globex.com"))]))
          expectProblem(reply, 400)
          expect(reply.json.detail).toBe("The body must be a JSON object (got an array)")
          expect(yield* storedLeads).toBe(0)
        }),
      served
    )
  )

  it.live("a wrong secret, an altered body, an altered URI or a 6-minute-old timestamp is 401; nothing created", () =>
    withApi(
      env(),
      (api) =>
        Effect.gen(function* () {
          const body = contact("mallory@globex.com")
          expectProblem(yield* post(api, "/webhooks/hubspot", body, { secret: "not-the-secret" }), 401)
          expectProblem(yield* post(api, "/webhooks/hubspot", body, { body: body.replace("mallory", "alice") }), 401)
          expectProblem(
            yield* post(api, "/webhooks/hubspot", body, { uri: publicUrl.replace("/hubspot", "/other") }),
            401
          )
          expectProblem(yield* post(api, "/webhooks/hubspot?x=1", body), 401)
          const old = yield* post(api, "/webhooks/hubspot", body, { timestamp: Date.now() - 6 * 60 * 1000 })
          expectProblem(old, 401)
          expect(old.json.detail).toContain("timestamp-too-old")
          const unsigned = yield* api.postJson("/webhooks/hubspot", JSON.parse(body))
          expectProblem(unsigned, 401)
          expect(yield* storedLeads).toBe(0)
          // the same body, correctly signed, is accepted: the rejections above were about the signature alone
          expect((yield* post(api, "/webhooks/hubspot", body)).status).toBe(202)
        }),
      served
    )
  )

  it.live("without HUBSPOT_WEBHOOK_URL the signed URL is rebuilt from the Host header", () =>
    withApi(
      memoryEnv({ env: { HUBSPOT_APP_SECRET: secret } }),
      (api) =>
        Effect.gen(function* () {
          const body = contact("ada@globex.com")
          const accepted = yield* post(api, "/webhooks/hubspot", body, { uri: `${api.base}/webhooks/hubspot` })
          expect(accepted.status, accepted.text).toBe(202)
          expectProblem(yield* post(api, "/webhooks/hubspot", contact("eve@globex.com")), 401)
        }),
      served
    )
  )

  it.live("is 401 when HUBSPOT_APP_SECRET is not configured", () =>
    withApi(
      memoryEnv(),
      (api) =>
        Effect.gen(function* () {
          expectProblem(yield* post(api, "/webhooks/hubspot", contact("ada@globex.com")), 401)
          expect(yield* storedLeads).toBe(0)
        }),
      served
    )
  )
})
