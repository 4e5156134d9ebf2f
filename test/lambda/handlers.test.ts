import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import { afterAll, beforeAll } from "vitest"
import { runMigrations } from "../../layers/postgres/stores.js"
import { hubspotSignatureV3 } from "../../src/domain/webhooks/hubspotSignature.js"
import type { HttpApiResult } from "../../src/lambda/events.js"
import { replayLead } from "../../src/pipeline/replay.js"
import { IngestServicesLive } from "../../src/programs/ingestServices.js"
import { consumerHandler, disposeConsumer } from "../../src/lambda/consumer.js"
import { disposeIngest, ingestHandler } from "../../src/lambda/ingest.js"
import { disposeSweep, sweepHandler } from "../../src/lambda/sweep.js"
import { type FakeSqs, makeFakeSqs } from "../fakes/sqs.js"
import { testDatabaseUrl, testSchema } from "../store/fixtures.js"
import { sampleLead } from "../support/env.js"
import { httpEvent, pollSqsOnce, scheduledEvent, sqsEvent } from "./events.js"

/**
 * The three handlers as Lambda calls them: AWS's sample events (test/lambda/events), the environment in process.env,
 * Postgres in a schema of its own (migrated first, as `revenueflow migrate` does at deploy time), a fake SQS.
 */
const scope = Effect.runSync(Scope.make())
let fake: FakeSqs
const queueName = "rf-leads"
const dlqName = "rf-leads-dlq"
const hubspotSecret = "hs-lambda-secret"

beforeAll(async () => {
  fake = await Effect.runPromise(Scope.extend(makeFakeSqs, scope))
  const schema = await Effect.runPromise(Scope.extend(testSchema, scope))
  const { url, dlqUrl } = fake.createQueue(queueName, { deadLetter: { name: dlqName, maxReceiveCount: 3 } })
  Object.assign(process.env, {
    DATABASE_URL: testDatabaseUrl,
    DATABASE_SCHEMA: schema,
    SQS_QUEUE_URL: url,
    SQS_DLQ_URL: dlqUrl,
    AWS_REGION: "eu-west-1",
    AWS_ACCESS_KEY_ID: "AKIAFAKELAMBDATEST",
    AWS_SECRET_ACCESS_KEY: "fake-secret",
    AWS_ENDPOINT_URL_SQS: fake.url,
    HUBSPOT_APP_SECRET: hubspotSecret,
    SWEEP_MIN_AGE_MS: "1",
    LOG_LEVEL: "WARN"
  })
  delete process.env.AWS_ENDPOINT_URL
  delete process.env.REDIS_URL
  delete process.env.QUEUE_BACKEND
  // the deploy step: the handlers themselves do not migrate (MIGRATE_ON_START is false on Lambda)
  await Effect.runPromise(runMigrations)
})

afterAll(async () => {
  await Promise.all([disposeIngest(), disposeConsumer(), disposeSweep()])
  await Effect.runPromise(Scope.close(scope, Exit.void))
})

const json = (result: HttpApiResult) => JSON.parse(result.body)
const call = (kind: "http-api-v2" | "function-url", request: Parameters<typeof httpEvent>[1]) =>
  Effect.promise(() => ingestHandler(httpEvent(kind, request)))
const postLead = (lead: unknown, kind: "http-api-v2" | "function-url" = "http-api-v2") =>
  call(kind, {
    method: "POST",
    path: "/leads",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(lead)
  })

/** What Lambda's SQS poller does: receive, invoke the consumer with the records, delete what it did not list. */
const pollOnce = Effect.promise(() => pollSqsOnce(consumerHandler))

const leadBody = (body: string) => JSON.parse(body) as { leadId: string; traceContext?: Record<string, string> }

