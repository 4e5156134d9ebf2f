import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import { make } from "../../../layers/hubspot/CrmExecutor.js"
import { type HubSpotOptions, defaultProperties } from "../../../layers/hubspot/config.js"
import { leadKey } from "../../../src/domain/leadKey.js"
import { type CrmAction, actionKey } from "../../../src/domain/tools.js"
import type { CrmCall } from "../../../services/CrmExecutor.js"
import { type FakeHubSpotOptions, startFakeHubSpot } from "../../fakes/hubspot.js"

/** The lead these tests act for, and a call of one of its actions with its action key. */
export const email = "jane.doe@acme.com"
export const key = leadKey(email, "spring-2025")
export const ref = { leadKey: key, email }
export const call = (action: CrmAction): CrmCall => ({
  ...action,
  actionKey: actionKey(key, action.tool, action.params)
})

/** A fake HubSpot (closed with the scope) and the executor on it, with the token it accepts. */
export const setup = (overrides: Partial<HubSpotOptions> = {}, fakeOptions: FakeHubSpotOptions = {}) =>
  Effect.gen(function* () {
    const fake = yield* Effect.acquireRelease(
      Effect.promise(() => startFakeHubSpot({ tokens: ["pat-na1-old"], ...fakeOptions })),
      (f) => Effect.promise(() => f.close())
    )
    const crm = yield* make({
      baseUrl: fake.url,
      accessToken: Redacted.make("pat-na1-old"),
      timeoutMs: 2000,
      properties: defaultProperties,
      ...overrides
    })
    return { fake, crm }
  })
