import { describe, expect, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import { GuardBlocked, guardAction, isBlockedToolName, maxParamKeys } from "../../src/domain/guard.js"
import { leadKey } from "../../src/domain/leadKey.js"
import { toolNames } from "../../src/domain/tools.js"

const key = leadKey("jane@acme.com", "camp-1")
const lead = { leadKey: key, email: "jane@acme.com", campaignId: "camp-1" }

/** The block the guard returned; fails the test if it allowed the action. */
const blocked = (tool: string, params: unknown): GuardBlocked => {
  const result = guardAction(tool, params)
  if (Either.isRight(result)) throw new Error(`expected ${tool} to be blocked`)
  return result.left
}

describe("guardAction: allowed actions", () => {
  it("passes a registered tool with valid params and returns the decoded action", () => {
    const result = guardAction("upsert_lead", { ...lead, firstName: "Jane", company: "Acme" })
    expect(result).toEqual(
      Either.right({ tool: "upsert_lead", params: { ...lead, firstName: "Jane", company: "Acme" } })
    )
  })

  it("treats values as data: prototype-ish, template-ish and destructive-sounding values pass", () => {
    const params = JSON.parse(
      JSON.stringify({
        ...lead,
        email: "ops@constructor.io",
        company: "Prototype Labs",
        title: "Delete Manager",
        firstName: "__proto__",
        // biome-ignore lint/suspicious/noTemplateCurlyInString: template syntax as plain data is the point
        lastName: "{{lead.name}} ${x} <% x %> #{x}"
      })
    )
    expect(Either.isRight(guardAction("upsert_lead", params))).toBe(true)
    const contact = { ...lead, company: "Constructor Group", title: "Head of Mass Merge & Bulk Export" }
    const { campaignId: _drop, ...ref } = contact
    expect(Either.isRight(guardAction("create_contact", ref))).toBe(true)
  })

  it("accepts params with a null prototype (Object.create(null))", () => {
    const params = Object.assign(Object.create(null), lead)
    expect(Either.isRight(guardAction("upsert_lead", params))).toBe(true)
  })

  it("no registered tool matches a blocked pattern", () => {
    for (const tool of toolNames) expect(isBlockedToolName(tool), tool).toBe(false)
  })
})

describe("guardAction: blocked tool names come first", () => {
  it.each([
    "delete_lead",
    "DeleteLead",
    "Delete-Lead",
    "mass_update_leads",
    "merge_leads",
    "bulk_export",
    "export_contacts",
    "alter_table",
    "create_field",
    "update_schema",
    "grant_admin",
    "set_permission_set",
    "execute_query",
    "run_soql",
    "raw_sql",
    "query",
    "purge_records"
  ])("%s is blocked-tool even with valid params", (tool) => {
    const error = blocked(tool, lead)
    expect(error).toBeInstanceOf(GuardBlocked)
    expect(error._tag).toBe("GuardBlocked")
    expect(error.rule).toBe("blocked-tool")
    expect(error.tool).toBe(tool)
  })

  it.each(["send_email", "toString", "__proto__", "hasOwnProperty", "upsert_leads"])(
    "%s is not registered: unknown-tool",
    (tool) => {
      expect(blocked(tool, lead).rule).toBe("unknown-tool")
    }
  )

  it("rejects an empty or over-long tool name", () => {
    expect(blocked("", lead).rule).toBe("unknown-tool")
    expect(blocked("x".repeat(65), lead).rule).toBe("unknown-tool")
  })
})

describe("guardAction: structure of the params", () => {
  it.each([
    ["an array", [lead]],
    ["null", null],
    ["a string", JSON.stringify(lead)],
    ["a number", 42],
    ["a Date", new Date()],
    ["an object with a custom prototype", Object.assign(Object.create({ admin: true }), lead)]
  ])("rejects %s as not-plain-object", (_label, params) => {
    expect(blocked("upsert_lead", params).rule).toBe("not-plain-object")
  })

  it.each([
    ['{"__proto__":{"isAdmin":true}}'],
    ['{"constructor":{"prototype":{"isAdmin":true}}}'],
    ['{"prototype":1}'],
    ['{"Constructor":1}'],
    ['{"extra":{"inner":{"__proto__":{}}}}']
  ])("rejects the own key in %s as forbidden-key, at any depth", (json) => {
    // Built from text, as a request body would be: spreading would turn an own __proto__ into a prototype.
    const raw = JSON.parse(`{${JSON.stringify(lead).slice(1, -1)},${json.slice(1)}`)
    expect(blocked("upsert_lead", raw).rule).toBe("forbidden-key")
  })

  it("really sees JSON.parse's own __proto__ key", () => {
    const raw = JSON.parse('{"__proto__":{"isAdmin":true}}')
    expect(Object.hasOwn(raw, "__proto__")).toBe(true)
    expect(blocked("upsert_lead", raw).reason).toContain("__proto__")
  })

  // biome-ignore lint/suspicious/noTemplateCurlyInString: template syntax as plain text is the point
  it.each(["{{7*7}}", "${process.env}", "<%= cmd %>", "#{1+1}", "name}}"])(
    "rejects template syntax in the key %j",
    (badKey) => {
      expect(blocked("upsert_lead", { ...lead, [badKey]: "x" }).rule).toBe("template-key")
    }
  )

  it("bounds depth (cycles included) and key count", () => {
    const deep = { ...lead, a: { b: { c: { d: { e: 1 } } } } }
    expect(blocked("upsert_lead", deep).rule).toBe("too-deep")
    const cyclic: Record<string, unknown> = { ...lead }
    cyclic.self = cyclic
    expect(blocked("upsert_lead", cyclic).rule).toBe("too-deep")
    const wide = { ...lead, ...Object.fromEntries(Array.from({ length: maxParamKeys }, (_, i) => [`k${i}`, i])) }
    expect(blocked("upsert_lead", wide).rule).toBe("too-many-keys")
    expect(blocked("upsert_lead", { ...lead, ["k".repeat(200)]: 1 }).rule).toBe("key-too-long")
  })

  it("rejects symbol keys", () => {
    expect(blocked("upsert_lead", { ...lead, [Symbol("x")]: 1 }).rule).toBe("forbidden-key")
  })
})

describe("guardAction: the tool's Schema", () => {
  it("names every bad field in one reason", () => {
    const error = blocked("upsert_lead", { leadKey: "not-hex", campaignId: 7, isAdmin: true })
    expect(error.rule).toBe("invalid-params")
    expect(error.reason).toContain("leadKey: leadKey must be 64 hex chars")
    expect(error.reason).toContain("email: is missing")
    expect(error.reason).toContain("campaignId: Expected string, actual 7")
    expect(error.reason).toContain("isAdmin: is unexpected")
    expect(error.reason).not.toContain("Expected undefined")
  })

  it("checks tool-specific rules", () => {
    const score = { leadKey: key, email: "jane@acme.com", score: 101, intent: "High Fit", decision: "Route to SDR" }
    expect(blocked("set_lead_score", score).reason).toContain("score:")
    expect(blocked("match_account", { leadKey: key, email: "jane@acme.com", domain: "acme.com/x" }).reason).toContain(
      "domain: domain must be a DNS name"
    )
  })

  it("refuses a date that is no day, before any CRM call, naming it", () => {
    const task = (dueDate: string) => ({
      leadKey: key,
      email: "jane@acme.com",
      subject: "Call",
      priority: "High",
      dueDate
    })
    expect(blocked("create_task", task("2026-02-30")).reason).toContain(
      "dueDate: 2026-02-30 is no calendar date from 1700-01-01 to 4000-12-31"
    )
    expect(blocked("create_task", task("2025-02-29")).rule).toBe("invalid-params")
    expect(blocked("create_task", task("2026-13-01")).rule).toBe("invalid-params")
    expect(blocked("create_task", task("1699-12-31")).rule).toBe("invalid-params")
    // the last day of February in a leap year, and the range's ends, are days
    for (const day of ["2024-02-29", "1700-01-01", "4000-12-31"])
      expect(Either.isRight(guardAction("create_task", task(day))), day).toBe(true)
    // the pattern's own message still comes first for a malformed one
    expect(blocked("create_task", task("2026-2-3")).reason).toContain("dueDate: dates are YYYY-MM-DD")
    const opportunity = { leadKey: key, email: "jane@acme.com", name: "Acme", stage: "Prospecting" }
    expect(blocked("create_opportunity", { ...opportunity, closeDate: "2026-04-31" }).reason).toContain(
      "closeDate: 2026-04-31 is no calendar date"
    )
  })

  it.each([
    ["NUL", "nul\u0000here"],
    ["a lone high surrogate", "half \ud800 of a pair"],
    ["a lone low surrogate", "\udc00"],
    ["a C0 control (ESC)", "\u001b[31mred"],
    ["a vertical tab", "a\u000bb"]
  ])("refuses %s in any text argument, naming the field, before any CRM call", (_label, bad) => {
    const task = { leadKey: key, email: "jane@acme.com", subject: "Call", priority: "Low" }
    const reason = "must not contain NUL, another control character (tab and line breaks pass) or an unpaired surrogate"
    for (const [tool, params, field] of [
      ["create_task", { ...task, subject: bad }, "subject"],
      ["create_task", { ...task, description: bad }, "description"],
      ["upsert_lead", { ...lead, company: bad }, "company"],
      ["upsert_lead", { ...lead, campaignId: bad }, "campaignId"],
      ["log_activity", { leadKey: key, email: `jane${bad}@acme.com`, subject: "s", description: "" }, "email"],
      [
        "convert_lead",
        { leadKey: key, email: "jane@acme.com", convertedStatus: bad, createOpportunity: false },
        "convertedStatus"
      ]
    ] as const) {
      const error = blocked(tool, params)
      expect(error.rule, `${tool}.${field}`).toBe("invalid-params")
      expect(error.reason, `${tool}.${field}`).toBe(`${field}: ${reason}`)
    }
  })

  it("lets tabs, line breaks, paired surrogates (emoji) and non-Latin text through", () => {
    const description = "Line one\r\n\tindented 😀 Grüße, 東京, مرحبا"
    const task = { leadKey: key, email: "jane@acme.com", subject: "Call 😀", priority: "Low", description }
    expect(guardAction("create_task", task)).toEqual(Either.right({ tool: "create_task", params: task }))
  })

  it("bounds numbers and stages at the CRMs' field limits", () => {
    const firmographics = { leadKey: key, email: "jane@acme.com" }
    const opportunity = { ...firmographics, name: "Acme", stage: "Prospecting", closeDate: "2026-06-30" }
    const ok = (tool: string, params: unknown) =>
      expect(Either.isRight(guardAction(tool, params)), JSON.stringify(params)).toBe(true)
    const refused = (tool: string, params: unknown, field: string) => {
      const error = blocked(tool, params)
      expect(error.rule).toBe("invalid-params")
      expect(error.reason).toMatch(new RegExp(`^${field}: `))
    }
    // Lead.NumberOfEmployees is an int
    ok("sync_firmographics", { ...firmographics, employees: 2_147_483_647 })
    refused("sync_firmographics", { ...firmographics, employees: 2_147_483_648 }, "employees")
    refused("sync_firmographics", { ...firmographics, employees: 2 ** 53 - 1 }, "employees")
    // Lead.AnnualRevenue is Currency(18, 0)
    ok("sync_firmographics", { ...firmographics, annualRevenue: 999_999_999_999_999_900 })
    ok("sync_firmographics", { ...firmographics, annualRevenue: 1234.56 })
    refused("sync_firmographics", { ...firmographics, annualRevenue: 1e18 }, "annualRevenue")
    refused("sync_firmographics", { ...firmographics, annualRevenue: 1e300 }, "annualRevenue")
    // Opportunity.Amount is Currency(16, 2)
    ok("create_opportunity", { ...opportunity, amount: 99_999_999_999_999.98 })
    ok("create_opportunity", { ...opportunity, amount: 1250.5 })
    refused("create_opportunity", { ...opportunity, amount: 1e14 }, "amount")
    refused("create_opportunity", { ...opportunity, amount: 1e300 }, "amount")
    // Opportunity.StageName holds 40 characters
    ok("create_opportunity", { ...opportunity, stage: "S".repeat(40) })
    refused("create_opportunity", { ...opportunity, stage: "S".repeat(41) }, "stage")
    const move = { ...firmographics, opportunityId: "006000000000001AAA" }
    ok("update_opportunity_stage", { ...move, stage: "S".repeat(40) })
    refused("update_opportunity_stage", { ...move, stage: "S".repeat(64) }, "stage")
  })

  it("GuardBlocked is a Schema.TaggedError that survives encoding across a job boundary", () => {
    const error = blocked("delete_lead", lead)
    const encoded = Schema.encodeSync(GuardBlocked)(error)
    expect(encoded).toEqual({ _tag: "GuardBlocked", tool: "delete_lead", rule: "blocked-tool", reason: error.reason })
    const decoded = Schema.decodeUnknownSync(GuardBlocked)(JSON.parse(JSON.stringify(encoded)))
    expect(decoded).toBeInstanceOf(GuardBlocked)
    expect(decoded.rule).toBe("blocked-tool")
  })
})
