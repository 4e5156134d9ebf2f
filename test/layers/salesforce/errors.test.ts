import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import { make } from "../../../layers/salesforce/CrmExecutor.js"
import { defaultFields } from "../../../layers/salesforce/config.js"
import { DAILY_QUOTA_RETRY_MS } from "../../../src/domain/crmErrors.js"
import { leadKey } from "../../../src/domain/leadKey.js"
import { type CrmAction, actionKey } from "../../../src/domain/tools.js"
import type { CrmCall, CrmError } from "../../../services/CrmExecutor.js"
import { type FakeSalesforce, id18, startFakeSalesforce } from "../../fakes/salesforce.js"

const email = "jane.doe@acme.com"
const key = leadKey(email, "spring-2025")
const ref = { leadKey: key, email }
const call = (action: CrmAction): CrmCall => ({ ...action, actionKey: actionKey(key, action.tool, action.params) })
const upsertLead = call({ tool: "upsert_lead", params: { ...ref, campaignId: "spring-2025" } })
// A GET: jsforce retries GETs on 429/5xx by default, so these prove its retries are off.
const matchAccount = call({ tool: "match_account", params: { ...ref, domain: "acme.com" } })

const setup = (timeoutMs = 2000) =>
  Effect.gen(function* () {
    const fake = yield* Effect.acquireRelease(
      Effect.promise(() => startFakeSalesforce({ clientId: "rf-client", clientSecret: "s3cret-value" })),
      (f) => Effect.promise(() => f.close())
    )
    const crm = yield* make({
      loginUrl: fake.url,
      apiVersion: "62.0",
      auth: { _tag: "ClientCredentials", clientId: "rf-client", clientSecret: Redacted.make("s3cret-value") },
      timeoutMs,
      fields: defaultFields
    })
    // Log in first so the counts below are about the call under test.
    yield* crm.execute(upsertLead)
    return { fake, crm, before: fake.apiRequests().length }
  })

const sent = (fake: FakeSalesforce, before: number) => fake.apiRequests().length - before
/** What a user sees of a failure: its fate, status and message. */
const seen = (error: CrmError) => ({
  _tag: error._tag,
  status: "status" in error ? error.status : undefined,
  message: error.message
})

