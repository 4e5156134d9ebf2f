import { describe, expect, it } from "@effect/vitest"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as HubSpot from "../../../layers/hubspot/CrmExecutor.js"
import { hubSpotConfig } from "../../../layers/hubspot/config.js"
import { loadConfig } from "../../../layers/shared/config.js"
import { CrmExecutor } from "../../../services/CrmExecutor.js"
import { startFakeHubSpot } from "../../fakes/hubspot.js"
import { call, ref } from "./support.js"

const token = "pat-na1-config-token"
const fromEnv = (env: Record<string, string>) => ConfigProvider.fromMap(new Map(Object.entries(env)))

describe("HUBSPOT_BASE_URL", () => {
  it.scopedLive("with trailing slashes: the calls still reach /crm/v3/... (not //crm/v3/..., which HubSpot 404s)", () =>
    Effect.gen(function* () {
      const fake = yield* Effect.acquireRelease(
        Effect.promise(() => startFakeHubSpot({ tokens: [token] })),
        (f) => Effect.promise(() => f.close())
      )
      for (const baseUrl of [`${fake.url}/`, `${fake.url}//`]) {
        const env = { HUBSPOT_BASE_URL: baseUrl, HUBSPOT_ACCESS_TOKEN: token }
        const result = yield* Effect.flatMap(CrmExecutor, (crm) =>
          crm.execute(call({ tool: "upsert_lead", params: { ...ref, campaignId: "spring-2025" } }))
        ).pipe(Effect.provide(HubSpot.layerConfig.pipe(Layer.provide(Layer.setConfigProvider(fromEnv(env))))))
        expect(result.crmId).toBe(fake.records.contacts![0]!.id)
      }
      expect(fake.requests.map((r) => r.path)).toEqual([
        "/crm/v3/objects/contacts/batch/upsert",
        "/crm/v3/objects/contacts/batch/upsert"
      ])
    })
  )

  it.effect("is read without its trailing slashes, and defaults to https://api.hubapi.com", () =>
    Effect.gen(function* () {
      const read = (env: Record<string, string>) =>
        Effect.map(
          Effect.withConfigProvider(loadConfig(hubSpotConfig), fromEnv({ HUBSPOT_ACCESS_TOKEN: token, ...env })),
          (options) => options.baseUrl
        )
      expect(yield* read({ HUBSPOT_BASE_URL: "https://api.hubapi.com/" })).toBe("https://api.hubapi.com")
      expect(yield* read({ HUBSPOT_BASE_URL: " http://127.0.0.1:8080/hubspot/ " })).toBe(
        "http://127.0.0.1:8080/hubspot"
      )
      expect(yield* read({})).toBe("https://api.hubapi.com")
    })
  )

  it.effect("that is no http(s) base URL fails start-up naming the setting, never echoing the value", () =>
    Effect.gen(function* () {
      for (const value of [
        "api.hubapi.com",
        "ftp://api.hubapi.com",
        "https://api.hubapi.com?hapikey=s3cr3t-value",
        "https://api.hubapi.com/#s3cr3t-value",
        "https://user:s3cr3t-value@api.hubapi.com",
        "s3cr3t-value"
      ]) {
        const result = yield* Effect.either(
          Effect.withConfigProvider(
            loadConfig(hubSpotConfig),
            fromEnv({ HUBSPOT_ACCESS_TOKEN: token, HUBSPOT_BASE_URL: value })
          )
        )
        expect(Either.isLeft(result)).toBe(true)
        const error = Either.isLeft(result) ? result.left : undefined
        expect(error?.keys).toEqual(["HUBSPOT_BASE_URL"])
        expect(error?.message).toContain("HUBSPOT_BASE_URL: must be an absolute http(s) URL")
        expect(error?.message).not.toContain("s3cr3t")
      }
    })
  )
})
