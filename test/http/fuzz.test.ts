import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as FastCheck from "effect/FastCheck"
import * as Schema from "effect/Schema"
import { LeadInput, strictParseOptions } from "../../src/domain/lead.js"
import { LeadStore } from "../../services/LeadStore.js"
import { memoryEnv } from "../support/env.js"
import { withApi } from "./harness.js"

/** Lead-shaped objects: mostly plausible fields, sometimes wrong types or extra keys, so some decode and most not. */
const leadish = FastCheck.record(
  {
    email: FastCheck.oneof(FastCheck.emailAddress(), FastCheck.string(), FastCheck.integer()),
    campaignId: FastCheck.oneof(FastCheck.string({ maxLength: 140 }), FastCheck.constant(""), FastCheck.boolean()),
    firstName: FastCheck.string(),
    phone: FastCheck.oneof(FastCheck.string(), FastCheck.stringMatching(/^\+1 [0-9]{3} [0-9]{7}$/)),
    activity: FastCheck.oneof(
      FastCheck.record({ pageViews: FastCheck.integer({ min: -5, max: 2_000_000 }) }, { requiredKeys: [] }),
      FastCheck.jsonValue()
    ),
    attributes: FastCheck.dictionary(FastCheck.string({ maxLength: 70 }), FastCheck.jsonValue(), { maxKeys: 4 }),
    isAdmin: FastCheck.boolean(),
    __proto__: FastCheck.object()
  },
  { requiredKeys: ["email", "campaignId"] }
)

/** Leads that are mostly valid: a plausible email and campaign, sometimes with a bad optional field. */
const nearlyValid = FastCheck.record(
  {
    email: FastCheck.tuple(
      FastCheck.stringMatching(/^[a-z][a-z0-9.]{0,15}$/),
      FastCheck.constantFrom("globex.com", "Initech.IO")
    ).map(([local, domain]) => ` ${local}@${domain} `),
    campaignId: FastCheck.stringMatching(/^[a-z0-9-]{1,20}$/),
    firstName: FastCheck.string({ maxLength: 90 }),
    activity: FastCheck.record(
      { pageViews: FastCheck.integer({ min: -1, max: 20 }), demoRequested: FastCheck.boolean() },
      { requiredKeys: [] }
    ),
    attributes: FastCheck.dictionary(
      FastCheck.stringMatching(/^[A-Za-z][a-z0-9_]{0,8}$/),
      FastCheck.jsonValue({ maxDepth: 0 }),
      {
        maxKeys: 3
      }
    )
  },
  { requiredKeys: ["email", "campaignId"] }
)

/** A request body: raw text (often not JSON at all) or a JSON document. */
const bodies = FastCheck.oneof(
  FastCheck.string({ maxLength: 200 }),
  FastCheck.string({ unit: "binary", maxLength: 100 }),
  FastCheck.jsonValue().map((value) => JSON.stringify(value) ?? "null"),
  leadish.map((value) => JSON.stringify(value)),
  nearlyValid.map((value) => JSON.stringify(value)),
  nearlyValid.map((value) => JSON.stringify(value))
)

/** What the API should do with `text`: true when it is JSON that decodes as a lead. */
const isValidLead = (text: string) => {
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    return false
  }
  return Schema.decodeUnknownEither(LeadInput)(json, strictParseOptions)._tag === "Right"
}

describe("fuzzing POST /leads", () => {
  it.live("200 random bodies never get a 5xx, and only valid leads are stored", () =>
    withApi(memoryEnv(), (api) =>
      Effect.gen(function* () {
        const seed = Date.now() ^ (Math.random() * 0x7fffffff)
        const samples = FastCheck.sample(bodies, { numRuns: 200, seed })
        const accepted = new Set<string>()
        let valid = 0
        for (const text of samples) {
          const reply = yield* api.send("POST", "/leads", {
            headers: { "content-type": "application/json" },
            body: text
          })
          const context = `seed ${seed}, body ${JSON.stringify(text).slice(0, 300)}: ${reply.status} ${reply.text}`
          expect(reply.status, context).toBeLessThan(500)
          if (isValidLead(text)) {
            valid++
            expect([200, 202], context).toContain(reply.status)
            accepted.add(reply.json.id)
          } else {
            expect(reply.status, context).toBe(400)
            expect(reply.headers["content-type"], context).toMatch(/^application\/problem\+json/)
          }
        }
        const counts = yield* Effect.flatMap(LeadStore, (store) => store.countByStatus)
        expect(Object.values(counts).reduce((a, b) => a + b, 0)).toBe(accepted.size)
        // the generator must actually reach the happy path, or this test proves little
        expect(valid, `seed ${seed}`).toBeGreaterThan(10)
      })
    )
  )
})
