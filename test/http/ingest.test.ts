import { connect } from "node:net"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import { runConsumer } from "../../src/pipeline/consumer.js"
import { JobQueue } from "../../services/JobQueue.js"
import { LeadStore } from "../../services/LeadStore.js"
import { errorText } from "../../src/domain/redact.js"
import { memoryEnv, sampleLead } from "../support/env.js"
import { expectProblem, problemFields, sendExpectingContinue, servings, storedLeads, withApi } from "./harness.js"

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

const waitingJobs = Effect.flatMap(JobQueue, (queue) => Effect.map(queue.stats, (stats) => stats.waiting))

/**
 * A POST over a raw socket by a client that sends its body only after the server's 100 Continue, and never without
 * it (no curl-style fallback after 1 s): whether the 100 came within 3 s, then the final answer (the socket given up
 * 3 s after the 100, or without it). `headers.body` is the body; the other entries are request headers.
 */
const continueOverSocket = (base: string, path: string, fields: Record<string, string> & { readonly body: string }) =>
  Effect.async<{ readonly continued: boolean; readonly status: number; readonly text: string }>((resume) => {
    const { body, ...headers } = fields
    const url = new URL(base)
    const socket = connect({ host: url.hostname, port: Number(url.port) })
    let heard = ""
    let continued = false
    let done = false
    const finish = () => {
      if (done) return
      done = true
      clearTimeout(timer)
      socket.destroy()
      const final = heard.replace(/^HTTP\/1\.1 100 Continue\r\n\r\n/, "")
      const status = Number(/^HTTP\/1\.1 (\d{3}) /.exec(final)?.[1] ?? 0)
      resume(Effect.succeed({ continued, status, text: final }))
    }
    let timer = setTimeout(finish, 3000)
    socket.on("data", (chunk: Buffer) => {
      heard += chunk.toString("utf8")
      if (!continued && heard.startsWith("HTTP/1.1 100 Continue\r\n\r\n")) {
        continued = true
        clearTimeout(timer)
        timer = setTimeout(finish, 3000)
        socket.write(body)
      }
      // a whole final answer: its head, and as many body bytes as it declares
      const final = heard.replace(/^HTTP\/1\.1 100 Continue\r\n\r\n/, "")
      const end = final.indexOf("\r\n\r\n")
      const length = Number(/\r\ncontent-length: (\d+)/i.exec(final)?.[1] ?? Number.NaN)
      if (end >= 0 && Buffer.byteLength(final.slice(end + 4)) >= length) finish()
    })
    socket.on("close", finish)
    socket.on("error", () => {})
    const head = Object.entries({ host: url.host, ...headers, expect: "100-continue" })
      .map(([name, value]) => `${name}: ${value}\r\n`)
      .join("")
    socket.write(`POST ${path} HTTP/1.1\r\n${head}content-length: ${Buffer.byteLength(body)}\r\n\r\n`)
  })

