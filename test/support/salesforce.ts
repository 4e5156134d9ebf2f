import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as Salesforce from "../../layers/salesforce/CrmExecutor.js"
import { defaultFields } from "../../layers/salesforce/config.js"
import { type FakeSalesforceOptions, startFakeSalesforce } from "../fakes/salesforce.js"

/**
 * A fake Salesforce org for the test's scope (client credentials rf / s3cret; `fakeOptions` wins) and the
 * Salesforce executor's layer signed in to it (API 62.0, the default fields, a 2 s deadline), for tests that run the
 * pipeline against Salesforce.
 */
export const salesforceAgainstFake = (fakeOptions: Partial<FakeSalesforceOptions> = {}) =>
  Effect.map(
    Effect.acquireRelease(
      Effect.promise(() => startFakeSalesforce({ clientId: "rf", clientSecret: "s3cret", ...fakeOptions })),
      (fake) => Effect.promise(() => fake.close())
    ),
    (fake) => ({
      fake,
      crm: Salesforce.layer({
        loginUrl: fake.url,
        apiVersion: "62.0",
        auth: { _tag: "ClientCredentials", clientId: "rf", clientSecret: Redacted.make("s3cret") },
        timeoutMs: 2000,
        fields: defaultFields
      })
    })
  )
