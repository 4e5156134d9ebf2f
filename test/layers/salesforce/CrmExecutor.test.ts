import { generateKeyPairSync } from "node:crypto"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import type { SalesforceOptions } from "../../../layers/salesforce/config.js"
import { DAILY_QUOTA_RETRY_MS } from "../../../src/domain/crmErrors.js"
import { type FakeSalesforce, id18, integrationUserId } from "../../fakes/salesforce.js"
import { base, call, creds, email, executor, fakeOrg, key, orgWithExecutor, ref } from "./org.js"

const leadPath = `${base}/sobjects/Lead/RevenueFlow_Key__c/${key}`

const upsertLead = call({ tool: "upsert_lead", params: { ...ref, campaignId: "spring-2025", firstName: "Jane" } })

const setup = (overrides: Partial<SalesforceOptions> = {}) => orgWithExecutor({}, overrides)

const last = (fake: FakeSalesforce) => fake.requests[fake.requests.length - 1]!

describe("Salesforce executor (jsforce against the fake)", () => {
  it.scopedLive("upserts the lead by external id with derived Company and LastName; twice leaves one record", () =>
    Effect.gen(function* () {
      const { fake, crm } = yield* setup()
      const first = yield* crm.execute(upsertLead)
      const token = fake.tokenRequests()
      expect(token).toHaveLength(1)
      expect(new URLSearchParams(token[0]!.body).get("grant_type")).toBe("client_credentials")
      const req = last(fake)
      expect(req.method).toBe("PATCH")
      expect(req.path).toBe(leadPath)
      expect(req.headers.authorization).toMatch(/^Bearer 00DFAKE/)
      expect(req.headers["content-type"]).toBe("application/json")
      expect(req.json).toEqual({ Email: email, FirstName: "Jane", LastName: "jane.doe", Company: "acme.com" })
      expect(first.detail).toMatchObject({ object: "Lead", created: true })

      const second = yield* crm.execute(upsertLead)
      expect(second.crmId).toBe(first.crmId)
      expect(second.detail).toMatchObject({ created: false })
      expect(fake.records.Lead).toHaveLength(1)
      expect(fake.tokenRequests()).toHaveLength(1)
    })
  )

  it.scopedLive("PATCHes score, firmographics and status onto the lead by external id", () =>
    Effect.gen(function* () {
      const { fake, crm } = yield* setup()
      yield* crm.execute(upsertLead)
      yield* crm.execute(
        call({
          tool: "set_lead_score",
          params: { ...ref, score: 82, intent: "HIGH", decision: "Route to SDR" } as never
        })
      )
      expect(last(fake)).toMatchObject({ method: "PATCH", path: leadPath })
      expect(last(fake).json).toEqual({
        RevenueFlow_Score__c: 82,
        RevenueFlow_Intent__c: "HIGH",
        RevenueFlow_Decision__c: "Route to SDR"
      })
      yield* crm.execute(
        call({
          tool: "sync_firmographics",
          params: { ...ref, industry: "Software", employees: 250, annualRevenue: 5e7, domain: "acme.com" }
        })
      )
      expect(last(fake).json).toEqual({
        Industry: "Software",
        NumberOfEmployees: 250,
        AnnualRevenue: 5e7,
        Website: "acme.com"
      })
      yield* crm.execute(call({ tool: "update_lead_status", params: { ...ref, status: "Working" } }))
      expect(last(fake)).toMatchObject({ method: "PATCH", path: leadPath, json: { Status: "Working - Contacted" } })
      expect(fake.records.Lead).toHaveLength(1)
      expect(fake.records.Lead![0]).toMatchObject({
        RevenueFlow_Score__c: 82,
        Industry: "Software",
        Status: "Working - Contacted"
      })
    })
  )

  it.scopedLive("firmographics fill the lead's Country only when empty: one the lead gave or a rep set is kept", () =>
    Effect.gen(function* () {
      const { fake, crm } = yield* setup()
      const firmographics = (leadRef: typeof ref) =>
        call({
          tool: "sync_firmographics",
          params: { ...leadRef, industry: "Software", employees: 250, country: "US", domain: "acme.com" }
        })
      // the lead said where they are: the company's headquarters do not overwrite it
      yield* crm.execute(
        call({
          tool: "upsert_lead",
          params: { ...ref, campaignId: "spring-2025", lastName: "Doe", country: "Germany" }
        })
      )
      const kept = yield* crm.execute(firmographics(ref))
      expect(fake.records.Lead![0]).toMatchObject({ Country: "Germany", Industry: "Software", NumberOfEmployees: 250 })
      expect(kept.detail).toMatchObject({ omitted: [{ field: "Country", reason: expect.stringContaining("kept") }] })
      // a rep corrected it in Salesforce: kept too
      fake.records.Lead![0]!.Country = "Austria"
      yield* crm.execute(firmographics(ref))
      expect(fake.records.Lead![0]!.Country).toBe("Austria")
      // a lead that gave none gets the enrichment's
      const other = { leadKey: `${key}-2`, email: "max@acme.com" }
      yield* crm.execute(call({ tool: "upsert_lead", params: { ...other, campaignId: "spring-2025" } }))
      const filled = yield* crm.execute(firmographics(other))
      expect(fake.records.Lead![1]!.Country).toBe("US")
      expect(filled.detail).not.toHaveProperty("omitted")
    })
  )

  it.scopedLive("matches an account by website domain through an escaped SOQL LIKE", () =>
    Effect.gen(function* () {
      const { fake, crm } = yield* setup()
      fake.records.Account = [
        { Id: "001000000000077", Name: "Other", Website: "https://notacme.com" },
        { Id: "001000000000078", Name: "Acme", Website: "https://www.acme.com/" }
      ]
      const found = yield* crm.execute(call({ tool: "match_account", params: { ...ref, domain: "acme.com" } }))
      expect(found).toEqual({ crmId: id18("001000000000078"), detail: { object: "Account", matched: true } })
      const req = last(fake)
      expect(req.method).toBe("GET")
      expect(req.path).toBe(`${base}/query`)
      expect(req.query.get("q")).toBe(
        "SELECT Id, Name, Website FROM Account WHERE Website LIKE '%acme.com%' ORDER BY CreatedDate ASC LIMIT 20"
      )
      const none = yield* crm.execute(call({ tool: "match_account", params: { ...ref, domain: "globex.io" } }))
      expect(none.detail).toEqual({ object: "Account", matched: false })
    })
  )

  it.scopedLive("creates contact, opportunity, task and activity idempotently by external ids", () =>
    Effect.gen(function* () {
      const { fake, crm } = yield* setup()
      // the Account the contact is attached to exists: Salesforce refuses a reference to one that does not
      fake.records.Account = [{ Id: "001000000000078", Name: "Acme" }]
      const lead = yield* crm.execute(upsertLead)
      yield* crm.execute(
        call({ tool: "create_contact", params: { ...ref, lastName: "Doe", accountId: "001000000000078" } })
      )
      expect(last(fake)).toMatchObject({ method: "PATCH", path: `${base}/sobjects/Contact/RevenueFlow_Key__c/${key}` })
      expect(last(fake).json).toEqual({ Email: email, LastName: "Doe", AccountId: "001000000000078" })

      const opp = call({
        tool: "create_opportunity",
        params: { ...ref, name: "Acme - New", stage: "Prospecting", closeDate: "2025-09-30", amount: 12000 }
      })
      const created = yield* crm.execute(opp)
      yield* crm.execute(opp)
      expect(last(fake)).toMatchObject({
        method: "PATCH",
        path: `${base}/sobjects/Opportunity/RevenueFlow_Action_Key__c/${opp.actionKey}`
      })
      expect(last(fake).json).toEqual({
        Name: "Acme - New",
        StageName: "Prospecting",
        CloseDate: "2025-09-30",
        Amount: 12000
      })
      expect(fake.records.Opportunity).toHaveLength(1)

      yield* crm.execute(
        call({
          tool: "update_opportunity_stage",
          params: { ...ref, opportunityId: created.crmId!, stage: "Qualification" }
        })
      )
      expect(last(fake)).toMatchObject({
        method: "PATCH",
        path: `${base}/sobjects/Opportunity/${created.crmId}`,
        json: { StageName: "Qualification" }
      })
      expect(fake.records.Opportunity![0]!.StageName).toBe("Qualification")

      const task = call({
        tool: "create_task",
        params: { ...ref, subject: "Call Jane", priority: "High", dueDate: "2025-06-01" }
      })
      const before = fake.requests.length
      yield* crm.execute(task)
      yield* crm.execute(task)
      // The lead id came from the upsert: no lookup, one PATCH per execution (and the org's Task statuses, read once).
      expect(fake.requests.length - before).toBe(3)
      expect(last(fake)).toMatchObject({
        method: "PATCH",
        path: `${base}/sobjects/Task/RevenueFlow_Action_Key__c/${task.actionKey}`
      })
      expect(last(fake).json).toEqual({
        Subject: "Call Jane",
        Priority: "High",
        ActivityDate: "2025-06-01",
        Status: "Not Started",
        WhoId: lead.crmId
      })

      const activity = call({
        tool: "log_activity",
        params: { ...ref, subject: "Scored 82", description: "Fit: high" }
      })
      yield* crm.execute(activity)
      expect(last(fake).json).toEqual({
        Subject: "Scored 82",
        Description: "Fit: high",
        Status: "Completed",
        WhoId: lead.crmId
      })
      expect(fake.records.Task).toHaveLength(2)
    })
  )

  it.scopedLive("looks the lead id up by external id when it did not upsert it itself", () =>
    Effect.gen(function* () {
      const fake = yield* fakeOrg()
      const lead = yield* Effect.flatMap(executor(fake), (crm) => crm.execute(upsertLead))
      const fresh = yield* executor(fake)
      yield* fresh.execute(call({ tool: "log_activity", params: { ...ref, subject: "s", description: "d" } }))
      // the lead's id, the org's Task statuses (once per process), the Task
      const [lookup, statuses, patch] = fake.apiRequests().slice(-3)
      expect(lookup).toMatchObject({ method: "GET", path: leadPath })
      expect(statuses!.query.get("q")).toMatch(/FROM TaskStatus/)
      expect(lookup!.query.get("fields")).toBe("Id,IsConverted,ConvertedContactId")
      expect(patch!.json).toMatchObject({ WhoId: lead.crmId })
    })
  )

  it.scopedLive("converts a lead through SOAP convertLead once; a replay reports the first conversion", () =>
    Effect.gen(function* () {
      const { fake, crm } = yield* setup()
      yield* crm.execute(upsertLead)
      const convert = call({
        tool: "convert_lead",
        params: { ...ref, convertedStatus: "Closed - Converted", createOpportunity: false }
      })
      const first = yield* crm.execute(convert)
      const soap = fake.requests.filter((r) => r.path.startsWith("/services/Soap/u/62.0"))
      expect(soap).toHaveLength(1)
      expect(soap[0]!.method).toBe("POST")
      expect(soap[0]!.headers.soapaction).toBe('""')
      expect(soap[0]!.body).toContain("<sessionId>00DFAKE")
      expect(soap[0]!.body).toContain(
        `<convertLead><leadConverts><convertedStatus>Closed - Converted</convertedStatus><doNotCreateOpportunity>true</doNotCreateOpportunity><leadId>${id18(fake.records.Lead![0]!.Id)}</leadId><ownerId>${id18(integrationUserId)}</ownerId></leadConverts></convertLead>`
      )
      expect(first.detail).toMatchObject({ converted: true, contactId: first.crmId })
      expect(fake.records.Opportunity ?? []).toHaveLength(0)
      const again = yield* crm.execute(convert)
      expect(again).toMatchObject({ crmId: first.crmId, detail: { converted: false } })
      expect(fake.requests.filter((r) => r.path.startsWith("/services/Soap/"))).toHaveLength(1)
    })
  )

  it.scopedLive("a Task after a conversion names the Contact: here, in a fresh process, and after another's", () =>
    Effect.gen(function* () {
      const { fake, crm } = yield* setup()
      yield* crm.execute(upsertLead)
      // a second process that kept the Lead's id before the conversion
      const other = yield* executor(fake)
      yield* other.execute(call({ tool: "log_activity", params: { ...ref, subject: "before", description: "d" } }))
      const convert = call({
        tool: "convert_lead",
        params: { ...ref, convertedStatus: "Closed - Converted", createOpportunity: false }
      })
      const converted = yield* crm.execute(convert)
      const contactId = converted.crmId
      expect(contactId).toMatch(/^003/)
      const taskWho = () => fake.records.Task!.at(-1)!.WhoId
      // the process that converted it
      yield* crm.execute(call({ tool: "log_activity", params: { ...ref, subject: "after", description: "d" } }))
      expect(taskWho()).toBe(contactId)
      // a process that never saw the lead
      const fresh = yield* executor(fake)
      yield* fresh.execute(call({ tool: "create_task", params: { ...ref, subject: "Follow up", priority: "High" } }))
      expect(taskWho()).toBe(contactId)
      // the one that kept the Lead's id: refused ("cannot reference converted lead"), reads the Lead again, once
      yield* other.execute(call({ tool: "log_activity", params: { ...ref, subject: "late", description: "d" } }))
      expect(taskWho()).toBe(contactId)
      expect(fake.records.Task!.map((t) => t.Subject)).toEqual(["before", "after", "Follow up", "late"])
    })
  )

  it.scopedLive("the org's daily API allocation spent: calls are refused as rate-limited, REST and SOAP alike", () =>
    Effect.gen(function* () {
      const fake = yield* fakeOrg({ ...creds, apiLimit: 3 })
      const crm = yield* executor(fake)
      yield* crm.execute(upsertLead)
      yield* crm.execute(upsertLead)
      // the conversion's lead lookup is the allocation's last call; its SOAP convertLead is refused
      const convert = call({
        tool: "convert_lead",
        params: { ...ref, convertedStatus: "Closed - Converted", createOpportunity: false }
      })
      expect(yield* Effect.flip(crm.execute(convert))).toMatchObject({
        _tag: "CrmRateLimited",
        retryAfterMs: DAILY_QUOTA_RETRY_MS
      })
      expect(fake.requests.at(-1)!.path).toMatch(/^\/services\/Soap\//)
      expect(yield* Effect.flip(crm.execute(upsertLead))).toMatchObject({
        _tag: "CrmRateLimited",
        retryAfterMs: DAILY_QUOTA_RETRY_MS
      })
      expect(fake.records.Lead).toHaveLength(1)
      expect(fake.records.Lead![0]!.IsConverted).toBeUndefined()
    })
  )

  it.scopedLive(
    "a conversion to a status that is not a converted one is refused, naming it; the lead stays as it was",
    () =>
      Effect.gen(function* () {
        const { fake, crm } = yield* setup()
        yield* crm.execute(upsertLead)
        const error = yield* Effect.flip(
          crm.execute(
            call({
              tool: "convert_lead",
              params: { ...ref, convertedStatus: "Working - Contacted", createOpportunity: false }
            })
          )
        )
        expect(error.message).toContain("invalid convertedStatus: Working - Contacted")
        expect(fake.records.Lead![0]!.IsConverted).toBeUndefined()
        expect(fake.records.Contact ?? []).toHaveLength(0)
      })
  )

  it.scopedLive(
    "SOQL literals are read by Salesforce's escape rules: a LIKE wildcard escaped is literal, a stray escape is refused",
    () =>
      Effect.gen(function* () {
        const fake = yield* fakeOrg({ ...creds, validTokens: ["00DSTATIC!token"] })
        fake.records.Account = [
          { Id: "001000000000081", Name: "Underscore", Website: "https://a_b.io" },
          { Id: "001000000000082", Name: "Any char", Website: "https://axb.io" }
        ]
        const query = (soql: string) =>
          Effect.promise(async () => {
            const response = await fetch(`${fake.url}${base}/query?q=${encodeURIComponent(soql)}`, {
              headers: { authorization: "Bearer 00DSTATIC!token" }
            })
            return { status: response.status, body: (await response.json()) as unknown }
          })
        // the records found, by the 15 characters they were stored under (the API answers all 18)
        const ids = (reply: { body: unknown }) =>
          (reply.body as { records: Array<{ Id: string }> }).records.map((r) => r.Id.slice(0, 15))
        expect(ids(yield* query("SELECT Id FROM Account WHERE Website LIKE '%a\\_b.io'"))).toEqual(["001000000000081"])
        expect(ids(yield* query("SELECT Id FROM Account WHERE Website LIKE '%a_b.io'"))).toEqual([
          "001000000000081",
          "001000000000082"
        ])
        expect(ids(yield* query("SELECT Id FROM Account WHERE Name = 'any\\u0020char'"))).toEqual(["001000000000082"])
        for (const bad of ["Website = 'https://a\\_b.io'", "Name = 'x\\q'", "Website LIKE '%\\d'"]) {
          const reply = yield* query(`SELECT Id FROM Account WHERE ${bad}`)
          expect(reply.status, bad).toBe(400)
          expect(reply.body, bad).toMatchObject([{ errorCode: "MALFORMED_QUERY" }])
        }
      })
  )

  it.scopedLive("reports Sforce-Limit-Info to onApiUsage", () =>
    Effect.gen(function* () {
      const usage: Array<[number, number]> = []
      const { crm } = yield* setup({ onApiUsage: (used, limit) => Effect.sync(() => usage.push([used, limit])) })
      yield* crm.execute(upsertLead)
      yield* crm.execute(upsertLead)
      expect(usage).toEqual([
        [1, 15000],
        [2, 15000]
      ])
    })
  )
})

describe("Salesforce auth", () => {
  it.scopedLive("signs a JWT bearer assertion the token endpoint verifies", () =>
    Effect.gen(function* () {
      const { publicKey, privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 })
      const pem = privateKey.export({ type: "pkcs8", format: "pem" }).toString()
      const fake = yield* fakeOrg({
        clientId: "rf-client",
        jwtPublicKey: publicKey.export({ type: "spki", format: "pem" }).toString()
      })
      const crm = yield* executor(fake, {
        auth: {
          _tag: "JwtBearer",
          clientId: "rf-client",
          username: "integration@acme.com",
          privateKey: Redacted.make(pem)
        }
      })
      yield* crm.execute(upsertLead)
      const form = new URLSearchParams(fake.tokenRequests()[0]!.body)
      expect(form.get("grant_type")).toBe("urn:ietf:params:oauth:grant-type:jwt-bearer")
      const claims = JSON.parse(Buffer.from(form.get("assertion")!.split(".")[1]!, "base64url").toString())
      // aud is Salesforce's login audience, never the URL the request goes to (a My Domain there is refused)
      expect(claims).toMatchObject({
        iss: "rf-client",
        sub: "integration@acme.com",
        aud: "https://login.salesforce.com"
      })
      expect(fake.records.Lead).toHaveLength(1)
    })
  )

  it.scopedLive(
    "an app issuing JWT-based access tokens: convert_lead below API 68.0 fails at once as permanent, naming the fix",
    () =>
      Effect.gen(function* () {
        const { publicKey, privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 })
        const fake = yield* fakeOrg({
          clientId: "rf-client",
          jwtPublicKey: publicKey.export({ type: "spki", format: "pem" }).toString(),
          jwtAccessTokens: true
        })
        const auth = {
          _tag: "JwtBearer" as const,
          clientId: "rf-client",
          username: "integration@acme.com",
          privateKey: Redacted.make(privateKey.export({ type: "pkcs8", format: "pem" }).toString())
        }
        const convert = call({
          tool: "convert_lead",
          params: { ...ref, convertedStatus: "Closed - Converted", createOpportunity: false }
        })
        const crm = yield* executor(fake, { auth })
        yield* crm.execute(upsertLead)
        const error = yield* Effect.flip(crm.execute(convert))
        expect({ _tag: error._tag, code: "code" in error ? error.code : undefined }).toEqual({
          _tag: "CrmPermanentError",
          code: "JWT_TOKEN_NOT_SUPPORTED_BY_SOAP"
        })
        expect(error.message).toContain("SALESFORCE_API_VERSION")
        expect(error.message).toContain("68.0")
        // no SOAP call sent, no token asked for again: nothing a retry would change
        expect(fake.apiRequests().filter((r) => r.path.startsWith("/services/Soap/"))).toHaveLength(0)
        expect(fake.tokenRequests()).toHaveLength(1)
        expect(fake.records.Lead?.[0]?.IsConverted).toBeUndefined()

        // at 68.0 the SOAP API takes them
        const current = yield* executor(fake, { auth, apiVersion: "68.0" })
        const converted = yield* current.execute(convert)
        expect(converted.detail).toMatchObject({ object: "LeadConvert", converted: true })
      })
  )

  it.scopedLive("uses a given access token and instance URL without a token request", () =>
    Effect.gen(function* () {
      const fake = yield* fakeOrg({ validTokens: ["00DSTATIC!token"] })
      const crm = yield* executor(fake, {
        auth: { _tag: "AccessToken", accessToken: Redacted.make("00DSTATIC!token"), instanceUrl: fake.url }
      })
      yield* crm.execute(upsertLead)
      expect(fake.tokenRequests()).toHaveLength(0)
      expect(last(fake).headers.authorization).toBe("Bearer 00DSTATIC!token")
      fake.expireSessions()
      const error = yield* Effect.flip(crm.execute(upsertLead))
      expect(error).toMatchObject({ _tag: "CrmTransientError", message: "salesforce credentials rejected" })
      expect(JSON.stringify(error)).not.toContain("00DSTATIC")
    })
  )

  it.scopedLive(
    "an error echoing the executor's own credentials, the session token or the lead's email and phone carries none",
    () =>
      Effect.gen(function* () {
        const { fake, crm } = yield* setup()
        yield* crm.execute(upsertLead)
        const session = last(fake).headers.authorization!.replace(/^Bearer /, "")
        // echoed as a proxy or a debug handler might: the session token percent-encoded in a URL, the secret bare
        const echo =
          `Malformed request https://na1.example/x?session=${encodeURIComponent(session)} ` +
          `(client ${creds.clientId}/${creds.clientSecret}) for jane.doe@acme.com, +1 415 555 0100`
        fake.failNext({ status: 400, body: [{ errorCode: "INVALID_FIELD", message: echo }] })
        const error = yield* Effect.flip(crm.execute(upsertLead))
        expect(error).toMatchObject({ _tag: "CrmPermanentError", code: "INVALID_FIELD" })
        expect(error.message).toContain("[redacted]")
        expect(error.message).toContain("***@acme.com")
        expect(error.message).not.toContain(encodeURIComponent(session))
        expect(error.message).not.toContain(creds.clientSecret)
        expect(error.message).not.toMatch(/jane\.doe|415 555 0100/)
      })
  )

  it.scopedLive("a client secret rotated since start-up is scrubbed from an error's text too", () =>
    Effect.gen(function* () {
      const fake = yield* fakeOrg()
      let secret = creds.clientSecret
      const auth = () => ({
        _tag: "ClientCredentials" as const,
        clientId: creds.clientId,
        clientSecret: Redacted.make(secret)
      })
      const crm = yield* executor(fake, { auth: auth(), reloadAuth: Effect.sync(auth) })
      yield* crm.execute(upsertLead)
      secret = "rotated-secret-v2"
      fake.rotateClientSecret(secret)
      fake.expireSessions()
      yield* crm.execute(upsertLead)
      fake.failNext({ status: 500, body: [{ errorCode: "UNKNOWN_EXCEPTION", message: `echo ${secret}` }] })
      const error = yield* Effect.flip(crm.execute(upsertLead))
      expect(error._tag).toBe("CrmTransientError")
      expect(error.message).toBe("echo [redacted]")
    })
  )
})
