import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { memoryEnv, sampleLead } from "../support/env.js"
import { expectProblem, problemFields, storedLeads, withApi } from "./harness.js"

const refused = (field: string) => `${field} must not contain control, bidi or invisible characters`

describe("POST /leads: invisible characters", () => {
  it.live("an email or campaignId holding a control, bidi override or zero-width character is a 400 naming it", () =>
    withApi(memoryEnv(), (api) =>
      Effect.gen(function* () {
        const cases = [
          [{ email: "ada\u0007@globex.com" }, "email"],
          [{ email: "ada\u202E@globex.com" }, "email"],
          [{ email: "ad\u200Ba@globex.com" }, "email"],
          [{ campaignId: "\u200B" }, "campaignId"],
          [{ campaignId: "spring\u2066launch" }, "campaignId"]
        ] as const
        for (const [override, field] of cases) {
          const reply = yield* api.postJson("/leads", sampleLead(override))
          expectProblem(reply, 400)
          expect(problemFields(reply), JSON.stringify(override)).toEqual([field])
          expect(reply.json.errors[0].message).toBe(refused(field))
        }
        expect(yield* storedLeads).toBe(0)
      })
    )
  )

  it.live("free text loses bidi overrides and zero-width characters; a field of nothing else is empty", () =>
    withApi(memoryEnv(), (api) =>
      Effect.gen(function* () {
        const accepted = yield* api.postJson(
          "/leads",
          sampleLead({ company: "Ac\u200Bme\u202E Corp", firstName: "\u2066Ada\u2069", utmSource: "news\u0007letter" })
        )
        expect(accepted.status, accepted.text).toBe(202)
        expect(accepted.json.lead).toMatchObject({ company: "Acme Corp", firstName: "Ada", utmSource: "newsletter" })

        const empty = yield* api.postJson("/leads", sampleLead({ company: "\u200B\u202E" }))
        expectProblem(empty, 400)
        expect(problemFields(empty)).toEqual(["company"])
        expect(yield* storedLeads).toBe(1)
      })
    )
  )

  it.live("the Marketo webhook refuses them in the email the same way", () =>
    withApi(memoryEnv({ env: { MARKETO_WEBHOOK_TOKEN: "mk-token-7f3a" } }), (api) =>
      Effect.gen(function* () {
        const reply = yield* api.postJson(
          "/webhooks/marketo",
          { email: "ada\u202E@globex.com", programId: 1042 },
          { "x-revenueflow-token": "mk-token-7f3a" }
        )
        expectProblem(reply, 400)
        expect(problemFields(reply)).toEqual(["email"])
        expect(reply.json.errors[0].message).toBe(refused("email"))
        expect(yield* storedLeads).toBe(0)
      })
    )
  )
})
