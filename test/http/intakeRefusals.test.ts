import { connect } from "node:net"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { hubspotSignatureV3 } from "../../src/domain/webhooks/hubspotSignature.js"
import { MAX_FIELD_ERRORS } from "../../src/http/problem.js"
import { makeLogCapture } from "../support/logCapture.js"
import { memoryEnv, sampleLead } from "../support/env.js"
import { type Client, expectProblem, servings, storedLeads, withApi } from "./harness.js"

const apiKey = "rf-key-93a1"
const marketoToken = "mk-token-7f3a"
const hubspotSecret = "hs-app-secret-5d1c"
const publicUrl = "https://hooks.revenueflow.example/webhooks/hubspot"
const settings = {
  INGEST_API_KEYS: apiKey,
  MARKETO_WEBHOOK_TOKEN: marketoToken,
  HUBSPOT_APP_SECRET: hubspotSecret,
  HUBSPOT_WEBHOOK_URL: publicUrl
}

/** A HubSpot workflow POST of `body`, signed as `signed` says (defaults: the body, the public URL, now, the secret). */
const hubspot = (
  api: Client,
  body: string,
  signed: { secret?: string; uri?: string; timestamp?: number; path?: string } = {}
) => {
  const timestamp = String(signed.timestamp ?? Date.now())
  const signature = hubspotSignatureV3({
    secret: signed.secret ?? hubspotSecret,
    method: "POST",
    uri: signed.uri ?? publicUrl,
    body,
    timestamp
  })
  return api.send("POST", signed.path ?? "/webhooks/hubspot", {
    headers: {
      "content-type": "application/json",
      "x-hubspot-signature-v3": signature,
      "x-hubspot-request-timestamp": timestamp
    },
    body
  })
}

const contact = (email: string, extra: Record<string, unknown> = {}) =>
  JSON.stringify({ objectId: 5151, portalId: 62515, properties: { email: { value: email }, ...extra } })

/** The value of one series of a Prometheus text exposition, 0 when absent. */
const sample = (text: string, name: string, labels: Record<string, string>) => {
  const line = text
    .split("\n")
    .find(
      (l) => l.startsWith(`${name}{`) && Object.entries(labels).every(([key, value]) => l.includes(`${key}="${value}"`))
    )
  return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(" ") + 1))
}