describe.each(servings)("POST /leads (%s)", (_name, served) => {
  it.live("a new lead is 202 with Location and the lead view; the same lead again is 200 with the same id", () =>
    withApi(
      memoryEnv(),
      (api) =>
        Effect.gen(function* () {
          const body = sampleLead()
          const created = yield* api.postJson("/leads", body)
          expect(created.status, created.text).toBe(202)
          expect(created.headers["content-type"]).toMatch(/^application\/json/)
          expect(created.json.id).toMatch(UUID)
          expect(created.headers.location).toBe(`/leads/${created.json.id}`)
          expect(created.json).toMatchObject({
            source: "api",
            status: "QUEUED",
            lead: { email: body.email, campaignId: "spring-launch", firstName: "Ada" },
            actions: []
          })
          expect(created.json.leadKey).toMatch(/^[0-9a-f]{64}$/)

          const again = yield* api.postJson("/leads", { ...body, email: `  ${body.email.toUpperCase()}\t` })
          expect(again.status, again.text).toBe(200)
          expect(again.json.id).toBe(created.json.id)
          expect(again.json.leadKey).toBe(created.json.leadKey)
          expect(yield* storedLeads).toBe(1)
          expect(yield* waitingJobs).toBe(1)
        }),
      served
    )
  )

  it.live("a FAILED lead sent again: 200 and FAILED with the same content, 202 and QUEUED with corrected content", () =>
    withApi(
      memoryEnv(),
      (api) =>
        Effect.gen(function* () {
          const body = sampleLead({ country: "USA" })
          const created = yield* api.postJson("/leads", body)
          const store = yield* LeadStore
          yield* store.transition(created.json.id, ["QUEUED"], "FAILED", {
            error: errorText("CRM rejected the request: FIELD_INTEGRITY_EXCEPTION: Country")
          })
          const same = yield* api.postJson("/leads", body)
          expect([same.status, same.json.id, same.json.status]).toEqual([200, created.json.id, "FAILED"])
          expect(same.json.error).toContain("Country")

          const corrected = yield* api.postJson("/leads", { ...body, country: "United States" })
          expect(corrected.status, corrected.text).toBe(202)
          expect(corrected.headers.location).toBe(`/leads/${created.json.id}`)
          expect(corrected.json).toMatchObject({
            id: created.json.id,
            status: "QUEUED",
            lead: { country: "United States" }
          })
          expect(corrected.json.error).toBeUndefined()
          expect(yield* storedLeads).toBe(1)
          // queued once more: the job runs it again
          expect(yield* waitingJobs).toBe(1)
          // and while it is QUEUED, more content is a duplicate again
          const meanwhile = yield* api.postJson("/leads", { ...body, country: "Canada" })
          expect([meanwhile.status, meanwhile.json.lead.country]).toEqual([200, "United States"])
        }),
      served
    )
  )

  it.live("a charset parameter or a +json media type is still JSON", () =>
    withApi(
      memoryEnv(),
      (api) =>
        Effect.gen(function* () {
          const a = yield* api.postJson("/leads", sampleLead(), { "content-type": "application/json; charset=utf-8" })
          expect(a.status, a.text).toBe(202)
          const b = yield* api.postJson("/leads", sampleLead(), { "content-type": "application/vnd.lead+json" })
          expect(b.status, b.text).toBe(202)
        }),
      served
    )
  )

  it.live("malformed JSON and an empty body are 400 problems and create nothing", () =>
    withApi(
      memoryEnv(),
      (api) =>
        Effect.gen(function* () {
          const headers = { "content-type": "application/json" }
          expectProblem(yield* api.send("POST", "/leads", { headers, body: '{"email": "a@b.co",' }), 400)
          expectProblem(yield* api.send("POST", "/leads", { headers, body: "" }), 400)
          expectProblem(yield* api.send("POST", "/leads", { headers, body: "   " }), 400)
          expect(yield* storedLeads).toBe(0)
        }),
      served
    )
  )

  it.live("text jsonb cannot hold (NUL, an unpaired surrogate) is a 400 naming where it is, and stores nothing", () =>
    withApi(
      memoryEnv(),
      (api) =>
        Effect.gen(function* () {
          const send = (text: string) =>
            api.send("POST", "/leads", { headers: { "content-type": "application/json" }, body: text })
          const nul = yield* send(`{"email":"ada@example.com","campaignId":"c1","firstName":"Ada\\u0000"}`)
          expectProblem(nul, 400)
          expect(problemFields(nul)).toStrictEqual(["firstName"])
          const surrogate = yield* send(`{"email":"ada@example.com","campaignId":"c1","activity":{"note":"\\ud800x"}}`)
          expectProblem(surrogate, 400)
          expect(problemFields(surrogate)).toStrictEqual(["activity.note"])
          // a well-formed pair is an ordinary character
          const emoji = yield* send(`{"email":"ada@example.com","campaignId":"c1","firstName":"Ada \\ud83d\\ude00"}`)
          expect(emoji.status, emoji.text).toBe(202)
          expect(yield* storedLeads).toBe(1)
        }),
      served
    )
  )

  it.live("schema errors are 400 naming every bad field, unknown fields included (no mass assignment)", () =>
    withApi(
      memoryEnv(),
      (api) =>
        Effect.gen(function* () {
          const reply = yield* api.postJson("/leads", {
            ...sampleLead(),
            email: "not-an-email",
            campaignId: "   ",
            isAdmin: true,
            activity: { pageViews: -1 }
          })
          expectProblem(reply, 400)
          expect([...problemFields(reply)].sort()).toEqual(["activity.pageViews", "campaignId", "email", "isAdmin"])
          for (const error of reply.json.errors) expect(error.message).toEqual(expect.any(String))

          const onlyAdmin = yield* api.postJson("/leads", { ...sampleLead(), isAdmin: true })
          expectProblem(onlyAdmin, 400)
          expect(problemFields(onlyAdmin)).toEqual(["isAdmin"])

          const missing = yield* api.postJson("/leads", {})
          expectProblem(missing, 400)
          expect([...problemFields(missing)].sort()).toEqual(["campaignId", "email"])

          for (const notAnObject of [[sampleLead()], "a@b.co", 42, null]) {
            const reply = yield* api.postJson("/leads", notAnObject)
            expectProblem(reply, 400)
            expect(problemFields(reply)).toEqual(["(root)"])
          }
          expect(yield* storedLeads).toBe(0)
        }),
      served
    )
  )

  it.live("a body over 64 KiB is 413, with Content-Length and chunked without it; 64 KiB exactly is read", () =>
    withApi(
      memoryEnv(),
      (api) =>
        Effect.gen(function* () {
          const headers = { "content-type": "application/json" }
          const padded = (bytes: number) => {
            const base = JSON.stringify({ ...sampleLead(), company: "" })
            return base.replace('"company":""', `"company":"${"x".repeat(bytes - base.length)}"`)
          }
          const over = padded(64 * 1024 + 1)
          expect(Buffer.byteLength(over)).toBe(64 * 1024 + 1)
          expectProblem(yield* api.send("POST", "/leads", { headers, body: over }), 413)
          expectProblem(yield* api.send("POST", "/leads", { headers, body: over, chunked: true }), 413)
          const huge = padded(1024 * 1024)
          expectProblem(yield* api.send("POST", "/leads", { headers, body: huge, chunked: true }), 413)
          // exactly at the limit the body is read and decoded: company is too long, so 400 naming it (not 413)
          const limit = yield* api.send("POST", "/leads", { headers, body: padded(64 * 1024), chunked: true })
          expectProblem(limit, 400)
          expect(problemFields(limit)).toEqual(["company"])
          expect(yield* storedLeads).toBe(0)
        }),
      served
    )
  )

  it.live("another content type or none is 415, and so is JSON in another charset or compressed", () =>
    withApi(
      memoryEnv(),
      (api) =>
        Effect.gen(function* () {
          const body = JSON.stringify(sampleLead())
          const plain = yield* api.send("POST", "/leads", { headers: { "content-type": "text/plain" }, body })
          expectProblem(plain, 415)
          expectProblem(yield* api.send("POST", "/leads", { body }), 415)
          const form = { "content-type": "application/x-www-form-urlencoded" }
          expectProblem(yield* api.send("POST", "/leads", { headers: form, body: "email=a%40b.co" }), 415)
          // JSON in another charset, or compressed: 415 naming that, not a 400 about bytes it could not read
          const utf16 = { "content-type": "application/json; charset=utf-16le" }
          const wide = yield* api.send("POST", "/leads", { headers: utf16, body })
          expectProblem(wide, 415)
          expect(wide.json.detail).toContain('charset="utf-16le"')
          for (const encoding of ["gzip", "deflate", "br"]) {
            const compressed = { "content-type": "application/json", "content-encoding": encoding }
            const reply = yield* api.send("POST", "/leads", { headers: compressed, body })
            expectProblem(reply, 415)
            expect(reply.json.detail).toContain(`Content-Encoding "${encoding}" is not accepted`)
          }
          expect(yield* storedLeads).toBe(0)
          // UTF-8 said in any of its spellings, and no compression, are the same as saying nothing
          for (const contentType of ["application/json; charset=UTF-8", 'application/json;charset="utf8"']) {
            const headers = { "content-type": contentType, "content-encoding": "identity" }
            const reply = yield* api.send("POST", "/leads", { headers, body: JSON.stringify(sampleLead()) })
            expect(reply.status, reply.text).toBe(202)
          }
        }),
      served
    )
  )
})

