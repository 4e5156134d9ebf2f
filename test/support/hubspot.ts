import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as HubSpot from "../../layers/hubspot/CrmExecutor.js"
import { type HubSpotOptions, defaultProperties } from "../../layers/hubspot/config.js"
import { type FakeHubSpotOptions, startFakeHubSpot } from "../fakes/hubspot.js"
import { startCrmProxy } from "../../scripts/lib/crmProxy.js"

/**
 * A fake HubSpot for the test's scope and the HubSpot executor's layer pointed at it (the fake's default token, the
 * default properties, a 2 s deadline; `options` wins), for tests that run the pipeline against HubSpot.
 */
export const hubSpotAgainstFake = (fakeOptions: FakeHubSpotOptions = {}, options: Partial<HubSpotOptions> = {}) =>
  Effect.map(
    Effect.acquireRelease(
      Effect.promise(() => startFakeHubSpot(fakeOptions)),
      (fake) => Effect.promise(() => fake.close())
    ),
    (fake) => ({
      fake,
      crm: HubSpot.layer({
        baseUrl: fake.url,
        accessToken: Redacted.make("pat-na1-fake-token"),
        timeoutMs: 2000,
        properties: defaultProperties,
        ...options
      })
    })
  )

/**
 * A fake HubSpot for the test's scope behind the recording proxy (scripts/lib/crmProxy.ts: every request, in the
 * order the CRM side received it), and the HubSpot executor's layer pointed at the proxy (as `hubSpotAgainstFake`).
 */
export const hubSpotBehindProxy = (fakeOptions: FakeHubSpotOptions = {}, options: Partial<HubSpotOptions> = {}) =>
  Effect.gen(function* () {
    const fake = yield* Effect.acquireRelease(
      Effect.promise(() => startFakeHubSpot(fakeOptions)),
      (fake) => Effect.promise(() => fake.close())
    )
    const proxy = yield* Effect.orDie(startCrmProxy(fake.url))
    return {
      fake,
      proxy,
      crm: HubSpot.layer({
        baseUrl: proxy.url,
        accessToken: Redacted.make("pat-na1-fake-token"),
        timeoutMs: 2000,
        properties: defaultProperties,
        ...options
      })
    }
  })