describe.each(servings)("refused intake requests are counted and logged (%s)", (_name, served) => {
  it.live(
    "every refusal is counted by source, status and reason; a webhook's is one WARN line, no secret or PII",
    () => {
      const capture = makeLogCapture()
      return withApi(
        Layer.merge(memoryEnv({ env: settings }), capture.layer),
        (api) =>
          Effect.gen(function* () {
            const keyed = { "content-type": "application/json", "x-api-key": apiKey }
            const lead = sampleLead({ email: "ada.secret-person@globex.com" })
            // POST /leads
            expectProblem(yield* api.postJson("/leads", lead), 401)
            expectProblem(
              yield* api.send("POST", "/leads", { headers: { ...keyed, "content-type": "text/plain" } }),
              415
            )
            expectProblem(yield* api.send("POST", "/leads", { headers: keyed, body: "{nope" }), 400)
            expectProblem(
              yield* api.postJson("/leads", { ...lead, email: "not an email" }, { "x-api-key": apiKey }),
              400
            )
            expectProblem(yield* api.send("POST", "/leads", { headers: keyed, body: "x".repeat(64 * 1024 + 1) }), 413)
            // Marketo
            expectProblem(yield* api.postJson("/webhooks/marketo", lead), 401)
            expectProblem(yield* api.postJson("/webhooks/marketo", lead, { "x-revenueflow-token": "mk-guess" }), 401)
            expectProblem(
              yield* api.postJson("/webhooks/marketo", [lead], { "x-revenueflow-token": marketoToken }),
              400
            )
            // HubSpot
            const body = contact("grace.secret-person@globex.com")
            expectProblem(yield* hubspot(api, body, { secret: "not-the-secret" }), 401)
            expectProblem(yield* hubspot(api, body, { timestamp: Date.now() - 6 * 60 * 1000 }), 401)
            expectProblem(yield* hubspot(api, body, { timestamp: Date.now() + 6 * 60 * 1000 }), 401)
            expectProblem(yield* api.postJson("/webhooks/hubspot", JSON.parse(body)), 401)
            expectProblem(yield* hubspot(api, contact("not an email")), 400)
            expect(yield* storedLeads).toBe(0)
            // accepted requests are not refusals
            expect((yield* hubspot(api, body)).status).toBe(202)

            const metrics = (yield* api.get("/metrics")).text
            const refused = (source: string, status: number, reason: string) =>
              sample(metrics, "revenueflow_intake_refused_total", { source, status: String(status), reason })
            expect(refused("api", 401, "unauthorized")).toBe(1)
            expect(refused("api", 415, "unsupported-media-type")).toBe(1)
            expect(refused("api", 400, "malformed-json")).toBe(1)
            expect(refused("api", 400, "invalid-lead")).toBe(1)
            expect(refused("api", 413, "too-large")).toBe(1)
            expect(refused("marketo", 401, "missing-token")).toBe(1)
            expect(refused("marketo", 401, "bad-token")).toBe(1)
            expect(refused("marketo", 400, "not-an-object")).toBe(1)
            expect(refused("hubspot", 401, "signature-mismatch")).toBe(1)
            expect(refused("hubspot", 401, "timestamp-too-old")).toBe(1)
            expect(refused("hubspot", 401, "timestamp-in-future")).toBe(1)
            expect(refused("hubspot", 401, "missing-signature")).toBe(1)
            expect(refused("hubspot", 400, "invalid-lead")).toBe(1)
            const total = [...metrics.matchAll(/^revenueflow_intake_refused_total\{.*\} (\d+)$/gm)]
            expect(total.reduce((sum, match) => sum + Number(match[1]), 0)).toBe(13)

            const warnings = capture.lines.filter((line) => line.includes("webhook delivery refused"))
            expect(warnings).toHaveLength(8)
            for (const line of warnings) expect(line).toMatch(/level=WARN/)
            for (const [source, reason] of [
              ["marketo", "missing-token"],
              ["marketo", "bad-token"],
              ["hubspot", "signature-mismatch"],
              ["hubspot", "timestamp-too-old"]
            ]) {
              expect(
                warnings.filter((l) => l.includes(`source=${source}`) && l.includes(`reason=${reason}`))
              ).toHaveLength(1)
            }
            const debug = capture.lines.filter((line) => line.includes("lead request refused"))
            expect(debug).toHaveLength(5)
            for (const line of debug) expect(line).toMatch(/level=DEBUG/)
            const said = capture.lines.join("\n")
            for (const secret of [apiKey, marketoToken, hubspotSecret, "mk-guess", "not-the-secret", "secret-person"]) {
              expect(said).not.toContain(secret)
            }
          }),
        served
      )
    }
  )

  it.live(
    "the same refusal repeated (a scanner) is counted every time and WARNed once a minute, the rest at Debug",
    () => {
      const capture = makeLogCapture()
      return withApi(
        Layer.merge(memoryEnv({ env: settings }), capture.layer),
        (api) =>
          Effect.gen(function* () {
            for (let i = 0; i < 5; i++) expectProblem(yield* api.postJson("/webhooks/hubspot", { x: i }), 401)
            const metrics = (yield* api.get("/metrics")).text
            expect(
              sample(metrics, "revenueflow_intake_refused_total", {
                source: "hubspot",
                status: "401",
                reason: "missing-signature"
              })
            ).toBe(5)
            const lines = capture.lines.filter((line) => line.includes("webhook delivery refused"))
            expect(lines.filter((line) => /level=WARN/.test(line))).toHaveLength(1)
            expect(lines.filter((line) => /level=DEBUG/.test(line))).toHaveLength(4)
          }),
        served
      )
    }
  )

  it.live("a webhook without its secret or token configured is counted as not-configured", () =>
    withApi(
      memoryEnv(),
      (api) =>
        Effect.gen(function* () {
          expectProblem(yield* hubspot(api, contact("ada@globex.com")), 401)
          expectProblem(yield* api.postJson("/webhooks/marketo", {}, { "x-revenueflow-token": "x" }), 401)
          const metrics = (yield* api.get("/metrics")).text
          for (const source of ["hubspot", "marketo"]) {
            expect(
              sample(metrics, "revenueflow_intake_refused_total", { source, status: "401", reason: "not-configured" })
            ).toBe(1)
          }
        }),
      served
    )
  )
})

