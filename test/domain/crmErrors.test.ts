import { describe, expect, it } from "@effect/vitest"
import {
  DAILY_QUOTA_RETRY_MS,
  DEFAULT_RETRY_AFTER_MS,
  classify,
  parseRetryAfter,
  scrubSecrets
} from "../../src/domain/crmErrors.js"

const now = Date.parse("2025-05-01T12:00:00Z")

describe("classify", () => {
  it("HubSpot's 423 Locked waits at least the 2 s its locks last; 477 waits what its Retry-After says", () => {
    const locked = {
      status: 423,
      body: { status: "error", message: "The resource is locked", category: "LOCKED" }
    }
    expect(classify("hubspot", locked, now)).toMatchObject({ _tag: "CrmRateLimited", retryAfterMs: 2000 })
    // a shorter Retry-After does not undercut the lock; a longer one is honoured
    expect(classify("hubspot", { ...locked, headers: { "Retry-After": "1" } }, now)).toMatchObject({
      retryAfterMs: 2000
    })
    expect(classify("hubspot", { ...locked, headers: { "retry-after": "5" } }, now)).toMatchObject({
      retryAfterMs: 5000
    })
    const migrating = { status: 477, headers: { "retry-after": "7" }, body: { message: "Migration in progress" } }
    expect(classify("hubspot", migrating, now)).toMatchObject({ _tag: "CrmRateLimited", retryAfterMs: 7000 })
    expect(classify("hubspot", { status: 477 }, now)).toMatchObject({
      _tag: "CrmRateLimited",
      retryAfterMs: DEFAULT_RETRY_AFTER_MS
    })
    // the statuses are HubSpot's: another CRM's stay what they were
    expect(classify("salesforce", { status: 423 }, now)).toMatchObject({ _tag: "CrmPermanentError" })
    expect(classify("salesforce", { status: 477 }, now)).toMatchObject({ _tag: "CrmPermanentError" })
  })

  it("HubSpot's search (secondly) limit waits one second, not the default 30 s", () => {
    const secondly = {
      status: 429,
      body: {
        status: "error",
        message: "You have reached your secondly limit.",
        errorType: "RATE_LIMIT",
        correlationId: "00000000-0000-0000-0000-000000000000"
      }
    }
    expect(classify("hubspot", secondly, now)).toMatchObject({
      _tag: "CrmRateLimited",
      retryAfterMs: 1000,
      message: "You have reached your secondly limit."
    })
  })

  it("reads Retry-After as seconds or as an HTTP date", () => {
    expect(parseRetryAfter("120", now)).toBe(120_000)
    expect(parseRetryAfter("Thu, 01 May 2025 12:00:45 GMT", now)).toBe(45_000)
    expect(parseRetryAfter("Thu, 01 May 2025 11:00:00 GMT", now)).toBe(0)
    expect(parseRetryAfter("soon", now)).toBeUndefined()
    const dated = classify(
      "salesforce",
      { status: 429, headers: { "retry-after": "Thu, 01 May 2025 12:01:00 GMT" } },
      now
    )
    expect(dated).toMatchObject({ _tag: "CrmRateLimited", retryAfterMs: 60_000 })
    expect(classify("hubspot", { status: 429 }, now)).toMatchObject({ retryAfterMs: DEFAULT_RETRY_AFTER_MS })
  })

  it("a spent daily quota is tried again in five minutes, not at the burst window's pace", () => {
    const at = Date.parse("2025-05-01T12:17:30Z")
    const hubSpotDaily = {
      status: 429,
      headers: { "x-hubspot-ratelimit-interval-milliseconds": "10000" },
      body: {
        status: "error",
        message: "You have reached your daily limit.",
        errorType: "RATE_LIMIT",
        policyName: "DAILY"
      }
    }
    expect(classify("hubspot", hubSpotDaily, at)).toMatchObject({
      _tag: "CrmRateLimited",
      retryAfterMs: DAILY_QUOTA_RETRY_MS,
      message: "You have reached your daily limit."
    })
    // the burst window's 429 waits one window, as before
    const burst = { ...hubSpotDaily, body: { ...hubSpotDaily.body, policyName: "TEN_SECONDLY_ROLLING" } }
    expect(classify("hubspot", burst, at)).toMatchObject({ retryAfterMs: 10_000 })
    const salesforceDaily = [{ errorCode: "REQUEST_LIMIT_EXCEEDED", message: "TotalRequests Limit exceeded." }]
    expect(classify("salesforce", { status: 403, body: salesforceDaily }, at)).toMatchObject({
      _tag: "CrmRateLimited",
      retryAfterMs: DAILY_QUOTA_RETRY_MS
    })
    // the same code for too many concurrent long requests frees up in seconds
    const concurrent = [{ errorCode: "REQUEST_LIMIT_EXCEEDED", message: "ConcurrentPerOrgLongTxn Limit exceeded." }]
    expect(classify("salesforce", { status: 403, body: concurrent }, at)).toMatchObject({
      retryAfterMs: DEFAULT_RETRY_AFTER_MS
    })
    // a Retry-After the CRM sends still wins
    expect(
      classify("hubspot", { ...hubSpotDaily, headers: { ...hubSpotDaily.headers, "retry-after": "60" } }, at)
    ).toMatchObject({ retryAfterMs: 60_000 })
  })

  it("keeps lock and load codes transient even on a 400", () => {
    const body = [{ errorCode: "UNABLE_TO_LOCK_ROW", message: "unable to obtain exclusive access" }]
    expect(classify("salesforce", { status: 400, body })).toMatchObject({ _tag: "CrmTransientError", status: 400 })
    const dup = [{ errorCode: "DUPLICATE_VALUE", message: "duplicate value found", fields: ["RevenueFlow_Key__c"] }]
    expect(classify("salesforce", { status: 400, body: dup })).toMatchObject({
      _tag: "CrmPermanentError",
      code: "DUPLICATE_VALUE",
      message: "duplicate value found (RevenueFlow_Key__c)"
    })
  })

  it("lock contention a trigger or flow hit (CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY wrapping UNABLE_TO_LOCK_ROW) is transient", () => {
    const wrapped = [
      {
        errorCode: "CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY",
        message:
          "LeadTrigger: execution of AfterUpdate caused by: System.DmlException: Update failed. First exception on row 0 with id 00Q5e00000AbCdE; first error: UNABLE_TO_LOCK_ROW, unable to obtain exclusive access to this record or 1 records: 00Q5e00000AbCdE: []",
        fields: []
      }
    ]
    expect(classify("salesforce", { status: 400, body: wrapped })).toMatchObject({
      _tag: "CrmTransientError",
      status: 400,
      code: "CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY"
    })
    const unavailable = [
      { errorCode: "CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY", message: "Flow failed: Record Currently Unavailable" }
    ]
    expect(classify("salesforce", { status: 400, body: unavailable })).toMatchObject({ _tag: "CrmTransientError" })
    // any other error a trigger raised is about the data: still permanent
    const validation = [
      {
        errorCode: "CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY",
        message: "LeadTrigger: execution of BeforeInsert caused by: System.NullPointerException"
      }
    ]
    expect(classify("salesforce", { status: 400, body: validation })).toMatchObject({ _tag: "CrmPermanentError" })
  })

  it("a duplicate rule's refusal names the matched records by object and id, never their fields", () => {
    const body = [
      {
        duplicateResult: {
          allowSave: false,
          duplicateRule: "Standard_Rule_for_Leads_with_Duplicate_Contacts",
          duplicateRuleEntityType: "Lead",
          errorMessage: "Use one of these records?",
          matchResults: [
            {
              entityType: "Contact",
              errors: [],
              matchEngine: "FuzzyMatchEngine",
              matchRecords: [
                {
                  additionalInformation: [],
                  fieldDiffs: [],
                  matchConfidence: 100,
                  record: {
                    attributes: { type: "Contact", url: "/services/data/v62.0/sobjects/Contact/0035e00000XyZaBAAV" },
                    Id: "0035e00000XyZaBAAV",
                    Email: "jane.doe@acme.com"
                  }
                }
              ],
              rule: "Standard_Contact_Match_Rule_v1_1",
              size: 1,
              success: true
            }
          ]
        },
        errorCode: "DUPLICATES_DETECTED",
        message: "Use one of these records?"
      }
    ]
    const error = classify("salesforce", { status: 400, body })
    expect(error).toMatchObject({ _tag: "CrmPermanentError", code: "DUPLICATES_DETECTED" })
    expect(error.message).toBe(
      "Use one of these records? [duplicate rule Standard_Rule_for_Leads_with_Duplicate_Contacts matched Contact 0035e00000XyZaBAAV]"
    )
    expect(error.message).not.toContain("jane.doe")
  })

  it("maps SOAP INVALID_SESSION_ID faults (HTTP 500) to rejected credentials", () => {
    expect(classify("salesforce", { status: 500, code: "sf:INVALID_SESSION_ID" })).toMatchObject({
      _tag: "CrmTransientError",
      message: "salesforce credentials rejected"
    })
  })

  it("never lets a credential into a message", () => {
    const leaked = "bad token Bearer 00D5e000000abcd!AQ8AQJ.xyz and pat-na1-11111111-2222 client_secret=hunter2"
    const error = classify("salesforce", { status: 400, body: [{ errorCode: "X", message: leaked }] })
    expect(error.message).not.toMatch(/00D5e000000abcd|pat-na1-1111|hunter2/)
    expect(scrubSecrets("sessionId>00D000000000001!abc<")).not.toContain("!abc")
  })
})