describe("ingestHandler (API Gateway HTTP API v2 and function URL events)", () => {
  it.live("/healthz, /openapi.json and an unknown route answer as the ingest does", () =>
    Effect.gen(function* () {
      const health = yield* call("http-api-v2", { method: "GET", path: "/healthz" })
      expect(health).toMatchObject({ statusCode: 200, isBase64Encoded: false })
      expect(json(health)).toEqual({ status: "ok" })
      const openapi = yield* call("function-url", { method: "GET", path: "/openapi.json" })
      expect(openapi.statusCode).toBe(200)
      expect(openapi.headers["content-type"]).toMatch(/^application\/json/)
      expect(Object.keys(json(openapi).paths)).toEqual(expect.arrayContaining(["/leads", "/leads/{id}", "/healthz"]))
      const docs = yield* call("http-api-v2", { method: "GET", path: "/docs" })
      expect(docs.statusCode).toBe(200)
      expect(docs.headers["content-type"]).toMatch(/^text\/html/)
      const missing = yield* call("http-api-v2", { method: "GET", path: "/nowhere" })
      expect(missing.statusCode).toBe(404)
      expect(missing.headers["content-type"]).toMatch(/^application\/problem\+json/)
    })
  )

  it.live(
    "POST /leads: 202 and one SQS message with the job JSON; 200 for the duplicate; GET /leads/:id reads it",
    () =>
      Effect.gen(function* () {
        const lead = sampleLead({ email: "ada.lambda@globex.com" })
        const created = yield* postLead(lead)
        expect(created.statusCode, created.body).toBe(202)
        const id = json(created).id as string
        const messages = fake.messages(queueName).filter((m) => leadBody(m.body).leadId === id)
        expect(messages).toHaveLength(1)
        expect(leadBody(messages[0]?.body ?? "{}")).toMatchObject({ leadId: id })
        // the same lead through a function URL, base64-encoded as for a binary media type: the duplicate, 200
        const again = yield* call("function-url", {
          method: "POST",
          path: "/leads",
          headers: { "content-type": "application/json" },
          body: JSON.stringify(lead),
          base64: true
        })
        expect(again.statusCode, again.body).toBe(200)
        expect(json(again).id).toBe(id)
        expect(fake.messages(queueName).filter((m) => leadBody(m.body).leadId === id)).toHaveLength(1)
        const read = yield* call("function-url", { method: "GET", path: `/leads/${id}` })
        expect(read.statusCode).toBe(200)
        expect(json(read)).toMatchObject({ id, status: "QUEUED", lead: { email: "ada.lambda@globex.com" } })
      })
  )

  it.live("bad JSON, an oversized body and a wrong content type are the ingest's 400, 413 and 415 problems", () =>
    Effect.gen(function* () {
      const post = (headers: Record<string, string>, body: string) =>
        call("http-api-v2", { method: "POST", path: "/leads", headers, body })
      const bad = yield* post({ "content-type": "application/json" }, '{"email": ')
      expect(bad.statusCode).toBe(400)
      expect(json(bad)).toMatchObject({ status: 400, detail: expect.stringContaining("not valid JSON") })
      const big = yield* post({ "content-type": "application/json" }, JSON.stringify({ pad: "x".repeat(70 * 1024) }))
      expect(big.statusCode).toBe(413)
      expect(big.headers["content-type"]).toMatch(/^application\/problem\+json/)
      const text = yield* post({ "content-type": "text/plain" }, JSON.stringify(sampleLead()))
      expect(text.statusCode).toBe(415)
      // header text beyond Latin-1 is taken as its UTF-8 bytes (as node:http does); a control character is a 400
      const named = yield* post({ "content-type": "application/json", "x-display-name": "名前" }, "{")
      expect(named.statusCode).toBe(400)
      expect(json(named).detail).toContain("not valid JSON")
      const control = yield* post({ "content-type": "application/json", "x-note": "a\u0000b" }, "{}")
      expect(control.statusCode).toBe(400)
      expect(control.headers["content-type"]).toBe("application/problem+json")
      expect(json(control).detail).toMatch(/^The request cannot be read/)
    })
  )

  it.live("the HubSpot webhook is verified over the public URL the event describes (host, proto, path and query)", () =>
    Effect.gen(function* () {
      const body = JSON.stringify({
        objectId: 7070,
        portalId: 62515,
        properties: { email: { value: "grace.lambda@globex.com" }, firstname: { value: "Grace" } }
      })
      const signed = (uri: string) => {
        const timestamp = String(Date.now())
        return {
          "content-type": "application/json",
          "x-hubspot-request-timestamp": timestamp,
          "x-hubspot-signature-v3": hubspotSignatureV3({ secret: hubspotSecret, method: "POST", uri, body, timestamp })
        }
      }
      const host = "a1b2c3d4e5f6g7h8i9j0k1l2m3n4o5p6.lambda-url.us-west-2.on.aws"
      const path = "/webhooks/hubspot?portal=62515"
      const accepted = yield* call("function-url", {
        method: "POST",
        path,
        headers: signed(`https://${host}${path}`),
        body
      })
      expect(accepted.statusCode, accepted.body).toBe(202)
      // signed for another host: refused
      const forged = yield* call("function-url", {
        method: "POST",
        path,
        headers: signed(`https://attacker.example${path}`),
        body
      })
      expect(forged.statusCode).toBe(401)
    })
  )
})

