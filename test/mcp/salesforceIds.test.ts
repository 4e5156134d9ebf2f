import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { CrmExecutor } from "../../services/CrmExecutor.js"
import { memoryEnv } from "../support/env.js"
import { executor, fakeOrg } from "../layers/salesforce/org.js"
import { call, leadInputs, storeLeads } from "./behaviour.js"
import { baseUrl, connect, ingestWithMcp } from "./httpClient.js"

/**
 * MCP calls over a Salesforce org (the fake one, through jsforce): an opportunity named by its 15-character id (what a
 * Classic URL or a report shows) and by its 18-character one (what the API answers) is one record with one history,
 * so an agent setting its stage back and forth through both spellings leaves the org where it left it.
 */

const apiKey = "mcp-salesforce-ids-7c41"
const settings = { INGEST_API_KEYS: apiKey, RATE_LIMIT_PER_LEAD: "50", RATE_LIMIT_WINDOW_MS: "60000" }

describe("MCP over Salesforce: record ids", () => {
  it.live("an opportunity's stage set through its 15- and its 18-character id ends where the agent left it", () =>
    Effect.gen(function* () {
      const fake = yield* fakeOrg()
      const env = Layer.merge(memoryEnv({ env: settings }), Layer.effect(CrmExecutor, executor(fake)))
      yield* Effect.gen(function* () {
        const [lead] = yield* storeLeads(leadInputs(Math.random().toString(36).slice(2, 10), 1))
        if (lead === undefined) throw new Error("no lead seeded")
        const client = yield* connect(yield* baseUrl, apiKey, "revenueflow-salesforce-ids")
        const ref = { leadKey: lead.leadKey, email: lead.email }
        const created = yield* call(client, "create_opportunity", {
          ...ref,
          name: "Engine",
          stage: "Prospecting",
          closeDate: "2031-01-31"
        })
        expect(created.isError, JSON.stringify(created)).toBeFalsy()
        const long = created.structuredContent.crmId as string
        expect(long).toMatch(/^006[A-Za-z0-9]{15}$/)
        const short = long.slice(0, 15)
        const stageIn = () => fake.records.Opportunity?.find((row) => row.Id === short)?.StageName

        const steps = [
          [long, "Negotiation/Review", true],
          [short, "Prospecting", true],
          // the org holds Prospecting: this is no repeat of the first step, whatever spelling each used
          [long, "Negotiation/Review", true],
          // a repeat of the step just before, through the other spelling: written once
          [short, "Negotiation/Review", false]
        ] as const
        for (const [opportunityId, stage, executed] of steps) {
          const result = yield* call(client, "update_opportunity_stage", { ...ref, opportunityId, stage })
          expect(result.isError, JSON.stringify(result)).toBeFalsy()
          expect(result.structuredContent).toMatchObject({ status: "SUCCEEDED", executed, crmId: long })
          expect(stageIn()).toBe(stage)
        }
        // the stage writes (the creation was an upsert by the action's external id)
        const patches = fake
          .apiRequests()
          .filter((request) => request.method === "PATCH" && request.path.includes("/sobjects/Opportunity/006"))
        expect(patches).toHaveLength(3)
      }).pipe(Effect.provide(ingestWithMcp.pipe(Layer.provideMerge(env))))
    }).pipe(Effect.scoped)
  )
})
