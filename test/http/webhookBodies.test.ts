import { request as httpRequest } from "node:http"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as FastCheck from "effect/FastCheck"
import { MAX_JSON_DEPTH } from "../../src/http/body.js"
import { hubspotSignatureV3 } from "../../src/domain/webhooks/hubspotSignature.js"
import { memoryEnv } from "../support/env.js"
import { tooDeep } from "./bodies.js"
import { type Client, expectProblem, problemFields, type Reply, servings, storedLeads, withApi } from "./harness.js"

const seedOf = () => Date.now() ^ (Math.random() * 0x7fffffff)
const secret = "hs-app-secret-5d1c"
const publicUrl = "https://hooks.revenueflow.example/webhooks/hubspot"
const token = "mk-token-7f3a"
const env = () =>
  memoryEnv({ env: { HUBSPOT_APP_SECRET: secret, HUBSPOT_WEBHOOK_URL: publicUrl, MARKETO_WEBHOOK_TOKEN: token } })

const marketo = (api: Client, body: string | Buffer) =>
  api.send("POST", "/webhooks/marketo", {
    headers: { "content-type": "application/json", "x-revenueflow-token": token },
    body
  })

/** The headers HubSpot sends for `body`, signed over its raw bytes (overrides replace or drop headers). */
const hubspotHeaders = (body: string | Buffer, overrides: Record<string, string | undefined> = {}) => {
  const timestamp = String(Date.now())
  const signature = hubspotSignatureV3({ secret, method: "POST", uri: publicUrl, body: Buffer.from(body), timestamp })
  const headers: Record<string, string | undefined> = {
    "content-type": "application/json",
    "x-hubspot-signature-v3": signature,
    "x-hubspot-request-timestamp": timestamp,
    ...overrides
  }
  return Object.fromEntries(Object.entries(headers).filter(([, v]) => v !== undefined)) as Record<string, string>
}

const hubspot = (api: Client, body: string | Buffer, overrides: Record<string, string | undefined> = {}) =>
  api.send("POST", "/webhooks/hubspot", { headers: hubspotHeaders(body, overrides), body })

const contact = (properties: string) => `{"objectId":5151,"portalId":62515,"properties":${properties}}`

/**
 * Sends the headers and the start of a body that never ends, and waits for the answer: a server that reads the body
 * before answering never answers (the test times out).
 */
const unfinished = (api: Client, headers: Record<string, string>) =>
  Effect.async<Reply, Error>((resume) => {
    const req = httpRequest(new URL("/webhooks/hubspot", api.base), { method: "POST", headers }, (res) => {
      const chunks: Array<Buffer> = []
      res.on("data", (chunk: Buffer) => chunks.push(chunk))
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8")
        resume(Effect.succeed({ status: res.statusCode ?? 0, headers: res.headers, text, json: JSON.parse(text) }))
        req.destroy()
      })
    })
    req.on("error", () => {})
    req.write(`{"properties":{"email":"${"x".repeat(4096)}`)
    return Effect.sync(() => req.destroy())
  })