describe.each(servings)("the intake and ops routes' answers (%s)", (_name, served) => {
  it.live("a lead's view, every refusal and the probes are kept by no cache and never sniffed as another type", () =>
    withApi(
      memoryEnv({ env: { INGEST_API_KEYS: "k-no-store", MARKETO_WEBHOOK_TOKEN: "mk-no-store" } }),
      (api) =>
        Effect.gen(function* () {
          const key = { "x-api-key": "k-no-store" }
          const lead = sampleLead({ email: "no.store@globex.com" })
          const created = yield* api.postJson("/leads", lead, key)
          expect(created.status, created.text).toBe(202)
          const again = yield* api.postJson("/leads", lead, key)
          expect(again.status, again.text).toBe(200)
          const replies = [
            created,
            again,
            // refused: no key, not JSON, a bad lead, too large; a webhook without its token
            yield* api.postJson("/leads", lead),
            yield* api.send("POST", "/leads", { headers: { ...key, "content-type": "text/plain" }, body: "x" }),
            yield* api.postJson("/leads", { ...lead, email: "<script>" }, key),
            yield* api.postJson("/leads", { ...lead, firstName: "x".repeat(70 * 1024) }, key),
            yield* api.postJson("/webhooks/marketo", { email: "a@globex.com", programId: 7 }),
            yield* api.get("/healthz"),
            yield* api.get("/readyz"),
            yield* api.get("/metrics")
          ]
          expect(replies.map((reply) => reply.status)).toEqual([202, 200, 401, 415, 400, 413, 401, 200, 200, 200])
          for (const reply of replies) {
            expect(reply.headers["cache-control"], `${reply.status} ${reply.text.slice(0, 80)}`).toBe("no-store")
            expect(reply.headers["x-content-type-options"], `${reply.status}`).toBe("nosniff")
          }
        }),
      served
    )
  )
})

