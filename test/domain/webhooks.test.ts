import { createHmac } from "node:crypto"
import { readFileSync } from "node:fs"
import { describe, expect, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import { LeadInput, strictParseOptions } from "../../src/domain/lead.js"
import { hubspotToLeadInput } from "../../src/domain/webhooks/hubspot.js"
import {
  hubspotSignatureV3,
  hubspotSignedUri,
  verifyHubSpotSignatureV3
} from "../../src/domain/webhooks/hubspotSignature.js"
import { marketoTemplate, marketoToLeadInput, verifyMarketoToken } from "../../src/domain/webhooks/marketo.js"

const decodeLead = Schema.decodeUnknownEither(LeadInput, strictParseOptions)

describe("verifyHubSpotSignatureV3", () => {
  // Published vector: HubSpot's own Python client, tests/spec/utils/test_signature.py (test_get_signature__v3).
  const published = {
    secret: "yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy",
    method: "POST",
    uri: "https://www.example.com/webhook_uri",
    body: "{'example_field':'example_value'}",
    timestamp: "15000000",
    signature: "HPW73RUtKmcYoEDADG0s6MmGFWUzWJKAW07r8RDgcQw="
  }

  it("matches HubSpot's published v3 test vector", () => {
    expect(hubspotSignatureV3(published)).toBe(published.signature)
    expect(verifyHubSpotSignatureV3({ ...published, nowMs: 15_000_000 + 1_000 })).toEqual(Either.right(true))
  })

  it("accepts the body as raw bytes too", () => {
    const body = new TextEncoder().encode(published.body)
    expect(verifyHubSpotSignatureV3({ ...published, body, nowMs: 15_000_000 })).toEqual(Either.right(true))
  })

  it("signs the URI with HubSpot's listed escapes decoded (vector computed here with node:crypto)", () => {
    const sent =
      "https://example.com/webhooks/hubspot?email=jane%40acme.com&path=%2Fa%2Fb&note=%28hi%29%21%2A%2c%3b%3A%3F%24%27&q=a%20b%26c%253A"
    const signed =
      "https://example.com/webhooks/hubspot?email=jane@acme.com&path=/a/b&note=(hi)!*,;:?$'&q=a%20b%26c%253A"
    expect(hubspotSignedUri(sent)).toBe(signed)
    const secret = "app-secret"
    const body = '{"email":"jane@acme.com"}'
    const timestamp = "1764163063123"
    const signature = createHmac("sha256", secret).update(`POST${signed}${body}${timestamp}`, "utf8").digest("base64")
    const nowMs = 1_764_163_063_123 + 60_000
    expect(verifyHubSpotSignatureV3({ secret, method: "POST", uri: sent, body, timestamp, signature, nowMs })).toEqual(
      Either.right(true)
    )
  })

  it("hashes non-ASCII bodies as UTF-8", () => {
    const body = '{"firstname":"Zoë","company":"Müller & Söhne"}'
    const signature = createHmac("sha256", "s").update(`POSThttps://h/x${body}1000`, "utf8").digest("base64")
    const input = { secret: "s", method: "POST", uri: "https://h/x", body, timestamp: "1000", signature, nowMs: 1000 }
    expect(verifyHubSpotSignatureV3(input)).toEqual(Either.right(true))
  })

  const valid = { ...published, nowMs: 15_000_000 }
  it.each([
    ["a tampered body", { body: "{'example_field':'other'}" }, "signature-mismatch"],
    ["another secret", { secret: "zzzzzzzz" }, "signature-mismatch"],
    ["another method", { method: "PUT" }, "signature-mismatch"],
    ["another uri", { uri: "https://www.example.com/other" }, "signature-mismatch"],
    ["a truncated signature", { signature: "HPW73RUtKmcY" }, "signature-mismatch"],
    ["a hex signature", { signature: "1ce5bb75" }, "signature-mismatch"],
    ["no signature", { signature: undefined }, "missing-signature"],
    ["no timestamp", { timestamp: undefined }, "missing-timestamp"],
    ["a non-numeric timestamp", { timestamp: "15000000.5" }, "invalid-timestamp"],
    ["a timestamp just over 5 minutes old", { nowMs: 15_000_000 + 300_001 }, "timestamp-too-old"],
    ["a timestamp too far in the future", { nowMs: 15_000_000 - 300_001 }, "timestamp-in-future"]
  ])("rejects %s", (_label, change, reason) => {
    expect(verifyHubSpotSignatureV3({ ...valid, ...change })).toEqual(Either.left(reason))
  })

  it("accepts a timestamp exactly 5 minutes old, and honours a custom maxAgeMs", () => {
    expect(verifyHubSpotSignatureV3({ ...valid, nowMs: 15_000_000 + 300_000 })).toEqual(Either.right(true))
    expect(verifyHubSpotSignatureV3({ ...valid, nowMs: 15_000_000 + 61_000, maxAgeMs: 60_000 })).toEqual(
      Either.left("timestamp-too-old")
    )
  })

  it("during a rotation verifies under the current or the previous secret, and under no other", () => {
    const { secret } = published
    expect(verifyHubSpotSignatureV3({ ...valid, secret: ["new-secret", secret] })).toEqual(Either.right(true))
    expect(verifyHubSpotSignatureV3({ ...valid, secret: [secret, "new-secret"] })).toEqual(Either.right(true))
    expect(verifyHubSpotSignatureV3({ ...valid, secret: ["new-secret", "older"] })).toEqual(
      Either.left("signature-mismatch")
    )
    expect(verifyHubSpotSignatureV3({ ...valid, secret: [] })).toEqual(Either.left("signature-mismatch"))
  })

  it("a blank secret verifies nothing, not even a request signed with the empty key", () => {
    for (const blank of ["", "  "]) {
      const signature = hubspotSignatureV3({ ...published, secret: blank })
      expect(verifyHubSpotSignatureV3({ ...valid, secret: blank, signature })).toEqual(
        Either.left("signature-mismatch")
      )
      expect(verifyHubSpotSignatureV3({ ...valid, secret: [blank], signature })).toEqual(
        Either.left("signature-mismatch")
      )
    }
  })
})

describe("hubspotToLeadInput", () => {
  const expected = {
    email: "jane@acme.com",
    campaignId: "spring-webinar",
    firstName: "Jane",
    lastName: "Doe",
    company: "Acme",
    title: "VP Sales",
    phone: "+1 415 555 0100",
    website: "acme.com",
    source: "PAID_SEARCH",
    activity: { pageViews: 12, formSubmissions: 2, lastActivityAt: "2026-11-26T13:17:43.123Z" },
    attributes: { "hubspot.contactId": "901", "hubspot.portalId": "62515" }
  }
  const flat = {
    email: " Jane@ACME.com ",
    firstname: "Jane",
    lastname: "Doe",
    company: "Acme",
    jobtitle: "VP Sales",
    phone: "+1 415 555 0100",
    website: "acme.com",
    country: "",
    hs_analytics_source: "PAID_SEARCH",
    hs_analytics_source_data_2: "spring-webinar",
    hs_analytics_num_page_views: "12",
    num_conversion_events: "2",
    hs_analytics_last_timestamp: "1795699063123",
    hs_lead_status: "NEW"
  }

  it("maps the legacy workflow body { vid, portal-id, properties: { x: { value } } }", () => {
    const properties = Object.fromEntries(Object.entries(flat).map(([k, v]) => [k, { value: v, versions: [] }]))
    const mapped = hubspotToLeadInput({ vid: 901, "canonical-vid": 901, "portal-id": 62515, properties })
    expect(decodeLead(mapped)).toEqual(Either.right(expected))
  })

  it("maps the CRM v3 shape { objectId, properties: { x: '...' } }, also nested under object", () => {
    const v3 = { objectId: 901, portalId: 62515, properties: flat }
    expect(decodeLead(hubspotToLeadInput(v3))).toEqual(Either.right(expected))
    const nested = { portalId: 62515, object: { objectId: "901", properties: flat } }
    expect(decodeLead(hubspotToLeadInput(nested))).toEqual(Either.right(expected))
  })

  it("maps a flat body of chosen properties", () => {
    const mapped = hubspotToLeadInput({ ...flat, hs_object_id: "901" })
    expect(decodeLead(mapped)).toEqual(Either.right({ ...expected, attributes: { "hubspot.contactId": "901" } }))
  })

  it("reads the campaign from a configurable property, with a fallback", () => {
    expect(
      hubspotToLeadInput({ ...flat, campaign_code: "C-7" }, { campaignProperty: "campaign_code" }).campaignId
    ).toBe("C-7")
    const { hs_analytics_source_data_2: _none, ...noCampaign } = flat
    expect(hubspotToLeadInput(noCampaign).campaignId).toBe("hubspot")
    expect(hubspotToLeadInput(noCampaign, { fallbackCampaign: "hs-default" }).campaignId).toBe("hs-default")
  })

  it("never turns a non-finite number into text ('Infinity') or a count", () => {
    const inf = Number.POSITIVE_INFINITY
    const mapped = hubspotToLeadInput({
      objectId: 901,
      properties: {
        email: "jane@acme.com",
        firstname: inf,
        hs_analytics_source_data_2: { value: -inf },
        hs_analytics_num_page_views: inf
      }
    })
    expect(mapped).toEqual({
      email: "jane@acme.com",
      campaignId: "hubspot",
      attributes: { "hubspot.contactId": "901" }
    })
    expect(hubspotToLeadInput({ email: "jane@acme.com", hs_analytics_num_page_views: Number.NaN }).activity).toBe(
      undefined
    )
  })

  it("leaves validation to LeadInput, which names the missing email", () => {
    for (const body of [{ properties: { firstname: { value: "Jane" } } }, [], "text", null]) {
      const result = decodeLead(hubspotToLeadInput(body))
      expect(Either.isLeft(result)).toBe(true)
      if (Either.isLeft(result)) expect(result.left.message).toContain('["email"]')
    }
  })
})

/** Renders a Marketo template the way Marketo does with Request Token Encoding = JSON. */
const render = (template: string, tokens: Record<string, string | number | null>) =>
  template.replace(/\{\{([^}]+)\}\}/g, (_match, name: string) => {
    if (!(name in tokens)) throw new Error(`template uses an unknown token ${name}`)
    return JSON.stringify(tokens[name] ?? "")
  })

