import { describe, expect, it } from "@effect/vitest"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as HubSpot from "../../layers/hubspot/CrmExecutor.js"
import * as Salesforce from "../../layers/salesforce/CrmExecutor.js"
import { leadKey } from "../../src/domain/leadKey.js"
import { actionKey } from "../../src/domain/tools.js"
import { type CrmCall, CrmExecutor } from "../../services/CrmExecutor.js"
import { startFakeHubSpot } from "../fakes/hubspot.js"
import { defaultFields } from "../../layers/salesforce/config.js"
import { orgCustomFields, startFakeSalesforce } from "../fakes/salesforce.js"

const email = "jane.doe@acme.com"
const key = leadKey(email, "c1")
const params = { leadKey: key, email, campaignId: "c1" }
const upsert: CrmCall = { tool: "upsert_lead", params, actionKey: actionKey(key, "upsert_lead", params) }

const withEnv = (env: Record<string, string>) =>
  Layer.setConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env))))
const executeWith = (layer: Layer.Layer<CrmExecutor, unknown>) =>
  Effect.flatMap(CrmExecutor, (crm) => crm.execute(upsert)).pipe(Effect.provide(layer))

describe("layerConfig", () => {
  it.scopedLive("Salesforce reads SALESFORCE_* (client credentials, custom key field)", () =>
    Effect.gen(function* () {
      const fake = yield* Effect.acquireRelease(
        Effect.promise(() =>
          startFakeSalesforce({
            clientId: "id",
            clientSecret: "secret",
            // the org has the renamed key field, as the README's set-up asks
            customFields: orgCustomFields({ ...defaultFields, leadKey: "Lead_Key__c" })
          })
        ),
        (f) => Effect.promise(() => f.close())
      )
      const env = {
        SALESFORCE_LOGIN_URL: fake.url,
        SALESFORCE_CLIENT_ID: "id",
        SALESFORCE_CLIENT_SECRET: "secret",
        SALESFORCE_LEAD_KEY_FIELD: "Lead_Key__c",
        SALESFORCE_API_VERSION: "61.0"
      }
      yield* executeWith(Salesforce.layerConfig.pipe(Layer.provide(withEnv(env))))
      expect(fake.apiRequests()[0]!.path).toBe(`/services/data/v61.0/sobjects/Lead/Lead_Key__c/${key}`)
    })
  )

  it.scopedLive("Salesforce names every bad key at start-up", () =>
    Effect.gen(function* () {
      const exit = yield* Effect.exit(
        executeWith(Salesforce.layerConfig.pipe(Layer.provide(withEnv({ SALESFORCE_SCORE_FIELD: "bad field; DROP" }))))
      )
      expect(Exit.isFailure(exit)).toBe(true)
      const text = String(Exit.isFailure(exit) ? exit.cause : "")
      expect(text).toMatch(/SALESFORCE_CLIENT_ID|SALESFORCE_ACCESS_TOKEN/)
      expect(text).toContain("SALESFORCE_SCORE_FIELD")
    })
  )

  it.scopedLive("HubSpot reads HUBSPOT_ACCESS_TOKEN and HUBSPOT_BASE_URL", () =>
    Effect.gen(function* () {
      const fake = yield* Effect.acquireRelease(
        Effect.promise(() =>
          startFakeHubSpot({
            tokens: ["pat-na1-env"],
            // a portal whose lead key is a custom property of another name
            properties: { contacts: [{ name: "lead_key", label: "Lead key", type: "string", fieldType: "text" }] }
          })
        ),
        (f) => Effect.promise(() => f.close())
      )
      const env = {
        HUBSPOT_BASE_URL: fake.url,
        HUBSPOT_ACCESS_TOKEN: "pat-na1-env",
        HUBSPOT_LEAD_KEY_PROPERTY: "lead_key"
      }
      const result = yield* executeWith(HubSpot.layerConfig.pipe(Layer.provide(withEnv(env))))
      expect(result.crmId).toBe(fake.records.contacts![0]!.id)
      expect(fake.records.contacts![0]!.properties.lead_key).toBe(key)
    })
  )
})