/**
 * A request with `head`'s headers declaring `declared` body bytes, whose body is written as fast as the server reads
 * it: what the client learns — the answer's head, whether the server closed the connection before the declared body
 * was all sent, and how many body bytes were written after the answer arrived.
 */
const refusedBeforeTheBody = (base: string, head: string, declared: number) =>
  Effect.async<{ readonly answer: string; readonly closed: boolean; readonly sentAfterAnswer: number }>((resume) => {
    const url = new URL(base)
    const socket = connect(Number(url.port), url.hostname)
    const chunk = Buffer.alloc(256 * 1024, 0x7b)
    let answer = ""
    let sent = 0
    let sentAtAnswer = -1
    let finished = false
    const finish = (closed: boolean) => {
      if (finished) return
      finished = true
      socket.destroy()
      resume(Effect.succeed({ answer, closed, sentAfterAnswer: sentAtAnswer < 0 ? 0 : sent - sentAtAnswer }))
    }
    const pump = () => {
      while (!finished && sent < declared) {
        sent += chunk.length
        if (!socket.write(chunk)) return void socket.once("drain", pump)
      }
      // the whole declared body went: the server read (drained) it and kept the connection for the next request
      if (sent >= declared) setTimeout(() => finish(false), 500)
    }
    socket.on("data", (data) => {
      if (sentAtAnswer < 0) sentAtAnswer = sent
      answer += data.toString("latin1")
    })
    socket.on("end", () => finish(true))
    socket.on("close", () => finish(true))
    socket.on("error", () => finish(true))
    socket.write(
      `${head.trim().split("\n").join("\r\n")}\r\nhost: ${url.host}\r\ncontent-length: ${declared}\r\n\r\n`,
      pump
    )
  })

describe.each(servings)("a refusal made before the body is read closes the connection (%s)", (_name, served) => {
  const declared = 100 * 1024 * 1024

  it.live("401, 415 and 413 on POST /leads and the Marketo webhook: connection: close, the body not read", () =>
    withApi(
      memoryEnv({ env: settings }),
      (api) =>
        Effect.gen(function* () {
          for (const [head, status] of [
            ["POST /leads HTTP/1.1\ncontent-type: application/json", 401],
            [`POST /leads HTTP/1.1\ncontent-type: text/plain\nx-api-key: ${apiKey}`, 415],
            [`POST /leads HTTP/1.1\ncontent-type: application/json\ncontent-encoding: gzip\nx-api-key: ${apiKey}`, 415],
            [`POST /leads HTTP/1.1\ncontent-type: application/json\nx-api-key: ${apiKey}`, 413],
            ["POST /webhooks/marketo HTTP/1.1\ncontent-type: application/json\nx-revenueflow-token: wrong", 401],
            [`POST /webhooks/marketo HTTP/1.1\ncontent-type: text/plain\nx-revenueflow-token: ${marketoToken}`, 415],
            [
              `POST /webhooks/marketo HTTP/1.1\ncontent-type: application/json\nx-revenueflow-token: ${marketoToken}`,
              413
            ],
            ["POST /webhooks/hubspot HTTP/1.1\ncontent-type: application/json", 401]
          ] as const) {
            const reply = yield* refusedBeforeTheBody(api.base, head, declared)
            expect(reply.answer, head).toMatch(new RegExp(`^HTTP/1\\.1 ${status} `))
            expect(reply.answer.toLowerCase(), head).toContain("connection: close")
            expect(reply.closed, head).toBe(true)
            // what was in flight when the answer came, not the 100 MB declared
            expect(reply.sentAfterAnswer, head).toBeLessThan(32 * 1024 * 1024)
          }
          expect(yield* storedLeads).toBe(0)
        }),
      served
    )
  )
})

