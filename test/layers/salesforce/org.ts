// What the Salesforce adapter's suites share: one lead's identity, the fake org's client-credentials app, and the
// executor signed in to a fake org as a user configures it.
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import { make } from "../../../layers/salesforce/CrmExecutor.js"
import { type SalesforceOptions, defaultFields, defaultJwtAudience } from "../../../layers/salesforce/config.js"
import { leadKey } from "../../../src/domain/leadKey.js"
import { type CrmAction, actionKey } from "../../../src/domain/tools.js"
import type { CrmCall } from "../../../services/CrmExecutor.js"
import { type FakeSalesforce, type FakeSalesforceOptions, startFakeSalesforce } from "../../fakes/salesforce.js"

export const email = "jane.doe@acme.com"
export const key = leadKey(email, "spring-2025")
/** The lead's reference, as every tool's parameters carry it. */
export const ref = { leadKey: key, email }
export const base = "/services/data/v62.0"
/** The connected app's client credentials the fake org accepts. */
export const creds = { clientId: "rf-client", clientSecret: "s3cret-value" }

/** `action` as the executor receives it for the lead `leadKeyOf` (this suite's lead by default), with its key. */
export const callFor = (leadKeyOf: string, action: CrmAction): CrmCall => ({
  ...action,
  actionKey: actionKey(leadKeyOf, action.tool, action.params)
})
export const call = (action: CrmAction): CrmCall => callFor(key, action)

/** A fake org for the scope (the client-credentials app unless `options` says otherwise). */
export const fakeOrg = (options: FakeSalesforceOptions = creds) =>
  Effect.acquireRelease(
    Effect.promise(() => startFakeSalesforce(options)),
    (fake) => Effect.promise(() => fake.close())
  )

/** The executor signing in to `fake` with the client credentials flow, the default fields, a 2 s timeout. */
export const executor = (fake: FakeSalesforce, overrides: Partial<SalesforceOptions> = {}) =>
  make({
    loginUrl: fake.url,
    apiVersion: "62.0",
    auth: { _tag: "ClientCredentials", clientId: creds.clientId, clientSecret: Redacted.make(creds.clientSecret) },
    timeoutMs: 2000,
    fields: defaultFields,
    // the fake stands for a My Domain: a JWT assertion's audience is the one the configuration gives one
    jwtAudience: defaultJwtAudience("https://acme.my.salesforce.com"),
    ...overrides
  })

/** A fake org (with the client-credentials app and `options`) and the executor signed in to it. */
export const orgWithExecutor = (
  options: Omit<FakeSalesforceOptions, "clientId" | "clientSecret"> = {},
  overrides: Partial<SalesforceOptions> = {}
) =>
  Effect.gen(function* () {
    const fake = yield* fakeOrg({ ...creds, ...options })
    const crm = yield* executor(fake, overrides)
    return { fake, crm }
  })
