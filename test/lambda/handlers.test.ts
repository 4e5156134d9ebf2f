import { mkdtempSync, rmSync } from "node:fs"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import { afterAll, beforeAll } from "vitest"
import { runMigrations } from "../../layers/postgres/stores.js"
import { hubspotSignatureV3 } from "../../src/domain/webhooks/hubspotSignature.js"
import type { HttpApiResult, SqsEventRecord } from "../../src/lambda/events.js"
import { replayLead } from "../../src/pipeline/replay.js"
import { IngestServicesLive } from "../../src/programs/ingestServices.js"
import { consumerHandler, disposeConsumer } from "../../src/lambda/consumer.js"
import { disposeIngest, ingestHandler } from "../../src/lambda/ingest.js"
import { disposeSweep, sweepHandler } from "../../src/lambda/sweep.js"
import { type FakeSqs, makeFakeSqs } from "../fakes/sqs.js"
import { testDatabaseUrl, testSchema } from "../store/fixtures.js"
import { sampleLead } from "../support/env.js"
import { scopedProcessEnv } from "../support/processEnv.js"
import { lambdaRedis } from "./redis.js"
import { albEvent, httpEvent, pollSqsOnce, restApiV1Event, scheduledEvent, sqsEvent } from "./events.js"

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
    ...(await Effect.runPromise(Scope.extend(lambdaRedis, scope))),
    SQS_QUEUE_URL: url,
    SQS_DLQ_URL: dlqUrl,
    AWS_REGION: "eu-west-1",
    AWS_ACCESS_KEY_ID: "AKIAFAKELAMBDATEST",
    AWS_SECRET_ACCESS_KEY: "fake-secret",
    AWS_ENDPOINT_URL_SQS: fake.url,
    HUBSPOT_APP_SECRET: hubspotSecret,
    SWEEP_MIN_AGE_MS: "1",
    // a lead whose message was lost is sent again at the next sweep, not an hour later (SQS cannot tell it was sent)
    SWEEP_RESEND_MIN_AGE_MS: "1",
    LOG_LEVEL: "WARN"
  })
  delete process.env.AWS_ENDPOINT_URL
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

/**
 * Calls a handler as Lambda does, keeping what it writes to stdout and stderr (one entry a line) instead of printing
 * it, and its answer or the error it threw.
 */
const invoke = <A>(call: () => Promise<A>) =>
  Effect.promise(async () => {
    const lines: Array<string> = []
    const original = { log: console.log, error: console.error }
    const keep = (...args: Array<unknown>) => {
      lines.push(args.map(String).join(" "))
    }
    Object.assign(console, { log: keep, error: keep })
    try {
      const answer = await call()
      return { answer, error: undefined, lines }
    } catch (error) {
      return { answer: undefined, error: error instanceof Error ? error : new Error(String(error)), lines }
    } finally {
      Object.assign(console, original)
    }
  })

/** The lines that are JSON objects, parsed. */
const jsonLines = (lines: ReadonlyArray<string>): Array<Record<string, unknown>> =>
  lines.flatMap((line) => {
    try {
      const parsed: unknown = JSON.parse(line)
      return typeof parsed === "object" && parsed !== null ? [parsed as Record<string, unknown>] : []
    } catch {
      return []
    }
  })

/** Every line is one JSON object in the programs' format (layers/observability/Logger.ts): time, lower-case level. */
const expectProgramFormat = (lines: ReadonlyArray<string>) => {
  expect(jsonLines(lines)).toHaveLength(lines.length)
  for (const entry of jsonLines(lines)) {
    expect(entry.time, JSON.stringify(entry)).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
    expect(["debug", "info", "warn", "error", "fatal"]).toContain(entry.level)
    expect(typeof entry.message).toBe("string")
  }
}

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