describe("the ingest server's 417", () => {
  it.live("an Expect other than 100-continue is 417, counted, and closes the connection, the body not read", () =>
    withApi(memoryEnv({ env: settings }), (api) =>
      Effect.gen(function* () {
        const head = `POST /leads HTTP/1.1\ncontent-type: application/json\nx-api-key: ${apiKey}\nexpect: 200-ok`
        const reply = yield* refusedBeforeTheBody(api.base, head, 100 * 1024 * 1024)
        expect(reply.answer).toMatch(/^HTTP\/1\.1 417 /)
        expect(reply.answer.toLowerCase()).toContain("connection: close")
        expect(reply.closed).toBe(true)
        // counted for the route it was meant for, though no route ran
        const metrics = (yield* api.get("/metrics")).text
        expect(
          sample(metrics, "revenueflow_intake_refused_total", {
            source: "api",
            status: "417",
            reason: "expectation-failed"
          })
        ).toBe(1)
      })
    )
  )
})

describe("the ingest server's 408", () => {
  it.live("a body that stops arriving is 408 after REQUEST_TIMEOUT_MS, counted once as a timeout", () =>
    withApi(memoryEnv({ env: { ...settings, REQUEST_TIMEOUT_MS: "400" } }), (api) =>
      Effect.gen(function* () {
        const { port } = new URL(api.base)
        const heard = yield* Effect.async<string>((resume) => {
          const socket = connect(Number(port), "127.0.0.1")
          let text = ""
          socket.on("data", (chunk) => (text += chunk.toString("latin1")))
          socket.on("close", () => resume(Effect.succeed(text)))
          socket.on("error", () => {})
          // the headers, then a tenth of the body the Content-Length promises, then nothing
          socket.write(
            `POST /webhooks/marketo HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\n` +
              `x-revenueflow-token: ${marketoToken}\r\ncontent-length: 100\r\n\r\n{"email":`
          )
        })
        expect(heard).toMatch(/^HTTP\/1\.1 408 /)
        const metrics = (yield* api.get("/metrics")).text
        const count = (reason: string, status: string) =>
          sample(metrics, "revenueflow_intake_refused_total", { source: "marketo", status, reason })
        expect(count("timeout", "408")).toBe(1)
        expect(count("unreadable", "400")).toBe(0)
      })
    )
  )
})

describe.each(servings)("webhook body limit (%s)", (_name, served) => {
  /** A legacy contact-workflow body: every property with its history, as HubSpot sends it (~115 KB for 250). */
  const historyContact = (email: string, properties: number) => {
    const version = (value: string, i: number) => ({
      value,
      "source-type": "CRM_UI",
      "source-id": "userId:1234567",
      "source-label": null,
      "updated-by-user-id": 1234567,
      timestamp: 1700000000000 + i,
      selected: false
    })
    const props: Record<string, unknown> = { email: { value: email, versions: [version(email, 0)] } }
    for (let i = 0; i < properties; i++) {
      const value = `value of custom property number ${i}`
      props[`custom_property_${i}`] = { value, versions: [version(value, 1), version(`${value} (old)`, 2)] }
    }
    return JSON.stringify({ vid: 4242, "portal-id": 62515, properties: props })
  }

  it.live("a HubSpot contact body with property history (~115 KB) is accepted under MAX_WEBHOOK_BODY_BYTES", () =>
    withApi(
      memoryEnv({ env: settings }),
      (api) =>
        Effect.gen(function* () {
          const body = historyContact("grace@globex.com", 250)
          expect(body.length).toBeGreaterThan(100 * 1024)
          const accepted = yield* hubspot(api, body)
          expect(accepted.status, accepted.text).toBe(202)
          // POST /leads keeps MAX_BODY_BYTES (64 KiB)
          const lead = JSON.stringify({ ...sampleLead(), title: "x".repeat(70 * 1024) })
          const tooLarge = yield* api.send("POST", "/leads", {
            headers: { "content-type": "application/json", "x-api-key": apiKey },
            body: lead
          })
          expectProblem(tooLarge, 413)
          expect(tooLarge.json.detail).toBe("Request body must be at most 65536 bytes")
        }),
      served
    )
  )

  it.live("MAX_WEBHOOK_BODY_BYTES bounds both webhooks (413 naming it), read only once the headers authenticate", () =>
    withApi(
      memoryEnv({ env: { ...settings, MAX_WEBHOOK_BODY_BYTES: "4096" } }),
      (api) =>
        Effect.gen(function* () {
          const body = historyContact("grace@globex.com", 10)
          expect(body.length).toBeGreaterThan(4096)
          const hubspotReply = yield* hubspot(api, body)
          expectProblem(hubspotReply, 413)
          expect(hubspotReply.json.detail).toBe("Request body must be at most 4096 bytes")
          const marketoReply = yield* api.postJson(
            "/webhooks/marketo",
            { email: "ada@globex.com", programName: "x".repeat(5000) },
            { "x-revenueflow-token": marketoToken }
          )
          expectProblem(marketoReply, 413)
          // without a valid token the size is never looked at
          expectProblem(yield* api.postJson("/webhooks/marketo", { pad: "x".repeat(5000) }), 401)
        }),
      served
    )
  )
})

