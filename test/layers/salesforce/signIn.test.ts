import { generateKeyPairSync } from "node:crypto"
import { describe, expect, it } from "@effect/vitest"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import { type SalesforceOptions, salesforceConfig } from "../../../layers/salesforce/config.js"
import { loadConfig } from "../../../layers/shared/config.js"
import type { FakeSalesforce, FakeSalesforceOptions } from "../../fakes/salesforce.js"
import { makeLogCapture, withMessage } from "../../support/logCapture.js"
import { call, creds, executor, fakeOrg, ref } from "./org.js"

// Where a token request goes and what it says: the client credentials flow is taken at the org's My Domain only, a JWT
// bearer assertion's aud is Salesforce's login audience (never the My Domain), and a refusal says why.

const upsertLead = call({ tool: "upsert_lead", params: { ...ref, campaignId: "spring-2025" } })
const secret = "cc-s3cret-value-0042"

const read = (env: Record<string, string>) =>
  Effect.either(
    loadConfig(salesforceConfig).pipe(Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env)))))
  )
const clientCredentials = { SALESFORCE_CLIENT_ID: "3MVG9-client", SALESFORCE_CLIENT_SECRET: secret }

const keyPair = () => {
  const { publicKey, privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 })
  return {
    publicKey: publicKey.export({ type: "spki", format: "pem" }).toString(),
    privateKey: privateKey.export({ type: "pkcs8", format: "pem" }).toString()
  }
}

/** A fake org with a JWT-bearer app (and `options`), the executor signing in to it with that app, the log captured. */
const jwtOrg = (
  options: Omit<FakeSalesforceOptions, "clientId" | "jwtPublicKey">,
  overrides: Partial<SalesforceOptions>
) =>
  Effect.gen(function* () {
    const keys = keyPair()
    const fake = yield* fakeOrg({ clientId: creds.clientId, jwtPublicKey: keys.publicKey, ...options })
    const crm = yield* executor(fake, {
      auth: {
        _tag: "JwtBearer",
        clientId: creds.clientId,
        username: "integration@acme.com",
        privateKey: Redacted.make(keys.privateKey)
      },
      ...overrides
    })
    return { fake, crm }
  })

const claimsOf = (fake: FakeSalesforce, index = 0) => {
  const assertion = new URLSearchParams(fake.tokenRequests()[index]!.body).get("assertion")!
  return JSON.parse(Buffer.from(assertion.split(".")[1]!, "base64url").toString()) as Record<string, unknown>
}