describe("ingestHandler behind a named stage (rawPath starts with the stage's name)", () => {
  it.live("routes what follows the stage, points Location under it, and verifies HubSpot over the URL called", () =>
    Effect.gen(function* () {
      const health = yield* call("http-api-v2", { method: "GET", path: "/healthz", stage: "prod" })
      expect(health.statusCode, health.body).toBe(200)
      const created = yield* call("http-api-v2", {
        method: "POST",
        path: "/leads",
        stage: "prod",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(sampleLead({ email: "stage.lambda@globex.com" }))
      })
      expect(created.statusCode, created.body).toBe(202)
      const location = created.headers.location ?? ""
      expect(location).toBe(`/prod/leads/${json(created).id as string}`)
      const read = yield* call("http-api-v2", { method: "GET", path: location.slice("/prod".length), stage: "prod" })
      expect(json(read)).toMatchObject({ id: json(created).id, lead: { email: "stage.lambda@globex.com" } })
      // TRACE is answered before routing: the path's methods, as on $default
      const trace = yield* call("http-api-v2", { method: "TRACE", path: "/leads", stage: "prod" })
      expect(trace.statusCode).toBe(405)
      // HubSpot signed the URL it called, stage included; a client's own X-Forwarded-Prefix is not taken
      const body = JSON.stringify({
        objectId: 7071,
        portalId: 62515,
        properties: { email: { value: "grace.stage@globex.com" } }
      })
      const host = "r3pjz0ns8c.execute-api.us-east-1.amazonaws.com"
      const signed = (uri: string, extra: Record<string, string> = {}) => {
        const timestamp = String(Date.now())
        return {
          "content-type": "application/json",
          host,
          "x-hubspot-request-timestamp": timestamp,
          "x-hubspot-signature-v3": hubspotSignatureV3({ secret: hubspotSecret, method: "POST", uri, body, timestamp }),
          ...extra
        }
      }
      const webhook = (headers: Record<string, string>, stage?: string) =>
        call("http-api-v2", { method: "POST", path: "/webhooks/hubspot", headers, body, ...(stage ? { stage } : {}) })
      const accepted = yield* webhook(signed(`https://${host}/prod/webhooks/hubspot`), "prod")
      expect(accepted.statusCode, accepted.body).toBe(202)
      const spoofed = yield* webhook(signed(`https://${host}/prod/webhooks/hubspot`, { "x-forwarded-prefix": "/prod" }))
      expect(spoofed.statusCode).toBe(401)
    })
  )
})

describe("ingestHandler given an event it does not take", () => {
  const marker = "marker-7f3a-never-logged"
  const lead = JSON.stringify({ ...sampleLead(), note: marker })
  const request = {
    method: "POST",
    path: "/leads",
    headers: { "content-type": "application/json", "x-api-key": marker },
    body: lead
  }
  const withBody = (body: unknown) => ({ ...httpEvent("http-api-v2", request), body })

  it.live(
    "an SQS event (a queue wired to the ingest) is refused with an error: an answer would delete its messages",
    () =>
      Effect.gen(function* () {
        const event = sqsEvent([{ messageId: "m-1", receiptHandle: "r-1", body: lead, receiveCount: 1 }])
        const { answer, error, lines } = yield* invoke(() => ingestHandler(event as never))
        expect(answer).toBeUndefined()
        expect(String(error)).toMatch(/takes HTTP API and function URL events; it was invoked with an SQS event$/)
        expectProgramFormat(lines)
        const logged = jsonLines(lines)
        expect(logged).toHaveLength(1)
        expect(logged[0]).toMatchObject({ level: "error", message: expect.stringContaining("nothing acknowledged") })
        expect(lines.join("\n")).not.toContain(marker)
      })
  )

  it.live("a REST API v1, ALB or empty event, or a non-string body: logged by its shape, answered 500", () =>
    Effect.gen(function* () {
      const cases: ReadonlyArray<readonly [unknown, RegExp]> = [
        [restApiV1Event(request), /^a REST API v1 event \(httpMethod, no requestContext\.http\)$/],
        [albEvent(request), /^an ALB event/],
        [{}, /^an empty object/],
        [null, /^null$/],
        [withBody({ email: marker }), /body is not a string/],
        [withBody(Buffer.from(lead)), /body is not a string/]
      ]
      for (const [event, shape] of cases) {
        const { answer, error, lines } = yield* invoke(() => ingestHandler(event as never))
        expect(error).toBeUndefined()
        expect(answer?.statusCode, String(shape)).toBe(500)
        expect(answer?.headers["content-type"]).toBe("application/problem+json")
        const problem = JSON.parse(answer?.body ?? "{}")
        expect(problem).toMatchObject({ status: 500, detail: expect.stringContaining("unsupported event source") })
        // no JavaScript error reaches the client
        expect(answer?.body).not.toMatch(/Cannot read|TypeError|undefined|null/)
        // one error line, in the programs' format, naming what was received: its shape, never its contents
        expectProgramFormat(lines)
        const logged = jsonLines(lines)
        expect(logged).toHaveLength(1)
        expect(logged[0]).toMatchObject({ level: "error", message: expect.stringContaining("unsupported event") })
        expect(logged[0]?.received).toMatch(shape)
        expect(lines.join("\n")).not.toContain(marker)
      }
    })
  )

  it.live("a header whose value is null is skipped: the request is served", () =>
    Effect.gen(function* () {
      const event = httpEvent("http-api-v2", { method: "GET", path: "/healthz" })
      const { answer } = yield* invoke(() =>
        ingestHandler({ ...event, headers: { ...event.headers, "x-empty": null } } as never)
      )
      expect(answer?.statusCode, answer?.body).toBe(200)
      expect(JSON.parse(answer?.body ?? "{}")).toEqual({ status: "ok" })
    })
  )
})