describe.each(servings)("a 400's size is bounded (%s)", (_name, served) => {
  it.live("40 unknown keys: the first 20 errors, how many more, the accepted keys said once", () =>
    withApi(
      memoryEnv(),
      (api) =>
        Effect.gen(function* () {
          const lead: Record<string, unknown> = { ...sampleLead() }
          for (let i = 0; i < 40; i++) lead[`k${i}`] = 1
          const reply = yield* api.send("POST", "/leads", {
            headers: { "content-type": "application/json" },
            body: JSON.stringify(lead)
          })
          expectProblem(reply, 400)
          expect(reply.json.errors.length).toBe(MAX_FIELD_ERRORS)
          expect(reply.json.errorsOmitted).toBe(40 - MAX_FIELD_ERRORS)
          expect(reply.json.detail).toContain(`the first ${MAX_FIELD_ERRORS} are listed; ${40 - MAX_FIELD_ERRORS} more`)
          expect(reply.json.errors[0]).toEqual({
            field: "k0",
            message: expect.stringMatching(/^is unexpected; the body takes: "email" \| "campaignId" \| /)
          })
          const naming = reply.json.errors.filter((e: { message: string }) => e.message.includes('"utmContent"'))
          expect(naming).toHaveLength(1)
        }),
      served
    )
  )

  it.live("6,000 unknown keys, or 6,000 attributes: one problem saying so, a short answer (was 1.8 MB)", () =>
    withApi(
      memoryEnv({ env: { MARKETO_WEBHOOK_TOKEN: marketoToken } }),
      (api) =>
        Effect.gen(function* () {
          const lead: Record<string, unknown> = { ...sampleLead() }
          for (let i = 0; i < 6000; i++) lead[`k${i}`] = 1
          const body = JSON.stringify(lead)
          expect(body.length).toBeGreaterThan(50 * 1024)
          const reply = yield* api.send("POST", "/leads", { headers: { "content-type": "application/json" }, body })
          expectProblem(reply, 400)
          expect(reply.json.errors).toEqual([
            { field: "(root)", message: expect.stringMatching(/^a lead has at most 17 fields \(email, campaignId, /) }
          ])
          expect(reply.text.length).toBeLessThan(2 * 1024)

          const attributes = Object.fromEntries(Array.from({ length: 6000 }, (_, i) => [`a${i}`, 1]))
          const viaApi = yield* api.postJson("/leads", { ...sampleLead(), attributes })
          expectProblem(viaApi, 400)
          expect(viaApi.json.errors).toEqual([{ field: "attributes", message: "attributes may hold at most 50 keys" }])
          // Marketo: unknown template keys become attributes; a webhook lead is accepted without them, saying so
          const marketo = yield* api.postJson(
            "/webhooks/marketo",
            { email: "ada@globex.com", programId: 7, ...attributes },
            { "x-revenueflow-token": marketoToken }
          )
          expect(marketo.status, marketo.text).toBe(202)
          expect(marketo.json.dropped).toEqual([
            { field: "attributes", problem: "attributes may hold at most 50 keys" }
          ])
          expect(marketo.text.length).toBeLessThan(4 * 1024)
        }),
      served
    )
  )

  it.live("a few errors are all listed, each named, with no count", () =>
    withApi(
      memoryEnv(),
      (api) =>
        Effect.gen(function* () {
          const reply = yield* api.postJson("/leads", { ...sampleLead(), email: "nope", colour: "blue" })
          expectProblem(reply, 400)
          expect(reply.json.errors.map((e: { field: string }) => e.field).sort()).toEqual(["colour", "email"])
          expect(reply.json.errorsOmitted).toBeUndefined()
        }),
      served
    )
  )
})

describe.each(servings)("HubSpot signature: the configured URL and rotation (%s)", (_name, served) => {
  it.live("HUBSPOT_WEBHOOK_URL ending in /: the URL HubSpot called verifies; one signed over another URL is 401", () =>
    withApi(
      memoryEnv({ env: { HUBSPOT_APP_SECRET: hubspotSecret, HUBSPOT_WEBHOOK_URL: `${publicUrl}/` } }),
      (api) =>
        Effect.gen(function* () {
          const accepted = yield* hubspot(api, contact("ada@globex.com"), {
            path: "/webhooks/hubspot/",
            uri: `${publicUrl}/`
          })
          expect(accepted.status, accepted.text).toBe(202)
          // the router takes both paths: the one a request arrived on is the one its sender called, and signed
          const bare = yield* hubspot(api, contact("alan@globex.com"), { path: "/webhooks/hubspot", uri: publicUrl })
          expect(bare.status, bare.text).toBe(202)
          const withQuery = yield* hubspot(api, contact("grace@globex.com"), {
            path: "/webhooks/hubspot/?portal=62515",
            uri: `${publicUrl}/?portal=62515`
          })
          expect(withQuery.status, withQuery.text).toBe(202)
          // a proxy that adds or drops the trailing slash on the way: HubSpot signed the URL it called, either form
          const slashAdded = yield* hubspot(api, contact("linus@globex.com"), {
            path: "/webhooks/hubspot/",
            uri: publicUrl
          })
          expect(slashAdded.status, slashAdded.text).toBe(202)
          const slashDropped = yield* hubspot(api, contact("edsger@globex.com"), { uri: `${publicUrl}/` })
          expect(slashDropped.status, slashDropped.text).toBe(202)
          // signed over a URL other than the one called (another host, path or query): refused
          for (const uri of [
            "https://attacker.example/webhooks/hubspot/",
            `${publicUrl}/?portal=1`,
            `${publicUrl}s/`,
            `${publicUrl}//`
          ]) {
            expectProblem(yield* hubspot(api, contact("eve@globex.com"), { path: "/webhooks/hubspot/", uri }), 401)
          }
          expect(yield* storedLeads).toBe(5)
        }),
      served
    )
  )

  it.live(
    "HUBSPOT_WEBHOOK_URL with a path prefix a proxy takes off: verified over the URL called, prefix included",
    () =>
      withApi(
        memoryEnv({
          env: { HUBSPOT_APP_SECRET: hubspotSecret, HUBSPOT_WEBHOOK_URL: "https://hooks.example/rf/webhooks/hubspot/" }
        }),
        (api) =>
          Effect.gen(function* () {
            const accepted = yield* hubspot(api, contact("ada@globex.com"), {
              path: "/webhooks/hubspot/",
              uri: "https://hooks.example/rf/webhooks/hubspot/"
            })
            expect(accepted.status, accepted.text).toBe(202)
            const bare = yield* hubspot(api, contact("alan@globex.com"), {
              uri: "https://hooks.example/rf/webhooks/hubspot"
            })
            expect(bare.status, bare.text).toBe(202)
            // the prefix is the setting's: a delivery signed without it is not what HubSpot called
            const unprefixed = { path: "/webhooks/hubspot/", uri: "https://hooks.example/webhooks/hubspot/" }
            expectProblem(yield* hubspot(api, contact("eve@globex.com"), unprefixed), 401)
          }),
        served
      )
  )

  it.live("HUBSPOT_WEBHOOK_URL with a query: HubSpot calling exactly that URL verifies (the query once)", () =>
    withApi(
      memoryEnv({ env: { HUBSPOT_APP_SECRET: hubspotSecret, HUBSPOT_WEBHOOK_URL: `${publicUrl}?portal=62515` } }),
      (api) =>
        Effect.gen(function* () {
          const accepted = yield* hubspot(api, contact("ada@globex.com"), {
            path: "/webhooks/hubspot?portal=62515",
            uri: `${publicUrl}?portal=62515`
          })
          expect(accepted.status, accepted.text).toBe(202)
          // the request's query is what HubSpot signed, whatever the setting's
          const other = yield* hubspot(api, contact("alan@globex.com"), {
            path: "/webhooks/hubspot?portal=99",
            uri: `${publicUrl}?portal=99`
          })
          expect(other.status, other.text).toBe(202)
          const none = yield* hubspot(api, contact("grace@globex.com"), { uri: publicUrl })
          expect(none.status, none.text).toBe(202)
        }),
      served
    )
  )

  it.live("during a rotation a delivery signed with the previous secret is accepted; any other is 401", () =>
    withApi(
      memoryEnv({
        env: {
          HUBSPOT_APP_SECRET: "hs-new-secret",
          HUBSPOT_APP_SECRET_PREVIOUS: hubspotSecret,
          HUBSPOT_WEBHOOK_URL: publicUrl,
          MARKETO_WEBHOOK_TOKEN: "mk-new-token",
          MARKETO_WEBHOOK_TOKEN_PREVIOUS: marketoToken
        }
      }),
      (api) =>
        Effect.gen(function* () {
          expect((yield* hubspot(api, contact("new@globex.com"), { secret: "hs-new-secret" })).status).toBe(202)
          expect((yield* hubspot(api, contact("old@globex.com"), { secret: hubspotSecret })).status).toBe(202)
          expectProblem(yield* hubspot(api, contact("eve@globex.com"), { secret: "hs-other" }), 401)
          const marketo = (email: string, token: string) =>
            api.postJson("/webhooks/marketo", { email, programId: 7 }, { "x-revenueflow-token": token })
          expect((yield* marketo("new@globex.com", "mk-new-token")).status).toBe(202)
          expect((yield* marketo("old@globex.com", marketoToken)).status).toBe(202)
          expectProblem(yield* marketo("eve@globex.com", "mk-other"), 401)
          expect(yield* storedLeads).toBe(4)
        }),
      served
    )
  )
})

describe("POST /leads from another site's page with no API keys (the ingest's own server)", () => {
  const served = servings[0][1]
  it.live("is 403 before the body is read (the connection closed), counted as cross-site", () =>
    withApi(
      memoryEnv(),
      (api) =>
        Effect.gen(function* () {
          const refused = yield* api.postJson("/leads", sampleLead(), {
            host: "localhost:3000",
            origin: "https://evil.example"
          })
          expectProblem(refused, 403)
          expect(refused.headers.connection).toBe("close")
          expect(yield* storedLeads).toBe(0)
          const metrics = (yield* api.get("/metrics")).text
          expect(
            sample(metrics, "revenueflow_intake_refused_total", { source: "api", status: "403", reason: "cross-site" })
          ).toBe(1)
        }),
      served
    )
  )
})

describe("POST /leads to a foreign Host with no API keys (the ingest's own server)", () => {
  const served = servings[0][1]
  it.live("is 403 before the body is read (the connection closed), counted as foreign-host", () =>
    withApi(
      memoryEnv(),
      (api) =>
        Effect.gen(function* () {
          const refused = yield* api.postJson("/leads", sampleLead(), { host: "rebind.attacker.example:3918" })
          expectProblem(refused, 403)
          expect(refused.headers.connection).toBe("close")
          expect(yield* storedLeads).toBe(0)
          const metrics = (yield* api.get("/metrics")).text
          expect(
            sample(metrics, "revenueflow_intake_refused_total", {
              source: "api",
              status: "403",
              reason: "foreign-host"
            })
          ).toBe(1)
        }),
      served
    )
  )
})