describe.each(servings)("a path the API has, asked with another method (%s)", (_name, served) => {
  it.live("is 405 naming the methods it takes in Allow, not 404; a path it has not is still 404", () =>
    withApi(
      memoryEnv(),
      (api) =>
        Effect.gen(function* () {
          for (const [method, path, allow] of [
            ["PUT", "/leads", "POST, GET"],
            ["DELETE", "/leads/0b3c7d1e-9a4f-4e2b-8c6d-5f1a2b3c4d5e", "GET"],
            ["GET", "/leads/0b3c7d1e-9a4f-4e2b-8c6d-5f1a2b3c4d5e/replay", "POST"],
            ["POST", "/healthz", "GET"],
            ["GET", "/webhooks/marketo", "POST"]
          ] as const) {
            const reply = yield* api.send(method, path, {})
            expectProblem(reply, 405)
            expect(reply.headers.allow, `${method} ${path}`).toBe(allow)
            expect(reply.json.detail).toBe(`${method} is not a method of ${path}: it takes ${allow}`)
          }
          expectProblem(yield* api.send("PUT", "/nope", {}), 404)
          expectProblem(yield* api.send("DELETE", "/leads/extra/segments", {}), 404)
        }),
      served
    )
  )
})

describe("routes and GET /leads/:id", () => {
  it.live("an unknown route is a 404 problem", () =>
    withApi(memoryEnv(), (api) =>
      Effect.gen(function* () {
        expectProblem(yield* api.get("/nope"), 404)
        expectProblem(yield* api.postJson("/leads/extra/segments", sampleLead()), 404)
      })
    )
  )

  it.live("an unknown or malformed lead id is a 404 problem", () =>
    withApi(memoryEnv(), (api) =>
      Effect.gen(function* () {
        expectProblem(yield* api.get(`/leads/${crypto.randomUUID()}`), 404)
        expectProblem(yield* api.get("/leads/not-a-uuid"), 404)
        expectProblem(yield* api.get("/leads/%27%20OR%201=1--"), 404)
      })
    )
  )

  it.live("a lead's view and a problem quoting a path are kept by no cache and never sniffed as another type", () =>
    withApi(memoryEnv(), (api) =>
      Effect.gen(function* () {
        const created = yield* api.postJson("/leads", sampleLead({ email: "cache.less@globex.com" }))
        const read = yield* api.get(created.headers.location as string)
        const quoted = yield* api.get("/leads/%3Csvg%20onload=alert(1)%3E")
        const listed = yield* api.get("/leads?limit=1")
        for (const reply of [read, quoted, listed]) {
          expect(reply.headers["cache-control"], reply.text).toBe("no-store")
          expect(reply.headers["x-content-type-options"]).toBe("nosniff")
        }
        // the pages' static files say how they are cached themselves
        const styles = yield* api.get("/docs/assets/swagger-ui.css")
        expect(styles.headers["cache-control"]).not.toBe("no-store")
      })
    )
  )

  it.live("after processing, GET /leads/:id shows SYNCED with the CRM actions", () =>
    withApi(memoryEnv(), (api) =>
      Effect.gen(function* () {
        yield* runConsumer
        const created = yield* api.postJson("/leads", sampleLead({ email: "grace@globex.com" }))
        expect(created.status, created.text).toBe(202)
        const synced = yield* api.get(created.headers.location as string).pipe(
          Effect.filterOrFail(
            (reply) => reply.json?.status === "SYNCED",
            (reply) => new Error(`not synced yet: ${reply.text}`)
          ),
          Effect.retry(Schedule.spaced("20 millis").pipe(Schedule.upTo("10 seconds")))
        )
        expect(synced.status).toBe(200)
        expect(synced.json.id).toBe(created.json.id)
        // the decision that was synced, with its score and the grounding verdict that let it through
        expect(synced.json.analysis).toMatchObject({
          fitScore: expect.any(Number),
          intent: expect.any(String),
          decision: expect.any(String)
        })
        expect(synced.json.grounding).toMatchObject({ outcome: expect.stringMatching(/^(VALID|DOWNGRADED)$/) })
        expect(synced.json.actions.length).toBeGreaterThan(0)
        for (const action of synced.json.actions) {
          expect(action).toMatchObject({ provider: expect.any(String), status: "SUCCEEDED", crmId: expect.any(String) })
          expect(Number.isNaN(Date.parse(action.createdAt))).toBe(false)
        }
        expect(synced.json.actions.map((a: { tool: string }) => a.tool)).toContain("upsert_lead")
      })
    )
  )
})