describe("the client credentials flow at the org's My Domain only", () => {
  it.effect("refused at start on login.salesforce.com (the default) or test.salesforce.com, naming the setting", () =>
    Effect.gen(function* () {
      for (const loginUrl of [undefined, "https://login.salesforce.com", "https://TEST.salesforce.com/"]) {
        const env =
          loginUrl === undefined ? clientCredentials : { ...clientCredentials, SALESFORCE_LOGIN_URL: loginUrl }
        const result = yield* read(env)
        expect(result._tag, loginUrl).toBe("Left")
        if (result._tag !== "Left") continue
        expect([...result.left.keys]).toEqual(["SALESFORCE_LOGIN_URL"])
        expect(result.left.message).toMatch(/SALESFORCE_LOGIN_URL: must be your org's My Domain URL/)
        expect(result.left.message).toContain("request not supported on this domain")
        expect(result.left.message).not.toContain(secret)
      }
      // a My Domain takes it; the other methods sign in anywhere
      const myDomain = yield* read({ ...clientCredentials, SALESFORCE_LOGIN_URL: "https://acme.my.salesforce.com" })
      expect(myDomain._tag === "Right" && myDomain.right.auth._tag).toBe("ClientCredentials")
      const jwt = yield* read({
        SALESFORCE_CLIENT_ID: "3MVG9-client",
        SALESFORCE_USERNAME: "integration@acme.com",
        SALESFORCE_PRIVATE_KEY: "-----BEGIN PRIVATE KEY-----"
      })
      expect(jwt._tag === "Right" && jwt.right.auth._tag).toBe("JwtBearer")
    })
  )

  it.effect("SALESFORCE_LOGIN_URL must be a URL", () =>
    Effect.gen(function* () {
      const result = yield* read({ ...clientCredentials, SALESFORCE_LOGIN_URL: "acme.my.salesforce.com" })
      expect(result._tag === "Left" && result.left.message).toMatch(/SALESFORCE_LOGIN_URL: must be a URL/)
    })
  )

  it.scopedLive("a login host that is not a My Domain refuses it: the refusal's reason is kept and logged", () => {
    const logs = makeLogCapture()
    return Effect.gen(function* () {
      // the fake's URL standing for login.salesforce.com, reached with options no start-up check has read
      const fake = yield* fakeOrg({ ...creds, loginHost: "generic" })
      const crm = yield* executor(fake)
      const error = yield* Effect.flip(crm.execute(upsertLead))
      expect(error).toMatchObject({ _tag: "CrmTransientError", message: "salesforce credentials rejected" })
      expect(fake.tokenRequests()).toHaveLength(1)
      expect(fake.apiRequests()).toHaveLength(0)
      const refused = withMessage(logs.lines, "CRM token request refused")
      expect(refused).toHaveLength(1)
      expect(refused[0]).toContain("level=WARN")
      expect(refused[0]).toContain("provider=salesforce")
      expect(refused[0]).toContain("auth=ClientCredentials")
      expect(refused[0]).toContain("error=invalid_grant")
      expect(refused[0]).toContain('reason="request not supported on this domain"')
      expect(refused[0]).toContain(`loginHost=${new URL(fake.url).host}`)
      expect(logs.lines.join("\n")).not.toContain(creds.clientSecret)
    }).pipe(Effect.provide(logs.layer))
  })

  it.scopedLive("a refusal echoing the secret, an assertion or a line break logs none of them", () => {
    const logs = makeLogCapture()
    return Effect.gen(function* () {
      const fake = yield* fakeOrg()
      const crm = yield* executor(fake)
      const jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"
      fake.failNext(
        {
          status: 400,
          body: {
            error: "invalid_client",
            error_description: `bad client_secret=${creds.clientSecret} for ${jwt}\nmessage="forged line"`
          }
        },
        1,
        (r) => r.path === "/services/oauth2/token"
      )
      yield* Effect.flip(crm.execute(upsertLead))
      const refused = withMessage(logs.lines, "CRM token request refused")
      expect(refused).toHaveLength(1)
      expect(refused[0]).toContain("error=invalid_client")
      expect(refused[0]).toContain("[redacted]")
      expect(refused[0]).not.toContain("\n")
      const all = logs.lines.join("\n")
      expect(all).not.toContain(creds.clientSecret)
      expect(all).not.toContain(jwt)
    }).pipe(Effect.provide(logs.layer))
  })
})

describe("a JWT bearer assertion's audience", () => {
  it.effect(
    "SALESFORCE_JWT_AUDIENCE defaults by the login host: test for a sandbox, login for Salesforce, else the site",
    () =>
      Effect.gen(function* () {
        const jwt = {
          SALESFORCE_CLIENT_ID: "3MVG9-client",
          SALESFORCE_USERNAME: "integration@acme.com",
          SALESFORCE_PRIVATE_KEY: "-----BEGIN PRIVATE KEY-----"
        }
        const audienceOf = (env: Record<string, string>) =>
          Effect.map(read({ ...jwt, ...env }), (result) =>
            result._tag === "Right" ? result.right.jwtAudience : result.left.message
          )
        const production = "https://login.salesforce.com"
        const sandbox = "https://test.salesforce.com"
        const byLoginUrl: ReadonlyArray<readonly [string | undefined, string]> = [
          [undefined, production],
          ["https://login.salesforce.com", production],
          ["https://acme.my.salesforce.com", production],
          ["https://acme-dev-ed.develop.my.salesforce.com", production],
          ["https://test.salesforce.com", sandbox],
          ["https://acme--uat.sandbox.my.salesforce.com", sandbox],
          ["https://acme--uat.my.salesforce.com", sandbox],
          ["https://acme--uat.cs42.my.salesforce.com", sandbox],
          ["https://cs42.salesforce.com", sandbox],
          ["https://acme-dev-ed.scratch.my.salesforce.com", sandbox],
          // an Experience Cloud site signs its users in at its own URL, which is its audience too
          ["https://acme.my.site.com/partners/", "https://acme.my.site.com/partners"],
          ["https://acme.force.com/customers", "https://acme.force.com/customers"]
        ]
        for (const [loginUrl, audience] of byLoginUrl) {
          expect(yield* audienceOf(loginUrl === undefined ? {} : { SALESFORCE_LOGIN_URL: loginUrl }), loginUrl).toBe(
            audience
          )
        }
        // set, it wins (an Experience Cloud site's URL); a My Domain is refused, as Salesforce refuses it
        const site = "https://acme.my.site.com/partners"
        expect(
          yield* audienceOf({ SALESFORCE_LOGIN_URL: "https://acme.my.salesforce.com", SALESFORCE_JWT_AUDIENCE: site })
        ).toBe(site)
        const myDomain = yield* read({ ...jwt, SALESFORCE_JWT_AUDIENCE: "https://acme.my.salesforce.com" })
        expect(myDomain._tag === "Left" && [...myDomain.left.keys]).toEqual(["SALESFORCE_JWT_AUDIENCE"])
      })
  )

  it.scopedLive("is Salesforce's login audience, not the login URL, and carries the username as sub", () =>
    Effect.gen(function* () {
      const { fake, crm } = yield* jwtOrg({}, {})
      yield* crm.execute(upsertLead)
      expect(claimsOf(fake)).toMatchObject({
        iss: creds.clientId,
        sub: "integration@acme.com",
        aud: "https://login.salesforce.com"
      })
      expect(fake.records.Lead).toHaveLength(1)
    })
  )

  it.scopedLive("a sandbox refuses production's audience (audience is invalid, logged); jwtAudience fixes it", () => {
    const logs = makeLogCapture()
    return Effect.gen(function* () {
      const wrong = yield* jwtOrg({ sandbox: true }, {})
      const error = yield* Effect.flip(wrong.crm.execute(upsertLead))
      expect(error).toMatchObject({ _tag: "CrmTransientError", message: "salesforce credentials rejected" })
      const refused = withMessage(logs.lines, "CRM token request refused")
      expect(refused).toHaveLength(1)
      expect(refused[0]).toContain("auth=JwtBearer")
      expect(refused[0]).toContain("error=invalid_grant")
      expect(refused[0]).toContain('reason="audience is invalid"')

      const right = yield* jwtOrg({ sandbox: true }, { jwtAudience: "https://test.salesforce.com" })
      expect((yield* right.crm.execute(upsertLead)).crmId).toMatch(/^00Q/)
      expect(claimsOf(right.fake).aud).toBe("https://test.salesforce.com")
    }).pipe(Effect.provide(logs.layer))
  })

  it.scopedLive("the fake refuses a My Domain as the audience, and an assertion without a username", () => {
    const logs = makeLogCapture()
    return Effect.gen(function* () {
      const myDomain = yield* jwtOrg({}, { jwtAudience: "https://acme.my.salesforce.com" })
      expect((yield* Effect.flip(myDomain.crm.execute(upsertLead)))._tag).toBe("CrmTransientError")
      const keys = keyPair()
      const fake = yield* fakeOrg({ clientId: creds.clientId, jwtPublicKey: keys.publicKey })
      const crm = yield* executor(fake, {
        auth: { _tag: "JwtBearer", clientId: creds.clientId, username: "", privateKey: Redacted.make(keys.privateKey) }
      })
      expect((yield* Effect.flip(crm.execute(upsertLead)))._tag).toBe("CrmTransientError")
      for (const org of [myDomain.fake, fake]) expect(org.apiRequests()).toHaveLength(0)
      const reasons = withMessage(logs.lines, "CRM token request refused").map(
        (line) => /reason="([^"]*)"/.exec(line)?.[1]
      )
      expect(reasons).toEqual(["audience is invalid", "invalid assertion"])
    }).pipe(Effect.provide(logs.layer))
  })
})