describe("marketoToLeadInput", () => {
  const tokens = {
    "lead.Email Address": "Jane@Acme.com",
    "lead.First Name": "Jane",
    "lead.Last Name": "Doe",
    "company.Company Name": 'Jack & "Jill" {{Construction}}',
    "lead.Job Title": "Delete Manager",
    "lead.Phone Number": "",
    "company.Website": "https://acme.com",
    "lead.Country": "US",
    "lead.Lead Source": "Website",
    "lead.Id": 1234,
    "program.id": 1088,
    "program.name": "Spring Webinar",
    "campaign.name": "Webinar Sign-up"
  }

  it("maps a rendered marketoTemplate to a valid LeadInput", () => {
    const body = JSON.parse(render(marketoTemplate, tokens))
    expect(decodeLead(marketoToLeadInput(body))).toEqual(
      Either.right({
        email: "jane@acme.com",
        campaignId: "1088",
        firstName: "Jane",
        lastName: "Doe",
        company: 'Jack & "Jill" {{Construction}}',
        title: "Delete Manager",
        website: "https://acme.com",
        country: "US",
        source: "Website",
        attributes: {
          "marketo.leadId": "1234",
          "marketo.programName": "Spring Webinar",
          "marketo.campaignName": "Webinar Sign-up"
        }
      })
    )
  })

  it("uses an explicit campaignId, falls back to 'marketo', and keeps extra keys as attributes", () => {
    expect(marketoToLeadInput({ email: "a@b.co", campaignId: "C1", programId: 9 }).campaignId).toBe("C1")
    expect(marketoToLeadInput({ email: "a@b.co", programId: null }).campaignId).toBe("marketo")
    const mapped = marketoToLeadInput({ email: "a@b.co", utmSource: "google", score: 42, region: "EMEA" })
    expect(decodeLead(mapped)).toEqual(
      Either.right({
        email: "a@b.co",
        campaignId: "marketo",
        utmSource: "google",
        attributes: { score: 42, region: "EMEA" }
      })
    )
  })

  it("lets LeadInput reject bad extra keys, __proto__ included, by name", () => {
    const body = JSON.parse('{"email":"a@b.co","__proto__":{"admin":true},"nested":{"a":1}}')
    const mapped = marketoToLeadInput(body)
    expect(Object.getPrototypeOf(mapped.attributes)).toBe(Object.prototype)
    const result = decodeLead(mapped)
    expect(Either.isLeft(result)).toBe(true)
    if (Either.isLeft(result)) {
      const paths = ParseResult.ArrayFormatter.formatErrorSync(result.left).map((issue) => issue.path.join("."))
      expect(paths).toContain("attributes.__proto__")
      expect(paths).toContain("attributes.nested")
    }
  })

  it("lets LeadInput name an extra key holding a non-finite number", () => {
    const result = decodeLead(marketoToLeadInput({ email: "a@b.co", score: Number.POSITIVE_INFINITY }))
    expect(Either.isLeft(result)).toBe(true)
    if (Either.isLeft(result)) {
      const paths = ParseResult.ArrayFormatter.formatErrorSync(result.left).map((issue) => issue.path.join("."))
      expect(new Set(paths)).toEqual(new Set(["attributes.score"]))
    }
  })

  it("the README snippet holds the exported template verbatim", () => {
    const readme = readFileSync(new URL("../../src/domain/webhooks/marketo.md", import.meta.url), "utf8")
    expect(readme).toContain(`\`\`\`json\n${marketoTemplate}\n\`\`\``)
  })

  it("verifies the shared token in constant time", () => {
    expect(verifyMarketoToken("s3cret-token", "s3cret-token")).toBe(true)
    expect(verifyMarketoToken("s3cret-token", "s3cret-tokeN")).toBe(false)
    expect(verifyMarketoToken("s3cret-token", "s3cret")).toBe(false)
    expect(verifyMarketoToken("s3cret-token", undefined)).toBe(false)
    expect(verifyMarketoToken("", "")).toBe(false)
  })

  it("during a rotation accepts the current or the previous token; never a blank one", () => {
    expect(verifyMarketoToken(["new-token", "old-token"], "new-token")).toBe(true)
    expect(verifyMarketoToken(["new-token", "old-token"], "old-token")).toBe(true)
    expect(verifyMarketoToken(["new-token", "old-token"], "other")).toBe(false)
    expect(verifyMarketoToken(["new-token", " "], " ")).toBe(false)
    expect(verifyMarketoToken([], "new-token")).toBe(false)
  })
})