describe.each(servings)("API keys (INGEST_API_KEYS) (%s)", (_name, served) => {
  const env = () => memoryEnv({ env: { INGEST_API_KEYS: "key-one,key-two" } })

  it.live("no key or a wrong key is 401 before the body is read; X-API-Key and Bearer are accepted", () =>
    withApi(
      env(),
      (api) =>
        Effect.gen(function* () {
          const none = yield* api.postJson("/leads", sampleLead())
          expectProblem(none, 401)
          expect(none.headers["www-authenticate"]).toMatch(/^Bearer/)
          expectProblem(yield* api.postJson("/leads", sampleLead(), { "x-api-key": "key-three" }), 401)
          expectProblem(yield* api.postJson("/leads", sampleLead(), { authorization: "Bearer key-onex" }), 401)
          expectProblem(yield* api.postJson("/leads", sampleLead(), { authorization: "Basic a2V5LW9uZQ==" }), 401)
          // an unauthenticated client learns nothing about the body: 401 even for malformed JSON
          const junk = { headers: { "content-type": "application/json" }, body: "{" }
          expectProblem(yield* api.send("POST", "/leads", junk), 401)
          expect(yield* storedLeads).toBe(0)

          const byHeader = yield* api.postJson("/leads", sampleLead(), { "x-api-key": "key-two" })
          expect(byHeader.status, byHeader.text).toBe(202)
          const byBearer = yield* api.postJson("/leads", sampleLead(), { authorization: "Bearer key-one" })
          expect(byBearer.status, byBearer.text).toBe(202)

          const path = byBearer.headers.location as string
          expectProblem(yield* api.get(path), 401)
          expectProblem(yield* api.get(path, { "x-api-key": "nope" }), 401)
          const read = yield* api.get(path, { "x-api-key": "key-one" })
          expect(read.status).toBe(200)
          expect(read.json.id).toBe(byBearer.json.id)
          // probes stay open for the load balancer
          expect((yield* api.get("/healthz")).status).toBe(200)
        }),
      served
    )
  )
})

