import { describe, expect, it } from "@effect/vitest"
import * as Redacted from "effect/Redacted"
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

  it("judges other SOAP faults by their code, not their HTTP 500: a configuration fault is permanent", () => {
    expect(
      classify("salesforce", { status: 500, code: "sf:API_DISABLED_FOR_ORG", message: "API is disabled" })
    ).toMatchObject({ _tag: "CrmPermanentError", code: "API_DISABLED_FOR_ORG" })
    expect(classify("salesforce", { status: 500, code: "sf:UNKNOWN_EXCEPTION" })).toMatchObject({
      _tag: "CrmTransientError"
    })
    expect(classify("salesforce", { status: 500, code: "sf:REQUEST_LIMIT_EXCEEDED" })).toMatchObject({
      _tag: "CrmRateLimited"
    })
    // a plain 5xx (no fault) is still transient
    expect(classify("salesforce", { status: 503, body: "<html>Server Unavailable</html>" })).toMatchObject({
      _tag: "CrmTransientError"
    })
  })

  it("a write refused while Salesforce is read-only for maintenance is transient", () => {
    const body = [
      {
        errorCode: "INSERT_UPDATE_DELETE_NOT_ALLOWED_DURING_MAINTENANCE",
        message: "Updates can't be made during maintenance."
      }
    ]
    expect(classify("salesforce", { status: 400, body })).toMatchObject({ _tag: "CrmTransientError" })
  })

  it("never lets a credential into a message", () => {
    const leaked = "bad token Bearer 00D5e000000abcd!AQ8AQJ.xyz and pat-na1-11111111-2222 client_secret=hunter2"
    const error = classify("salesforce", { status: 400, body: [{ errorCode: "X", message: leaked }] })
    expect(error.message).not.toMatch(/00D5e000000abcd|pat-na1-1111|hunter2/)
    expect(scrubSecrets("sessionId>00D000000000001!abc<")).not.toContain("!abc")
  })

  it("scrubs the credentials a CRM error echoes beyond Bearer and pat- tokens", () => {
    const echoes: ReadonlyArray<readonly [string, string]> = [
      ["Authorization: Basic dXNlcjpodW50ZXIy", "dXNlcjpodW50ZXIy"],
      ['{"Authorization":"OAuth 4f3c2b1a9e8d7c6b"}', "4f3c2b1a9e8d7c6b"],
      ["headers: { x-api-key: abcdEFGH1234 }", "abcdEFGH1234"],
      ["GET /crm/v3/objects/contacts?hapikey=1a2b3c4d-aaaa-bbbb&limit=1", "1a2b3c4d-aaaa-bbbb"],
      ["api_key=zz99yy88xx; apiKey: ww77vv66", "zz99yy88xx"],
      ["api_key=zz99yy88xx; apiKey: ww77vv66", "ww77vv66"],
      ["grant_type=refresh_token&refresh_token=5Aep861TSESvWeug_x&client_id=3MVG9", "5Aep861TSESvWeug_x"],
      ["access_token=ya29.a0AfH6SM&token_type=Bearer", "ya29.a0AfH6SM"],
      ['{"client_secret": "E7A1-secret-value"}', "E7A1-secret-value"],
      ['{"username":"bob","password":"hunter2 with spaces"}', "hunter2 with spaces"],
      ['{\\"password\\":\\"escaped hunter2\\"}', "escaped hunter2"],
      ["username=bob&password=hunter2!&grant_type=password", "hunter2!"],
      ["<urn:password>hunter2secret</urn:password>", "hunter2secret"],
      ["Cookie: sid=00D5g000004XYZa!AQ8AQJXg5oj8.jXSg; BrowserId=1", "AQ8AQJXg5oj8.jXSg"],
      ["<sessionId>00D5g000004XYZaB12!AQ0AQH.9kq_Zx</sessionId>", "AQ0AQH.9kq_Zx"],
      ["session 00D5g000004XYZa!AR8AQJXg5oj8jXSgxJfA0lBog.39AsX expired", "AR8AQJXg5oj8jXSgxJfA0lBog.39AsX"],
      ["-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7\n-----END RSA PRIVATE KEY-----", "MIIEowIBAAKCAQEA7"]
    ]
    for (const [text, secret] of echoes) {
      const error = classify("hubspot", { status: 400, body: { message: text, category: "VALIDATION_ERROR" } })
      expect(error.message, text).not.toContain(secret)
      expect(error.message, text).toContain("[redacted]")
      expect(scrubSecrets(text), text).not.toContain(secret)
    }
    // words that only look like credentials are left: the message still says what went wrong
    for (const text of [
      "INVALID_LOGIN: Invalid username, password, security token; or user locked out.",
      "INVALID_SESSION_ID: Session expired or invalid",
      "Required fields are missing: [Password]",
      "Basic information is missing"
    ]) {
      expect(scrubSecrets(text)).toBe(text)
    }
  })

  it("scrubs the executor's own secret values literally, in the spellings a request carries them", () => {
    const secrets = [
      Redacted.make("S3cr3t/pass word+1"),
      Redacted.make("opaque-token-value-42"),
      Redacted.make("short")
    ]
    const text =
      "echo: S3cr3t/pass word+1 | S3cr3t%2Fpass%20word%2B1 | opaque-token-value-42 | short stays (too short to mean anything)"
    const error = classify("salesforce", { status: 500, body: [{ errorCode: "UNKNOWN", message: text }] }, 0, secrets)
    expect(error.message).toBe("echo: [redacted] | [redacted] | [redacted] | short stays (too short to mean anything)")
    expect(scrubSecrets(text, secrets)).toBe(error.message)
  })

  it("masks the emails and phone numbers a CRM error quotes, before the message is cut to length", () => {
    const quoted = `Contact already exists: jane.doe@acme.com, phone +1 415 555 0100 (${"x".repeat(480)} ada@globex.com`
    const error = classify("hubspot", { status: 409, body: { message: quoted, category: "CONFLICT" } })
    expect(error.message).toContain("***@acme.com")
    expect(error.message).toContain("[phone]")
    expect(error.message).not.toMatch(/jane\.doe|415 555 0100|ada@/)
    expect(error.message.length).toBeLessThanOrEqual(500)
    // an address cut by the limit is not left half-shown: masking runs on the whole text first
    const cut = classify("hubspot", { status: 400, body: { message: `${"y".repeat(495)} jane.doe@acme.com` } })
    expect(cut.message).not.toContain("jane")
  })
})
