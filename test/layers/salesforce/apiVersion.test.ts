import { describe, expect, it } from "@effect/vitest"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import { salesforceConfig } from "../../../layers/salesforce/config.js"
import { loadConfig } from "../../../layers/shared/config.js"
import { leadKey } from "../../../src/domain/leadKey.js"
import { callFor, email, orgWithExecutor } from "./org.js"

// The API version decides what the REST API answers: below 52.0 it ignores the duplicate rule header (a lead's second
// campaign is refused by an Alert rule), below 46.0 an upsert that updates answers 204 without the record's id. The
// fake answers by the version a request names, as Salesforce does; start-up refuses a version the executor cannot use.

const upsertLead = (campaignId: string) => {
  const key = leadKey(email, campaignId)
  return callFor(key, { tool: "upsert_lead", params: { leadKey: key, email, campaignId } })
}

const versionRead = (version: string | undefined) =>
  Effect.either(
    loadConfig(salesforceConfig).pipe(
      Effect.withConfigProvider(
        ConfigProvider.fromMap(
          new Map(
            Object.entries({
              SALESFORCE_ACCESS_TOKEN: "00DFAKE!token",
              SALESFORCE_INSTANCE_URL: "https://acme.my.salesforce.com",
              ...(version === undefined ? {} : { SALESFORCE_API_VERSION: version })
            })
          )
        )
      )
    )
  )

describe("SALESFORCE_API_VERSION", () => {
  it.effect("below 52.0 is refused at start, naming the minimum and why", () =>
    Effect.gen(function* () {
      for (const version of ["51.0", "46.0", "45.0", "30.0"]) {
        const result = yield* versionRead(version)
        expect(result._tag, version).toBe("Left")
        if (result._tag !== "Left") continue
        expect([...result.left.keys]).toEqual(["SALESFORCE_API_VERSION"])
        expect(result.left.message).toContain("52.0 or later")
        expect(result.left.message).toContain("duplicate rule header")
      }
      for (const [version, read] of [
        ["52.0", "52.0"],
        ["68.0", "68.0"],
        [undefined, "62.0"]
      ] as const) {
        const result = yield* versionRead(version)
        expect(result._tag === "Right" && result.right.apiVersion, version).toBe(read)
      }
      expect((yield* versionRead("62"))._tag).toBe("Left")
    })
  )

  it.scopedLive("the fake answers by version: what the executor meets below 52.0 and below 46.0", () =>
    Effect.gen(function* () {
      // 51.0: the header that lets an Alert rule save the lead's second campaign is not read
      const at51 = yield* orgWithExecutor({}, { apiVersion: "51.0" })
      yield* at51.crm.execute(upsertLead("spring-2025"))
      const duplicate = yield* Effect.flip(at51.crm.execute(upsertLead("autumn-webinar")))
      expect({ _tag: duplicate._tag, code: "code" in duplicate ? duplicate.code : undefined }).toEqual({
        _tag: "CrmPermanentError",
        code: "DUPLICATES_DETECTED"
      })
      // 45.0: an upsert that updates answers 204, no id: the executor cannot tell it from a proxy's empty answer
      const at45 = yield* orgWithExecutor({ duplicateRule: "off" }, { apiVersion: "45.0" })
      yield* at45.crm.execute(upsertLead("spring-2025"))
      const updated = yield* Effect.flip(at45.crm.execute(upsertLead("spring-2025")))
      expect(updated._tag).toBe("CrmTransientError")
      expect(updated.message).toContain("without a record id")
      // 52.0: both written
      const at52 = yield* orgWithExecutor({}, { apiVersion: "52.0" })
      yield* at52.crm.execute(upsertLead("spring-2025"))
      expect((yield* at52.crm.execute(upsertLead("spring-2025"))).detail).toMatchObject({ created: false })
      expect((yield* at52.crm.execute(upsertLead("autumn-webinar"))).detail).toMatchObject({ created: true })
      expect(at52.fake.records.Lead).toHaveLength(2)
    })
  )
})