describe("Expect: 100-continue on the ingest server", () => {
  const key = "continue-key"
  const env = () => memoryEnv({ env: { INGEST_API_KEYS: key, HUBSPOT_APP_SECRET: "hubspot-secret-for-continue" } })
  const json = { "content-type": "application/json" }

  it.live(
    "a request refused on its headers is answered before the client sends its body, and the connection closes",
    () =>
      withApi(env(), (api) =>
        Effect.gen(function* () {
          const body = JSON.stringify(sampleLead())
          const send = (path: string, headers: Record<string, string>, contentLength?: number) =>
            sendExpectingContinue(api.base, "POST", path, {
              headers: { ...headers, connection: "keep-alive" },
              body,
              contentLength
            })

          const noKey = yield* send("/leads", json)
          expectProblem(noKey, 401)
          const notJson = yield* send("/leads", { "x-api-key": key, "content-type": "text/plain" })
          expectProblem(notJson, 415)
          const tooLarge = yield* send("/leads", { ...json, "x-api-key": key }, 10 * 1024 * 1024)
          expectProblem(tooLarge, 413)
          const unsigned = yield* send("/webhooks/hubspot", json)
          expectProblem(unsigned, 401)
          for (const reply of [noKey, notJson, tooLarge, unsigned]) {
            // no 100 Continue: the client never sent the body; and the server will not read one as a next request
            expect(reply.continued, reply.text).toBe(false)
            expect(reply.headers.connection).toBe("close")
          }
          expect(yield* storedLeads).toBe(0)
        })
      )
  )

  it.live("a request the route takes gets 100 Continue, then its answer; a lead so sent is stored once", () =>
    withApi(env(), (api) =>
      Effect.gen(function* () {
        const lead = sampleLead()
        const headers = { ...json, "x-api-key": key, connection: "keep-alive" }
        const accepted = yield* sendExpectingContinue(api.base, "POST", "/leads", {
          headers,
          body: JSON.stringify(lead)
        })
        expect([accepted.continued, accepted.status], accepted.text).toEqual([true, 202])
        expect(accepted.headers.connection).not.toBe("close")
        const again = yield* sendExpectingContinue(api.base, "POST", "/leads", { headers, body: JSON.stringify(lead) })
        expect([again.continued, again.status, again.json.id]).toEqual([true, 200, accepted.json.id])
        // a body that arrives after its 100 is checked as any other
        const malformed = yield* sendExpectingContinue(api.base, "POST", "/leads", { headers, body: "{" })
        expect(malformed.continued).toBe(true)
        expectProblem(malformed, 400)
        expect(yield* storedLeads).toBe(1)
      })
    )
  )

  it.live.each(["/leads/", "//leads", "/Leads", "/l%65ads", "/webhooks//marketo", "/webhooks/Marketo/"])(
    "POST %s, a path the router takes for an intake route, gets its 100 Continue and is that route's answer",
    (path) =>
      withApi(
        memoryEnv({ env: { INGEST_API_KEYS: key, MARKETO_WEBHOOK_TOKEN: "mk-continue", REQUEST_TIMEOUT_MS: "5000" } }),
        (api) =>
          Effect.gen(function* () {
            const body = path.includes("marketo")
              ? JSON.stringify({ email: "aliased.marketo@globex.com", programId: 7 })
              : JSON.stringify(sampleLead({ email: "aliased.lead@globex.com" }))
            const reply = yield* continueOverSocket(api.base, path, {
              ...json,
              "x-api-key": key,
              "x-revenueflow-token": "mk-continue",
              body
            })
            // a client that waits for the 100 before its body: sent at once, not after REQUEST_TIMEOUT_MS (408)
            expect([reply.continued, reply.status], reply.text).toEqual([true, 202])
            expect(yield* storedLeads).toBe(1)
          })
      )
  )

  it.live("any other expectation is a 417 problem", () =>
    withApi(env(), (api) =>
      Effect.gen(function* () {
        const reply = yield* api.send("POST", "/leads", {
          headers: { ...json, "x-api-key": key, expect: "something-else" },
          body: JSON.stringify(sampleLead())
        })
        expectProblem(reply, 417)
        expect(reply.json.detail).toContain("something-else")
        // the server's own answers are the API's too
        expect(reply.headers["cache-control"]).toBe("no-store")
        expect(reply.headers["x-content-type-options"]).toBe("nosniff")
        expect(yield* storedLeads).toBe(0)
      })
    )
  )
})