describe("Salesforce failures map to the contract's errors", () => {
  it.scopedLive("400 validation -> permanent with the CRM's code and message", () =>
    Effect.gen(function* () {
      const { crm } = yield* setup()
      const bad = call({ tool: "upsert_lead", params: { leadKey: key, email: "not-an-email", campaignId: "c" } })
      const error = yield* Effect.flip(crm.execute(bad))
      expect(error).toMatchObject({
        _tag: "CrmPermanentError",
        provider: "salesforce",
        status: 400,
        code: "INVALID_EMAIL_ADDRESS"
      })
      expect(error.message).toContain("Email: invalid email address")
    })
  )

  it.scopedLive("a day that does not exist -> permanent JSON_PARSER_ERROR, nothing written", () =>
    Effect.gen(function* () {
      // the guard refuses such a date before any call (test/domain/guard.test.ts); the executor alone, as here, meets
      // Salesforce's own refusal, which the fake gives as Salesforce does
      const { fake, crm } = yield* setup()
      const task = (dueDate: string) =>
        call({ tool: "create_task", params: { ...ref, subject: "Call", priority: "High", dueDate } })
      const error = yield* Effect.flip(crm.execute(task("2026-02-30")))
      expect(error).toMatchObject({ _tag: "CrmPermanentError", status: 400, code: "JSON_PARSER_ERROR" })
      expect(error.message).toContain("Cannot deserialize instance of date from VALUE_STRING value 2026-02-30")
      expect(fake.records.Task ?? []).toEqual([])
      const made = yield* crm.execute(task("2024-02-29"))
      expect(fake.records.Task?.map((t) => [id18(t.Id), t.ActivityDate])).toEqual([[made.crmId, "2024-02-29"]])
    })
  )

  it.scopedLive("401 expired session -> one token refresh, one retry, success", () =>
    Effect.gen(function* () {
      const { fake, crm, before } = yield* setup()
      fake.expireSessions()
      const result = yield* crm.execute(upsertLead)
      expect(result.crmId).toBeDefined()
      expect(fake.tokenRequests()).toHaveLength(2)
      expect(sent(fake, before)).toBe(2)
    })
  )

  it.scopedLive(
    "DUPLICATE_VALUE on the key of a keyed upsert (a racing upsert of the same key) -> transient; another -> permanent",
    () =>
      Effect.gen(function* () {
        const { fake, crm } = yield* setup()
        const task = call({ tool: "log_activity", params: { ...ref, subject: "Scored", description: "Fit: high" } })
        // the insert of an upsert that raced another of the same key (the first, timed out, still in flight)
        fake.failNext(
          {
            status: 400,
            body: [
              {
                errorCode: "DUPLICATE_VALUE",
                message:
                  "duplicate value found: RevenueFlow_Action_Key__c duplicates value on record with id: 00T000000000001",
                fields: []
              }
            ]
          },
          1,
          (r) => r.method === "PATCH" && r.path.includes("/sobjects/Task/")
        )
        const raced = yield* Effect.flip(crm.execute(task))
        expect(raced).toMatchObject({ _tag: "CrmTransientError", status: 400, code: "KEYED_UPSERT_CONFLICT" })
        // the retry: one Task
        yield* crm.execute(task)
        expect(fake.records.Task ?? []).toHaveLength(1)
        // a unique field of the org's own is still the lead's to fix
        fake.failNext(
          {
            status: 400,
            body: [{ errorCode: "DUPLICATE_VALUE", message: "duplicate value found: Badge__c", fields: ["Badge__c"] }]
          },
          1,
          (r) => r.method === "PATCH" && r.path.includes("/sobjects/Lead/")
        )
        expect(yield* Effect.flip(crm.execute(upsertLead))).toMatchObject({
          _tag: "CrmPermanentError",
          code: "DUPLICATE_VALUE"
        })
      })
  )

  it.scopedLive("a redirect or a 2xx that is no upsert's answer is a failure, never a write taken as done", () =>
    Effect.gen(function* () {
      const { fake, crm, before } = yield* setup()
      const task = call({ tool: "log_activity", params: { ...ref, subject: "Redirected", description: "x" } })
      // a proxy's redirect: not followed (jsforce would have sent the write again as a GET, with its token)
      fake.failNext(
        { status: 302, headers: { location: "https://elsewhere.example/login" }, body: "" },
        1,
        (r) => r.method === "PATCH" && r.path.includes("/sobjects/Task/")
      )
      expect(yield* Effect.flip(crm.execute(task))).toMatchObject({ _tag: "CrmTransientError" })
      // a proxy's page with a 200
      fake.failNext(
        { status: 200, headers: { "content-type": "text/html" }, body: "<html>Please sign in</html>" },
        1,
        (r) => r.method === "PATCH" && r.path.includes("/sobjects/Task/")
      )
      expect(yield* Effect.flip(crm.execute(task))).toMatchObject({ _tag: "CrmTransientError" })
      expect(fake.records.Task ?? []).toHaveLength(0)
      // the two Task writes, and the org's Task statuses read before the first
      expect(sent(fake, before)).toBe(3)
      // the next attempt writes it
      expect((yield* crm.execute(task)).crmId).toMatch(/^00T/)
    })
  )

  it.scopedLive("401 again after the refresh -> transient 'credentials rejected', no token in the message", () =>
    Effect.gen(function* () {
      const { fake, crm, before } = yield* setup()
      fake.failNext(
        { status: 401, body: [{ errorCode: "INVALID_SESSION_ID", message: "Session expired or invalid" }] },
        2,
        (r) => r.path.includes("/sobjects/")
      )
      const error = yield* Effect.flip(crm.execute(upsertLead))
      expect(error).toMatchObject({
        _tag: "CrmTransientError",
        status: 401,
        message: "salesforce credentials rejected"
      })
      expect(fake.tokenRequests()).toHaveLength(2)
      expect(sent(fake, before)).toBe(2)
    })
  )

  it.scopedLive("token endpoint refusing the secret -> transient 'credentials rejected'", () =>
    Effect.gen(function* () {
      const { fake, crm } = yield* setup()
      fake.expireSessions()
      fake.failNext(
        { status: 400, body: { error: "invalid_client", error_description: "invalid client credentials" } },
        1,
        (r) => r.path === "/services/oauth2/token"
      )
      const error = yield* Effect.flip(crm.execute(upsertLead))
      expect(error).toMatchObject({ _tag: "CrmTransientError", message: "salesforce credentials rejected" })
      expect(JSON.stringify(error)).not.toContain("s3cret")
    })
  )

  it.scopedLive("404 -> permanent NOT_FOUND", () =>
    Effect.gen(function* () {
      const { crm } = yield* setup()
      const error = yield* Effect.flip(
        crm.execute(
          call({ tool: "update_opportunity_stage", params: { ...ref, opportunityId: "006000000000999", stage: "Won" } })
        )
      )
      expect(error).toMatchObject({ _tag: "CrmPermanentError", status: 404, code: "NOT_FOUND" })
    })
  )

  it.scopedLive("429 with Retry-After -> rate limited carrying the wait, sent once", () =>
    Effect.gen(function* () {
      const { fake, crm, before } = yield* setup()
      fake.failNext({
        status: 429,
        headers: { "Retry-After": "7" },
        body: [{ errorCode: "REQUEST_LIMIT_EXCEEDED", message: "slow down" }]
      })
      const error = yield* Effect.flip(crm.execute(matchAccount))
      expect(error).toMatchObject({ _tag: "CrmRateLimited", retryAfterMs: 7000 })
      expect(sent(fake, before)).toBe(1)
    })
  )

  it.scopedLive(
    "403 REQUEST_LIMIT_EXCEEDED without Retry-After -> rate limited: 30 s, or five minutes for the day's allocation",
    () =>
      Effect.gen(function* () {
        const { fake, crm } = yield* setup()
        fake.failNext({
          status: 403,
          body: [{ errorCode: "REQUEST_LIMIT_EXCEEDED", message: "ConcurrentPerOrgLongTxn Limit exceeded." }]
        })
        const concurrent = yield* Effect.flip(crm.execute(upsertLead))
        expect(concurrent).toMatchObject({ _tag: "CrmRateLimited", retryAfterMs: 30_000 })
        fake.failNext({
          status: 403,
          body: [{ errorCode: "REQUEST_LIMIT_EXCEEDED", message: "TotalRequests Limit exceeded." }]
        })
        const daily = yield* Effect.flip(crm.execute(upsertLead))
        expect(daily).toMatchObject({ _tag: "CrmRateLimited", retryAfterMs: DAILY_QUOTA_RETRY_MS })
      })
  )

  for (const status of [500, 503]) {
    it.scopedLive(`${status} on a GET -> transient, and jsforce did not retry it`, () =>
      Effect.gen(function* () {
        const { fake, crm, before } = yield* setup()
        fake.failNext({ status, body: [{ errorCode: "SERVER_UNAVAILABLE", message: "try later" }] }, 3)
        const error = yield* Effect.flip(crm.execute(matchAccount))
        expect(error).toMatchObject({ _tag: "CrmTransientError", status })
        expect(sent(fake, before)).toBe(1)
      })
    )
  }

  it.scopedLive("an HTML page (a proxy's, a maintenance page) -> its status and 'an HTML page', never the page", () =>
    Effect.gen(function* () {
      const { fake, crm } = yield* setup()
      const page = `<!DOCTYPE html>\n<html><head><title>Salesforce - Down for Maintenance</title>${"<style>body{font-family:Arial}</style>".repeat(20)}</head><body><h1>We are down for maintenance</h1><p>Contact support@salesforce.com</p></body></html>`
      const lead = (r: { method: string; path: string }) => r.method === "PATCH" && r.path.includes("/sobjects/Lead/")
      // the usual header (with a charset): jsforce's message is the page itself
      fake.failNext({ status: 503, headers: { "content-type": "text/html; charset=UTF-8" }, body: page }, 1, lead)
      const maintenance = yield* Effect.flip(crm.execute(upsertLead))
      expect(seen(maintenance)).toEqual({
        _tag: "CrmTransientError",
        status: 503,
        message: 'HTTP 503: an HTML page ("Salesforce - Down for Maintenance"), not an answer of the API'
      })
      // a gateway's page with a bare text/html (jsforce then writes a message of its own) and no title: permanent by its
      // 4xx as any 4xx is, and just as short
      fake.failNext({
        status: 403,
        headers: { "content-type": "text/html" },
        body: "<html><body>Forbidden</body></html>"
      })
      const forbidden = yield* Effect.flip(crm.execute(matchAccount))
      expect(seen(forbidden)).toEqual({
        _tag: "CrmPermanentError",
        status: 403,
        message: "HTTP 403: an HTML page, not an answer of the API"
      })
    })
  )

  it.scopedLive("a hanging response -> transient timeout within the configured deadline", () =>
    Effect.gen(function* () {
      const { fake, crm, before } = yield* setup(300)
      fake.failNext("hang")
      const started = Date.now()
      const error = yield* Effect.flip(crm.execute(matchAccount))
      expect(error).toMatchObject({ _tag: "CrmTransientError", message: "salesforce did not answer in time" })
      expect(Date.now() - started).toBeLessThan(1500)
      expect(sent(fake, before)).toBe(1)
    })
  )

  it.scopedLive("a closed port -> transient network error", () =>
    Effect.gen(function* () {
      const { fake, crm } = yield* setup()
      yield* Effect.promise(() => fake.close())
      const error = yield* Effect.flip(crm.execute(matchAccount))
      expect(error).toMatchObject({ _tag: "CrmTransientError" })
      expect(error.message).toContain("unreachable")
    })
  )
})