describe.each(servings)("webhook bodies (%s)", (_name, served) => {
  it.live(`nesting deeper than ${MAX_JSON_DEPTH} levels is a 400 naming the limit on both webhooks`, () =>
    withApi(
      env(),
      (api) =>
        Effect.gen(function* () {
          const seed = seedOf()
          for (const value of FastCheck.sample(tooDeep, { numRuns: 15, seed })) {
            for (const reply of [
              yield* marketo(api, `{"email":"ada@globex.com","extra":${value}}`),
              yield* hubspot(api, contact(`{"email":{"value":"ada@globex.com"},"deep":${value}}`))
            ]) {
              expectProblem(reply, 400)
              expect(reply.json.detail, `seed ${seed}`).toContain(`${MAX_JSON_DEPTH} levels`)
            }
          }
          expect(yield* storedLeads).toBe(0)
        }),
      served
    )
  )

  it.live("a number out of range is a 400 naming the field on both webhooks; invalid UTF-8 a 400", () =>
    withApi(
      env(),
      (api) =>
        Effect.gen(function* () {
          const score = yield* marketo(api, `{"email":"ada@globex.com","programId":7,"score":1e309}`)
          expectProblem(score, 400)
          expect(problemFields(score)).toEqual(["score"])
          const program = yield* marketo(api, `{"email":"ada@globex.com","programId":-1e400}`)
          expect(problemFields(program)).toEqual(["programId"])
          const views = yield* hubspot(
            api,
            contact(`{"email":{"value":"ada@globex.com"},"hs_analytics_num_page_views":{"value":1e309}}`)
          )
          expectProblem(views, 400)
          expect(problemFields(views)).toEqual(["properties.hs_analytics_num_page_views.value"])
          const campaign = yield* hubspot(
            api,
            contact(`{"email":"ada@globex.com","hs_analytics_source_data_2":${"9".repeat(400)}}`)
          )
          expect(problemFields(campaign)).toEqual(["properties.hs_analytics_source_data_2"])
          // HubSpot signs the raw bytes; a correctly signed body that is not UTF-8 is still refused
          const latin1 = Buffer.from(contact(`{"email":"zoe@globex.com","firstname":"Zo\u00eb"}`), "latin1")
          const notUtf8 = yield* hubspot(api, latin1)
          expectProblem(notUtf8, 400)
          expect(notUtf8.json.detail).toContain("UTF-8")
          expectProblem(yield* marketo(api, latin1), 400)
          expect(yield* storedLeads).toBe(0)
        }),
      served
    )
  )

  it.live("HubSpot: without a fresh signature it is 401 before the content type, the size or the body is read", () =>
    withApi(
      env(),
      (api) =>
        Effect.gen(function* () {
          const body = contact(`{"email":"ada@globex.com"}`)
          const unsigned = { "x-hubspot-signature-v3": undefined, "x-hubspot-request-timestamp": undefined }
          const stale = { "x-hubspot-request-timestamp": String(Date.now() - 6 * 60 * 1000) }
          const noTimestamp = { "x-hubspot-request-timestamp": undefined }
          for (const auth of [unsigned, stale, noTimestamp, { "x-hubspot-signature-v3": "" }]) {
            expectProblem(yield* hubspot(api, body, { ...auth, "content-type": "text/plain" }), 401)
            expectProblem(yield* hubspot(api, "x".repeat(64 * 1024 + 1), auth), 401)
            const huge = hubspotHeaders(body, { ...auth, "content-length": String(10 * 1024 * 1024) })
            expectProblem(yield* unfinished(api, huge), 401)
            const chunked = hubspotHeaders(body, { ...auth, "transfer-encoding": "chunked" })
            expectProblem(yield* unfinished(api, chunked), 401)
          }
          // a fresh timestamp with a wrong signature needs the body to tell: 413 past the limit
          // (MAX_WEBHOOK_BODY_BYTES, 1 MiB), else 401
          const forged = { "x-hubspot-signature-v3": hubspotHeaders("other")["x-hubspot-signature-v3"] }
          expectProblem(yield* hubspot(api, "x".repeat(1024 * 1024 + 1), forged), 413)
          expectProblem(yield* hubspot(api, body, { ...forged, "content-type": "text/plain" }), 401)
          // only a request whose signature verified learns about its content type
          expectProblem(yield* hubspot(api, body, { "content-type": "text/plain" }), 415)
          expect(yield* storedLeads).toBe(0)
          const accepted = yield* hubspot(api, body)
          expect(accepted.status, accepted.text).toBe(202)
        }),
      served
    )
  )

  it.live("HubSpot with no secret configured is 401 whatever the content type or size", () =>
    withApi(
      memoryEnv(),
      (api) =>
        Effect.gen(function* () {
          expectProblem(yield* hubspot(api, "{}", { "content-type": "text/plain" }), 401)
          expectProblem(yield* hubspot(api, "x".repeat(64 * 1024 + 1)), 401)
        }),
      served
    )
  )
})