describe("the whole path: API event -> ingestHandler -> Postgres -> SQS -> consumerHandler -> mock CRM", () => {
  it.live("a lead is SYNCED; the message is acknowledged (no batchItemFailures) and gone from the queue", () =>
    Effect.gen(function* () {
      fake.purge(queueName)
      const created = yield* postLead(sampleLead({ email: "linus.path@globex.com" }))
      expect(created.statusCode).toBe(202)
      const id = json(created).id as string
      const { event, answer } = yield* pollOnce
      expect(event.Records.map((r) => leadBody(r.body).leadId)).toEqual([id])
      expect(answer).toEqual({ batchItemFailures: [] })
      expect(fake.messages(queueName)).toEqual([])
      const read = json(yield* call("http-api-v2", { method: "GET", path: `/leads/${id}` }))
      expect(read.status).toBe("SYNCED")
      expect(read.actions.length).toBeGreaterThan(0)
      expect(read.actions.every((a: { status: string }) => a.status === "SUCCEEDED")).toBe(true)
    })
  )

  it.live(
    "a CRM refusal is permanent: the lead is FAILED at once, the job is in the DLQ, the delivery acknowledged",
    () =>
      Effect.gen(function* () {
        fake.purge(queueName)
        // the mock CRM refuses addresses on the reserved .invalid domain, as Salesforce refuses a bad address
        const created = yield* postLead(sampleLead({ email: "bounce.lambda@globex.invalid" }))
        const id = json(created).id as string
        const { answer } = yield* pollOnce
        expect(answer).toEqual({ batchItemFailures: [] })
        const read = json(yield* call("http-api-v2", { method: "GET", path: `/leads/${id}` }))
        expect(read.status).toBe("FAILED")
        expect(read.error).toContain("invalid email address")
        const dead = fake.messages(dlqName).map((m) => JSON.parse(m.body))
        expect(dead).toContainEqual(
          expect.objectContaining({ leadId: id, reason: expect.stringContaining("CRM rejected") })
        )
        // the CLI's replay (QUEUE_BACKEND=SQS): the job leaves the DLQ for the queue, the lead is QUEUED again
        const replayed = yield* replayLead(id).pipe(
          Effect.provide(IngestServicesLive),
          Effect.withConfigProvider(
            ConfigProvider.fromEnv().pipe(
              ConfigProvider.orElse(() => ConfigProvider.fromJson({ QUEUE_BACKEND: "SQS" }))
            )
          ),
          Effect.scoped
        )
        expect(replayed).toEqual({ leadId: id, replayed: true, status: "QUEUED" })
        expect(fake.messages(dlqName).map((m) => JSON.parse(m.body).leadId)).not.toContain(id)
        expect(fake.messages(queueName).map((m) => leadBody(m.body).leadId)).toContain(id)
        fake.purge(queueName)
      })
  )

  it.live("a job for a lead the store does not hold is acknowledged and dead-lettered, not retried", () =>
    Effect.gen(function* () {
      const answer = yield* Effect.promise(() =>
        consumerHandler(
          sqsEvent([
            {
              messageId: "11111111-2222-3333-4444-555555555555",
              receiptHandle: "AQEBfake",
              body: JSON.stringify({ leadId: "00000000-0000-4000-8000-000000000000" }),
              receiveCount: 1
            }
          ])
        )
      )
      expect(answer).toEqual({ batchItemFailures: [] })
      expect(fake.messages(dlqName).map((m) => JSON.parse(m.body))).toContainEqual(
        expect.objectContaining({
          leadId: "00000000-0000-4000-8000-000000000000",
          reason: expect.stringContaining("does not exist")
        })
      )
    })
  )
})

describe("sweepHandler (EventBridge scheduled event)", () => {
  it.live("enqueues again a lead whose message was lost, and the consumer then syncs it", () =>
    Effect.gen(function* () {
      const created = yield* postLead(sampleLead({ email: "sweep.lambda@globex.com" }))
      const id = json(created).id as string
      // the queue loses the message (purged): the lead stays QUEUED in Postgres
      fake.purge(queueName)
      yield* Effect.sleep("20 millis")
      const swept = yield* Effect.promise(() => sweepHandler(scheduledEvent(), { awsRequestId: "sweep" }))
      expect(swept.enqueued).toBeGreaterThanOrEqual(1)
      expect(fake.messages(queueName).map((m) => leadBody(m.body).leadId)).toContain(id)
      for (let i = 0; i < 5 && fake.messages(queueName).length > 0; i++) yield* pollOnce
      const read = json(yield* call("http-api-v2", { method: "GET", path: `/leads/${id}` }))
      expect(read.status).toBe("SYNCED")
      // one environment per container: the consumer read the queue's redrive policy once, over all its invocations
      const redrivePolicyReads = fake.requests.filter(
        (r) => r.headers["x-amz-target"] === "AmazonSQS.GetQueueAttributes" && r.body.includes("RedrivePolicy")
      )
      expect(redrivePolicyReads).toHaveLength(1)
    })
  )
})
