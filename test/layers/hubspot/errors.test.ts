import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as Ref from "effect/Ref"
import { DAILY_QUOTA_RETRY_MS } from "../../../src/domain/crmErrors.js"
import { call, email, key, ref, setup } from "./support.js"

const upsertLead = call({ tool: "upsert_lead", params: { ...ref, campaignId: "spring-2025" } })

describe("HubSpot failures map to the contract's errors", () => {
  it.scopedLive("the day's quota spent -> rate-limited for five minutes, nothing written", () =>
    Effect.gen(function* () {
      const { fake, crm } = yield* setup({}, { dailyLimit: 1 })
      yield* crm.execute(upsertLead)
      const error = yield* Effect.flip(
        crm.execute(call({ tool: "upsert_lead", params: { ...ref, email: "x@acme.com", campaignId: "c" } }))
      )
      // not the burst window's 10 s (the answer names it): the daily quota's own wait
      expect(error).toMatchObject({
        _tag: "CrmRateLimited",
        message: "You have reached your daily limit.",
        retryAfterMs: DAILY_QUOTA_RETRY_MS
      })
      expect(fake.records.contacts).toHaveLength(1)
    })
  )

  it.scopedLive("400 validation -> permanent with HubSpot's category and message", () =>
    Effect.gen(function* () {
      const { crm } = yield* setup()
      const bad = call({ tool: "upsert_lead", params: { leadKey: key, email: "not-an-email", campaignId: "c" } })
      const error = yield* Effect.flip(crm.execute(bad))
      expect(error).toMatchObject({
        _tag: "CrmPermanentError",
        provider: "hubspot",
        status: 400,
        code: "VALIDATION_ERROR"
      })
      expect(error.message).toContain("Property values were not valid")
    })
  )

  it.scopedLive("207 multi-status with an input error -> permanent", () =>
    Effect.gen(function* () {
      const { fake, crm } = yield* setup()
      const at = new Date().toISOString()
      fake.failNext({
        status: 207,
        body: {
          status: "COMPLETE",
          results: [],
          numErrors: 1,
          errors: [
            {
              status: "error",
              category: "VALIDATION_ERROR",
              message: "Property revenueflow_lead_key does not exist",
              context: {},
              links: {}
            }
          ],
          startedAt: at,
          completedAt: at
        }
      })
      const error = yield* Effect.flip(crm.execute(upsertLead))
      expect(error).toMatchObject({ _tag: "CrmPermanentError", code: "VALIDATION_ERROR" })
      expect(error.message).toContain("revenueflow_lead_key does not exist")
    })
  )

  it.scopedLive("401 -> the token is read again; a rotated one is used for one retry", () =>
    Effect.gen(function* () {
      const current = yield* Ref.make("pat-na1-old")
      const { fake, crm } = yield* setup({ accessToken: Effect.map(Ref.get(current), Redacted.make) })
      yield* crm.execute(upsertLead)
      fake.setTokens(["pat-na1-new"])
      yield* Ref.set(current, "pat-na1-new")
      yield* crm.execute(upsertLead)
      expect(fake.requests.map((r) => r.headers.authorization)).toEqual([
        "Bearer pat-na1-old",
        "Bearer pat-na1-old",
        "Bearer pat-na1-new"
      ])
    })
  )

  it.scopedLive(
    "401 with an unchanged token -> transient 'credentials rejected', sent once, token not in the error",
    () =>
      Effect.gen(function* () {
        const { fake, crm } = yield* setup()
        fake.setTokens(["pat-na1-other"])
        const error = yield* Effect.flip(crm.execute(upsertLead))
        expect(error).toMatchObject({ _tag: "CrmTransientError", status: 401, message: "hubspot credentials rejected" })
        expect(fake.requests).toHaveLength(1)
        expect(JSON.stringify(error)).not.toContain("pat-na1")
      })
  )

  it.scopedLive("404 -> permanent OBJECT_NOT_FOUND", () =>
    Effect.gen(function* () {
      const { crm } = yield* setup()
      const error = yield* Effect.flip(
        crm.execute(
          call({ tool: "update_opportunity_stage", params: { ...ref, opportunityId: "999", stage: "closedwon" } })
        )
      )
      expect(error).toMatchObject({ _tag: "CrmPermanentError", status: 404, code: "OBJECT_NOT_FOUND" })
    })
  )

  it.scopedLive("429 with Retry-After -> rate limited carrying the wait; without it, the window length", () =>
    Effect.gen(function* () {
      const { fake, crm } = yield* setup()
      const limited = {
        status: "error",
        message: "You have reached your ten_secondly_rolling limit.",
        errorType: "RATE_LIMIT",
        policyName: "TEN_SECONDLY_ROLLING"
      }
      fake.failNext({ status: 429, headers: { "Retry-After": "3" }, body: limited })
      expect(yield* Effect.flip(crm.execute(upsertLead))).toMatchObject({ _tag: "CrmRateLimited", retryAfterMs: 3000 })
      fake.failNext({ status: 429, headers: { "X-HubSpot-RateLimit-Interval-Milliseconds": "10000" }, body: limited })
      expect(yield* Effect.flip(crm.execute(upsertLead))).toMatchObject({ _tag: "CrmRateLimited", retryAfterMs: 10000 })
      expect(fake.requests).toHaveLength(2)
    })
  )

  it.scopedLive("an answer with no Content-Type (a proxy's) keeps its status: 429 waits, 503 retries, 400 fails", () =>
    Effect.gen(function* () {
      const { fake, crm } = yield* setup()
      // no body, so the fake sends no Content-Type, as a load balancer's bare 429 or 503 comes
      fake.failNext({ status: 429, headers: { "Retry-After": "7" } })
      expect(yield* Effect.flip(crm.execute(upsertLead))).toMatchObject({ _tag: "CrmRateLimited", retryAfterMs: 7000 })
      fake.failNext({ status: 503 })
      expect(yield* Effect.flip(crm.execute(upsertLead))).toMatchObject({ _tag: "CrmTransientError", status: 503 })
      fake.failNext({ status: 400 })
      expect(yield* Effect.flip(crm.execute(upsertLead))).toMatchObject({ _tag: "CrmPermanentError", status: 400 })
      expect(fake.records.contacts ?? []).toHaveLength(0)
      yield* crm.execute(upsertLead)
      expect(fake.records.contacts).toHaveLength(1)
    })
  )

  for (const status of [500, 503]) {
    it.scopedLive(`${status} -> transient, and the client did not retry`, () =>
      Effect.gen(function* () {
        const { fake, crm } = yield* setup()
        fake.failNext({ status, body: { status: "error", message: "internal error", category: "INTERNAL_ERROR" } }, 3)
        const error = yield* Effect.flip(
          crm.execute(call({ tool: "match_account", params: { ...ref, domain: "acme.com" } }))
        )
        expect(error).toMatchObject({ _tag: "CrmTransientError", status })
        expect(fake.requests).toHaveLength(1)
      })
    )
  }

  it.scopedLive("a hanging response -> transient timeout within the configured deadline", () =>
    Effect.gen(function* () {
      const { fake, crm } = yield* setup({ timeoutMs: 300 })
      fake.failNext("hang")
      const started = Date.now()
      const error = yield* Effect.flip(crm.execute(upsertLead))
      expect(error).toMatchObject({ _tag: "CrmTransientError", message: "hubspot did not answer in time" })
      expect(Date.now() - started).toBeLessThan(1500)
      expect(fake.requests).toHaveLength(1)
    })
  )

  it.scopedLive("a closed port -> transient network error", () =>
    Effect.gen(function* () {
      const { fake, crm } = yield* setup()
      yield* Effect.promise(() => fake.close())
      const error = yield* Effect.flip(crm.execute(upsertLead))
      expect(error).toMatchObject({ _tag: "CrmTransientError" })
      expect(error.message).toContain("unreachable")
    })
  )
})

describe("HubSpot error text", () => {
  it.scopedLive("an error echoing the token in use or the lead's email and phone carries none of them", () =>
    Effect.gen(function* () {
      // a token of no known shape (not pat-…): only the executor knows it is a secret
      const opaque = "opaque-hub-token-0123456789"
      const { fake, crm } = yield* setup({ accessToken: Redacted.make(opaque) }, { tokens: [opaque] })
      fake.failNext({
        status: 400,
        body: {
          status: "error",
          category: "VALIDATION_ERROR",
          correlationId: "00000000-0000-0000-0000-000000000000",
          message: `Request with ${opaque} (${encodeURIComponent(`Bearer ${opaque}`)}) refused for ${email}, phone +1 415 555 0100`
        }
      })
      const error = yield* Effect.flip(crm.execute(upsertLead))
      expect(error._tag).toBe("CrmPermanentError")
      expect(error.message).toBe(
        "Request with [redacted] (Bearer%20[redacted]) refused for ***@acme.com, phone [phone]"
      )
    })
  )
})