describe("ingestHandler answers as the node:http ingest does", () => {
  it.live("every answer, routed or answered before routing, is kept by no cache and never sniffed", () =>
    Effect.gen(function* () {
      const replies = [
        yield* postLead(sampleLead({ email: "no.store.lambda@globex.com" })),
        yield* call("http-api-v2", {
          method: "POST",
          path: "/leads",
          headers: { "content-type": "text/plain" },
          body: "x"
        }),
        yield* call("http-api-v2", { method: "GET", path: "/healthz" }),
        yield* call("http-api-v2", {
          method: "POST",
          path: "/leads",
          headers: { "content-type": "application/json", expect: "200-ok" },
          body: "{}"
        }),
        yield* call("http-api-v2", { method: "TRACE", path: "/leads" }),
        yield* call("function-url", { method: "TRACE", path: "/nowhere" }),
        (yield* invoke(() => ingestHandler({} as never))).answer as HttpApiResult
      ]
      expect(replies.map((reply) => reply.statusCode)).toEqual([202, 415, 200, 417, 405, 404, 500])
      for (const reply of replies) {
        expect(reply.headers["cache-control"], `${reply.statusCode} ${reply.body.slice(0, 80)}`).toBe("no-store")
        expect(reply.headers["x-content-type-options"], `${reply.statusCode}`).toBe("nosniff")
      }
    })
  )

  it.live("a POST without a body field (API Gateway leaves it out when empty) is the ingest's empty-body 400", () =>
    Effect.gen(function* () {
      const empty = yield* call("http-api-v2", {
        method: "POST",
        path: "/leads",
        headers: { "content-type": "application/json" }
      })
      expect(empty.statusCode).toBe(400)
      expect(json(empty).detail).toBe("Request body is empty; expected a JSON object")
    })
  )

  it.live("TRACE (which no web Request can carry) is 405 naming the path's methods in Allow, or 404", () =>
    Effect.gen(function* () {
      for (const [path, allow] of [
        ["/leads", "POST, GET"],
        ["/healthz", "GET"]
      ] as const) {
        const reply = yield* call("http-api-v2", { method: "TRACE", path })
        expect(reply.statusCode, path).toBe(405)
        expect(reply.headers.allow).toBe(allow)
        expect(reply.headers["content-type"]).toBe("application/problem+json")
        expect(json(reply).detail).toBe(`TRACE is not a method of ${path}: it takes ${allow}`)
      }
      const nowhere = yield* call("function-url", { method: "TRACE", path: "/nowhere" })
      expect(nowhere.statusCode).toBe(404)
      expect(json(nowhere).detail).toBe("No such route")
    })
  )

  it.live("an expectation other than 100-continue is a 417 problem, the body unread; 100-continue goes on", () =>
    Effect.gen(function* () {
      const lead = sampleLead({ email: "expect.lambda@globex.com" })
      const post = (expectation: string) =>
        call("http-api-v2", {
          method: "POST",
          path: "/leads",
          headers: { "content-type": "application/json", expect: expectation },
          body: JSON.stringify(lead)
        })
      const queued = fake.messages(queueName).length
      const refused = yield* post("200-ok")
      expect(refused.statusCode).toBe(417)
      expect(refused.headers["content-type"]).toBe("application/problem+json")
      expect(json(refused).detail).toBe('Expect: "200-ok" is not supported; only 100-continue is')
      // nothing was taken: no lead stored, none queued
      expect(fake.messages(queueName)).toHaveLength(queued)
      const accepted = yield* post("100-continue")
      expect(accepted.statusCode, accepted.body).toBe(202)
      expect(fake.messages(queueName)).toHaveLength(queued + 1)
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

describe("consumerHandler and sweepHandler given an event they do not take", () => {
  const httpApi = () => httpEvent("http-api-v2", { method: "POST", path: "/leads", body: "{}" })

  it.live("the consumer: logged by its shape and refused with a clear error; nothing is read or acknowledged", () =>
    Effect.gen(function* () {
      const cases: ReadonlyArray<readonly [unknown, RegExp]> = [
        [{}, /an empty object/],
        [httpApi(), /an HTTP API \(payload 2\.0\) \/ function URL event/],
        [scheduledEvent(), /an EventBridge scheduled event/],
        [null, /null/],
        [{ Records: [{ eventSource: "aws:sqs", receiptHandle: "r", body: "{}" }] }, /record 0 has no messageId/]
      ]
      const requests = fake.requests.length
      for (const [event, shape] of cases) {
        const { error, lines } = yield* invoke(() => consumerHandler(event as never))
        expect(error?.message, String(shape)).toMatch(/^consumerHandler takes SQS events/)
        expect(error?.message).toMatch(shape)
        expect(error?.message).not.toMatch(/FiberFailure|TypeError|Cannot read/)
        expectProgramFormat(lines)
        const logged = jsonLines(lines)
        expect(logged).toHaveLength(1)
        expect(logged[0]).toMatchObject({ level: "error", message: expect.stringContaining("unsupported event") })
        expect(logged[0]?.received).toMatch(shape)
      }
      // no call to SQS (no delete, no visibility change, no dead letter)
      expect(fake.requests.length).toBe(requests)
    })
  )

  it.live("the sweep runs for a scheduled event or {} only: anything else is logged and refused, nothing swept", () =>
    Effect.gen(function* () {
      const created = yield* postLead(sampleLead({ email: "sweep.refused@globex.com" }))
      const id = json(created).id as string
      fake.purge(queueName)
      yield* Effect.sleep("20 millis")
      const cases: ReadonlyArray<readonly [unknown, RegExp]> = [
        [null, /null/],
        [sqsEvent([{ messageId: "m-1", receiptHandle: "r-1", body: "{}", receiveCount: 1 }]), /an SQS event/],
        [httpApi(), /an HTTP API/],
        [{ "detail-type": "Object Created", source: "aws.s3" }, /not a Scheduled Event/]
      ]
      for (const [event, shape] of cases) {
        const { error, lines } = yield* invoke(() => sweepHandler(event as never))
        expect(error?.message, String(shape)).toMatch(/^sweepHandler runs for an EventBridge scheduled event or \{\}/)
        expect(error?.message).toMatch(shape)
        expectProgramFormat(lines)
        expect(jsonLines(lines)).toHaveLength(1)
        expect(jsonLines(lines)[0]).toMatchObject({ level: "error", received: expect.stringMatching(shape) })
      }
      expect(fake.messages(queueName)).toEqual([])
      // {}: a manual `aws lambda invoke` (and the deploy-time migrations) sweeps
      const manual = yield* invoke(() => sweepHandler({}))
      expect(manual.error).toBeUndefined()
      expect(manual.answer?.enqueued).toBeGreaterThanOrEqual(1)
      expect(fake.messages(queueName).map((m) => leadBody(m.body).leadId)).toContain(id)
      fake.purge(queueName)
    })
  )
})

// These rebuild the consumer's environment (another configuration), so they come after the tests that count what
// one environment does over its invocations.
describe("consumerHandler: a record whose receive count is missing or unreadable", () => {
  const record = (leadId: string, messageId: string) =>
    sqsEvent([{ messageId, receiptHandle: `r-${messageId}`, body: JSON.stringify({ leadId }), receiveCount: 1 }])
      .Records[0] as SqsEventRecord
  const withCount = (r: SqsEventRecord, count: string | undefined) => ({
    Records: [
      count === undefined
        ? (({ attributes: _, ...rest }) => rest)(r)
        : { ...r, attributes: { ...r.attributes, ApproximateReceiveCount: count } }
    ]
  })
  const leadStatus = (id: string) =>
    call("http-api-v2", { method: "GET", path: `/leads/${id}` }).pipe(Effect.map((r) => json(r).status as string))

  it.live("a permanent failure's dead letter counts the attempts of a last receive (maxReceiveCount 3)", () =>
    Effect.gen(function* () {
      const leadId = "00000000-0000-4000-8000-00000000abc1"
      const { answer, lines } = yield* invoke(() => consumerHandler(withCount(record(leadId, "m-abc"), "abc") as never))
      expect(answer).toEqual({ batchItemFailures: [] })
      const letter = fake
        .messages(dlqName)
        .map((m) => JSON.parse(m.body))
        .find((b) => b.leadId === leadId)
      expect(letter?.attemptsMade).toBe(3)
      const warned = jsonLines(lines).find((l) => String(l.message).includes("ApproximateReceiveCount"))
      expect(warned).toMatchObject({ level: "warn", messageId: "m-abc" })
    })
  )

  it.live("is taken as the last receive: a transient failure marks the lead FAILED, and the message is listed", () =>
    Effect.gen(function* () {
      const leads: Array<string> = []
      for (const email of ["first.receive@globex.com", "no.attributes@globex.com", "bad.count@globex.com"]) {
        leads.push(json(yield* postLead(sampleLead({ email }))).id as string)
      }
      fake.purge(queueName)
      const [control = "", missing = "", unreadable = ""] = leads
      // enrichment from a provider that refuses connections: a transient failure, retried by the queue
      const transient = {
        ENRICHMENT_PROVIDER: "HTTP",
        ENRICHMENT_BASE_URL: "http://127.0.0.1:1",
        ENRICHMENT_API_KEY: "enrichment-test-key",
        ENRICHMENT_RETRIES: "0"
      }
      yield* Effect.promise(disposeConsumer)
      Object.assign(process.env, transient)
      yield* Effect.gen(function* () {
        // the control: a first receive of three is retried, the lead not FAILED
        const first = yield* invoke(() => consumerHandler(withCount(record(control, "m-first"), "1") as never))
        expect(first.answer).toEqual({ batchItemFailures: [{ itemIdentifier: "m-first" }] })
        expect(yield* leadStatus(control)).not.toBe("FAILED")
        for (const [leadId, count, messageId] of [
          [missing, undefined, "m-missing"],
          [unreadable, "abc", "m-unreadable"]
        ] as const) {
          const { answer, error, lines } = yield* invoke(() =>
            consumerHandler(withCount(record(leadId, messageId), count) as never)
          )
          expect(error).toBeUndefined()
          expect(answer).toEqual({ batchItemFailures: [{ itemIdentifier: messageId }] })
          expect(yield* leadStatus(leadId)).toBe("FAILED")
          expect(jsonLines(lines)).toContainEqual(
            expect.objectContaining({
              level: "warn",
              messageId,
              message: expect.stringContaining("ApproximateReceiveCount")
            })
          )
        }
      }).pipe(
        Effect.ensuring(
          Effect.promise(async () => {
            for (const name of Object.keys(transient)) delete process.env[name]
            await disposeConsumer()
          })
        )
      )
    })
  )
})

describe("a handler whose environment cannot start", () => {
  const password = "Sup3rS3cretPw"

  it.live("logs one line in the programs' JSON format, without the DATABASE_URL password; the ingest answers 503", () =>
    Effect.gen(function* () {
      const url = process.env.DATABASE_URL
      yield* Effect.promise(() => Promise.all([disposeIngest(), disposeConsumer(), disposeSweep()]))
      process.env.DATABASE_URL = `postgres://revenueflow:${password}@127.0.0.1:1/test`
      yield* Effect.gen(function* () {
        const calls = [
          ["ingest", () => ingestHandler(httpEvent("http-api-v2", { method: "GET", path: "/healthz" }))],
          [
            "consumer",
            () => consumerHandler(sqsEvent([{ messageId: "m", receiptHandle: "r", body: "{}", receiveCount: 1 }]))
          ],
          ["sweep", () => sweepHandler(scheduledEvent())]
        ] as const
        for (const [name, handler] of calls) {
          const { answer, error, lines } = yield* invoke(handler as () => Promise<unknown>)
          if (name === "ingest") expect((answer as HttpApiResult).statusCode).toBe(503)
          else expect(error?.message).toMatch(new RegExp(`^The ${name}'s environment failed to start`))
          expect(error?.message ?? "").not.toMatch(/FiberFailure|127\.0\.0\.1/)
          expectProgramFormat(lines)
          const logged = jsonLines(lines)
          expect(logged, name).toHaveLength(1)
          expect(logged[0]).toMatchObject({
            level: "error",
            message: `${name} environment failed to start`,
            cause: expect.stringContaining("cannot connect to Postgres")
          })
          expect(lines.join("\n")).not.toContain(password)
          expect(error?.message ?? "").not.toContain(password)
          // invoked again at once: answered the same without building again (no second connect, no log line)
          const again = yield* invoke(handler as () => Promise<unknown>)
          if (name === "ingest") expect((again.answer as HttpApiResult).statusCode).toBe(503)
          else expect(again.error?.message).toMatch(new RegExp(`^The ${name}'s environment failed to start`))
          expect(jsonLines(again.lines), name).toEqual([])
        }
      }).pipe(
        Effect.ensuring(
          Effect.promise(async () => {
            process.env.DATABASE_URL = url
            await Promise.all([disposeIngest(), disposeConsumer(), disposeSweep()])
          })
        )
      )
    })
  )
})

describe("the ingest handler when SQS does not answer", () => {
  it.live("answers a new lead within QUEUE_TIMEOUT_MS, stored RECEIVED for the sweep, not after 10 s", () =>
    Effect.gen(function* () {
      yield* Effect.promise(() => disposeIngest())
      yield* scopedProcessEnv({ QUEUE_TIMEOUT_MS: "300" })
      yield* Effect.acquireRelease(
        Effect.sync(() => fake.fault("SendMessage", "hang")),
        () =>
          Effect.promise(() => disposeIngest()).pipe(
            Effect.zipRight(Effect.sync(() => fake.fault("SendMessage", undefined)))
          )
      )
      const started = Date.now()
      const created = yield* postLead(sampleLead({ email: "hung.queue@globex.com" }))
      const tookMs = Date.now() - started
      expect(created.statusCode, created.body).toBe(202)
      expect(json(created).status).toBe("RECEIVED")
      // the send's own deadline (300 ms here), where the SQS client's 10 s had held the answer
      expect(tookMs).toBeLessThan(5000)
    }).pipe(Effect.scoped)
  )
})

describe("a handler exporting spans (OTEL_EXPORTER_OTLP_ENDPOINT)", () => {
  it.live("has exported its invocation's spans when it returns: a frozen container's batch timer would not run", () =>
    Effect.gen(function* () {
      const received: Array<string> = []
      const collector = createServer((request, response) => {
        received.push(request.url ?? "")
        request.resume().on("end", () => response.writeHead(200, { "content-type": "application/json" }).end("{}"))
      })
      yield* Effect.acquireRelease(
        Effect.async<void>((resume) => {
          collector.listen(0, "127.0.0.1", () => resume(Effect.void))
        }),
        () => Effect.sync(() => collector.close())
      )
      const { port } = collector.address() as AddressInfo
      yield* Effect.promise(() => Promise.all([disposeIngest(), disposeConsumer()]))
      yield* scopedProcessEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}` })
      yield* Effect.addFinalizer(() => Effect.promise(() => Promise.all([disposeIngest(), disposeConsumer()])))
      fake.purge(queueName)
      const created = yield* postLead(sampleLead({ email: "otlp.lambda@globex.com" }))
      expect(created.statusCode).toBe(202)
      expect(received).toEqual(["/v1/traces"])
      // the consumer's invocation too (its container runs it)
      const { answer } = yield* pollOnce
      expect(answer).toEqual({ batchItemFailures: [] })
      expect(received).toEqual(["/v1/traces", "/v1/traces"])
    }).pipe(Effect.scoped)
  )
})

describe("a handler without DATABASE_URL", () => {
  it.live("does not start on the embedded store (one container's disk): each says DATABASE_URL is required", () =>
    Effect.gen(function* () {
      yield* Effect.promise(() => Promise.all([disposeIngest(), disposeConsumer(), disposeSweep()]))
      const dataDir = mkdtempSync(join(tmpdir(), "rf-lambda-nodb-"))
      yield* Effect.gen(function* () {
        yield* scopedProcessEnv({ DATABASE_URL: undefined, MIGRATE_ON_START: "true", DATA_DIR: dataDir })
        const lead = JSON.stringify(sampleLead({ email: "nowhere.lambda@globex.com" }))
        const calls = [
          [
            "ingest",
            () =>
              ingestHandler(
                httpEvent("http-api-v2", {
                  method: "POST",
                  path: "/leads",
                  headers: { "content-type": "application/json" },
                  body: lead
                })
              )
          ],
          [
            "consumer",
            () => consumerHandler(sqsEvent([{ messageId: "m", receiptHandle: "r", body: "{}", receiveCount: 1 }]))
          ],
          ["sweep", () => sweepHandler(scheduledEvent())]
        ] as const
        for (const [name, handler] of calls) {
          const { answer, lines } = yield* invoke(handler as () => Promise<unknown>)
          if (name === "ingest") expect((answer as HttpApiResult).statusCode).toBe(503)
          const logged = jsonLines(lines)
          expect(logged, name).toHaveLength(1)
          expect(logged[0]).toMatchObject({
            message: `${name} environment failed to start`,
            cause: expect.stringContaining("DATABASE_URL: is required on Lambda")
          })
        }
      }).pipe(
        Effect.scoped,
        Effect.ensuring(
          Effect.promise(async () => {
            await Promise.all([disposeIngest(), disposeConsumer(), disposeSweep()])
            rmSync(dataDir, { recursive: true, force: true })
          })
        )
      )
    })
  )
})

describe("an unsupported event whose field names are personal data", () => {
  it.live("the log line and the thrown error name the event's shape and count those fields, never show them", () =>
    Effect.gen(function* () {
      const event = { "jane@acme.com": 1, "Tel 612 345 678": 2, "Jane Doe": 3, "ada.lovelace": 4, detail: {} }
      const { error, lines } = yield* invoke(() => consumerHandler(event as never))
      expect(error?.message).toMatch(/^consumerHandler takes SQS events/)
      expect(error?.message).toContain("an object with the fields detail, 4 field names not shown")
      const logged = jsonLines(lines)
      expect(logged).toHaveLength(1)
      expect(logged[0]?.received).toBe(
        "an object with the fields detail, 4 field names not shown (it may hold personal data)"
      )
      for (const text of [error?.message ?? "", lines.join("\n")]) {
        for (const secret of ["jane", "Jane", "612", "lovelace"]) expect(text, secret).not.toContain(secret)
      }
    })
  )
})

describe("consumerHandler with CloudWatch metrics", () => {
  it.live("with CLOUDWATCH_METRICS=EMF a batch ends with each breaker's state as an EMF line for the alarms", () =>
    Effect.gen(function* () {
      fake.purge(queueName)
      yield* scopedProcessEnv({ CLOUDWATCH_METRICS: "EMF", CLOUDWATCH_NAMESPACE: "RevenueFlow/lambda-test" })
      // a container reads its environment when it starts: this test's runs on a fresh one (last in the file: the
      // sweep's test counts one container's reads over the file)
      yield* Effect.acquireRelease(Effect.promise(disposeConsumer), () => Effect.promise(disposeConsumer))
      const created = yield* postLead(sampleLead({ email: "grace.emf@globex.com" }))
      expect(created.statusCode).toBe(202)
      const written: Array<string> = []
      const write = process.stdout.write
      yield* Effect.acquireRelease(
        Effect.sync(() => {
          process.stdout.write = ((chunk: string | Uint8Array) => {
            written.push(String(chunk))
            return true
          }) as typeof process.stdout.write
        }),
        () => Effect.sync(() => (process.stdout.write = write))
      )
      const { answer } = yield* pollOnce
      expect(answer).toEqual({ batchItemFailures: [] })
      const documents = jsonLines(written.join("").split("\n")).filter((line) => "_aws" in line)
      // the mock CRM's breaker (the test's CRM), closed: 0; the heuristic analyser and mock enrichment run none
      expect(documents).toEqual([
        {
          _aws: {
            Timestamp: expect.any(Number),
            CloudWatchMetrics: [
              {
                Namespace: "RevenueFlow/lambda-test",
                Dimensions: [["Provider"]],
                Metrics: [{ Name: "CircuitBreakerOpen", Unit: "Count" }]
              }
            ]
          },
          Provider: "mock",
          CircuitBreakerOpen: 0
        }
      ])
    }).pipe(Effect.scoped)
  )
})