describe("Salesforce credential rotation", () => {
  /**
   * A fake org on client secret v1, the executor started with it and reading it again (`reloadAuth`) from a secret
   * store `rotate` moves to v2 (at Salesforce too); `upsert` writes one lead; `secretsSent` lists each token request's.
   */
  const rotatingOrg = Effect.gen(function* () {
    const fake = yield* Effect.acquireRelease(
      Effect.promise(() => startFakeSalesforce({ clientId: "rf", clientSecret: "secret-v1" })),
      (f) => Effect.promise(() => f.close())
    )
    let secret = "secret-v1"
    const auth = () => ({ _tag: "ClientCredentials" as const, clientId: "rf", clientSecret: Redacted.make(secret) })
    const crm = yield* make({
      loginUrl: fake.url,
      apiVersion: "62.0",
      auth: auth(),
      reloadAuth: Effect.sync(auth),
      timeoutMs: 2000,
      fields: defaultFields
    })
    const email = "rotation@acme.com"
    const key = leadKey(email, "c")
    const params = { leadKey: key, email, campaignId: "c" }
    return {
      fake,
      upsert: crm.execute({ tool: "upsert_lead" as const, params, actionKey: actionKey(key, "upsert_lead", params) }),
      rotate: () => {
        secret = "secret-v2"
        fake.rotateClientSecret("secret-v2")
      },
      secretsSent: () => fake.tokenRequests().map((r) => new URLSearchParams(r.body).get("client_secret"))
    }
  })

  it.scopedLive("a rotated client secret is read again after the session is rejected, without a restart", () =>
    Effect.gen(function* () {
      const org = yield* rotatingOrg
      yield* org.upsert
      // the secret is rotated in the secret store and at Salesforce; the old session is revoked
      org.rotate()
      org.fake.expireSessions()
      expect((yield* org.upsert).crmId).toBeDefined()
      expect(org.secretsSent()).toEqual(["secret-v1", "secret-v2"])
    })
  )

  it.scopedLive("a secret rotated before the first call is read again when the first sign-in is refused", () =>
    Effect.gen(function* () {
      const org = yield* rotatingOrg
      // started with v1; rotated to v2 (secret store and Salesforce) before any call was made
      org.rotate()
      expect((yield* org.upsert).crmId).toBeDefined()
      expect(org.secretsSent()).toEqual(["secret-v1", "secret-v2"])
    })
  )
})
