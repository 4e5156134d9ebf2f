import { describe, expect, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import { leadKey } from "../../src/domain/leadKey.js"
import { actionKey, isToolName, ToolParams, toolNames } from "../../src/domain/tools.js"

const key = leadKey("a@b.co", "camp-1")

describe("tool registry", () => {
  it("lists the twelve tools the pipeline may call, each with a Schema", () => {
    expect([...toolNames].sort()).toEqual(
      [
        "convert_lead",
        "create_contact",
        "create_lead",
        "create_opportunity",
        "create_task",
        "log_activity",
        "match_account",
        "set_lead_score",
        "sync_firmographics",
        "update_lead_status",
        "update_opportunity_stage",
        "upsert_lead"
      ].sort()
    )
    for (const tool of toolNames) expect(Schema.isSchema(ToolParams[tool])).toBe(true)
  })

  it("every tool requires the lead reference and rejects unknown parameters", () => {
    for (const tool of toolNames) {
      const decode = Schema.decodeUnknownEither(ToolParams[tool] as Schema.Schema<unknown>, { errors: "all" })
      const missing = decode({})
      expect(Either.isLeft(missing), tool).toBe(true)
      if (Either.isLeft(missing)) {
        expect(missing.left.message, tool).toContain("leadKey")
        expect(missing.left.message, tool).toContain("email")
      }
      // The strict annotation applies even when the caller forgets onExcessProperty.
      const extra = decode({ leadKey: key, email: "a@b.co", isAdmin: true })
      expect(Either.isLeft(extra) && extra.left.message.includes("isAdmin"), tool).toBe(true)
    }
  })

  it("isToolName accepts registered names only, not Object.prototype members", () => {
    expect(isToolName("upsert_lead")).toBe(true)
    for (const name of ["toString", "constructor", "__proto__", "hasOwnProperty", "delete_lead", ""]) {
      expect(isToolName(name), name).toBe(false)
    }
  })

  it("set_lead_score checks the score range and the analysis vocabulary", () => {
    const decode = Schema.decodeUnknownEither(ToolParams.set_lead_score, { errors: "all" })
    const ok = { leadKey: key, email: "a@b.co", score: 80, intent: "High Fit", decision: "Route to SDR" }
    expect(Either.isRight(decode(ok))).toBe(true)
    expect(Either.isLeft(decode({ ...ok, score: 101 }))).toBe(true)
    expect(Either.isLeft(decode({ ...ok, score: 50.5 }))).toBe(true)
    expect(Either.isLeft(decode({ ...ok, decision: "Delete" }))).toBe(true)
  })
})

describe("actionKey", () => {
  const params = { leadKey: key, email: "a@b.co", campaignId: "camp-1", company: "Acme" }

  it("is a 64-hex sha256 and stable under key order, at every depth", () => {
    const a = actionKey(key, "upsert_lead", { ...params, nested: { x: 1, y: [{ b: 2, a: 1 }] } })
    const b = actionKey(key, "upsert_lead", {
      nested: { y: [{ a: 1, b: 2 }], x: 1 },
      company: "Acme",
      campaignId: "camp-1",
      email: "a@b.co",
      leadKey: key
    })
    expect(a).toMatch(/^[0-9a-f]{64}$/)
    expect(a).toBe(b)
  })

  it("ignores undefined members, as JSON does", () => {
    expect(actionKey(key, "upsert_lead", { ...params, title: undefined })).toBe(actionKey(key, "upsert_lead", params))
  })

  it("differs when the params, the tool or the lead differ", () => {
    const base = actionKey(key, "upsert_lead", params)
    expect(actionKey(key, "upsert_lead", { ...params, company: "Acme Inc" })).not.toBe(base)
    expect(actionKey(key, "create_lead", params)).not.toBe(base)
    expect(actionKey(leadKey("c@d.co", "camp-1"), "upsert_lead", params)).not.toBe(base)
    // Array order is data, not formatting.
    expect(actionKey(key, "t", { a: [1, 2] })).not.toBe(actionKey(key, "t", { a: [2, 1] }))
  })

  it("keeps an own __proto__ key (JSON.parse creates one) instead of dropping it", () => {
    const withProto = JSON.parse('{"a":1,"__proto__":{"x":1}}')
    expect(actionKey(key, "t", withProto)).not.toBe(actionKey(key, "t", { a: 1 }))
  })

  it("serialises dates by value, so two different dates give two keys", () => {
    expect(actionKey(key, "t", { at: new Date(0) })).not.toBe(actionKey(key, "t", { at: new Date(1000) }))
    expect(actionKey(key, "t", { at: new Date(0) })).toBe(actionKey(key, "t", { at: "1970-01-01T00:00:00.000Z" }))
  })
})
