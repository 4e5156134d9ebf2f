import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import { afterAll, beforeAll } from "vitest"
import { runMigrations } from "../../layers/postgres/stores.js"
import { consumerHandler, disposeConsumer } from "../../src/lambda/consumer.js"
import { disposeIngest, ingestHandler } from "../../src/lambda/ingest.js"
import { type FakeHubSpot, startFakeHubSpot } from "../fakes/hubspot.js"
import { type FakeSqs, makeFakeSqs } from "../fakes/sqs.js"
import { testDatabaseUrl, testSchema } from "../store/fixtures.js"
import { sampleLead } from "../support/env.js"
import type { LambdaContext } from "../../src/lambda/events.js"
import { lambdaRedis } from "./redis.js"
import { waitUntil } from "../support/poll.js"
import { httpEvent, pollSqsOnce } from "./events.js"

/**
 * A CRM that keeps failing (HubSpot answering 500: transient) through the Lambda handlers: each delivery is reported
 * in batchItemFailures, the lead turns FAILED on the last receive the redrive policy allows, and SQS then moves the
 * message to the dead-letter queue.
 */
const scope = Effect.runSync(Scope.make())
let sqs: FakeSqs
let hubspot: FakeHubSpot
const queue = "redrive-leads"
const dlq = "redrive-dlq"

beforeAll(async () => {
  sqs = await Effect.runPromise(Scope.extend(makeFakeSqs, scope))
  hubspot = await startFakeHubSpot({ tokens: ["pat-na1-lambda"] })
  const schema = await Effect.runPromise(Scope.extend(testSchema, scope))
  const { url, dlqUrl } = sqs.createQueue(queue, {
    deadLetter: { name: dlq, maxReceiveCount: 3 },
    visibilityTimeoutS: 30
  })
  Object.assign(process.env, {
    DATABASE_URL: testDatabaseUrl,
    DATABASE_SCHEMA: schema,
    ...(await Effect.runPromise(Scope.extend(lambdaRedis, scope))),
    SQS_QUEUE_URL: url,
    SQS_DLQ_URL: dlqUrl,
    AWS_REGION: "eu-west-1",
    AWS_ACCESS_KEY_ID: "AKIAFAKEREDRIVETEST",
    AWS_SECRET_ACCESS_KEY: "fake-secret",
    AWS_ENDPOINT_URL_SQS: sqs.url,
    CRM_PROVIDER: "HUBSPOT",
    HUBSPOT_ACCESS_TOKEN: "pat-na1-lambda",
    HUBSPOT_BASE_URL: hubspot.url,
    CRM_TIMEOUT_MS: "3000",
    // one job at a time: a batch's second job waits for the first one's slot
    WORKER_CONCURRENCY: "1",
    LOG_LEVEL: "ERROR"
  })
  delete process.env.AWS_ENDPOINT_URL
  delete process.env.QUEUE_BACKEND
  await Effect.runPromise(runMigrations)
})

afterAll(async () => {
  await Promise.all([disposeIngest(), disposeConsumer()])
  await hubspot.close()
  await Effect.runPromise(Scope.close(scope, Exit.void))
})

/** Lambda's poller: receive, invoke, delete what was not listed. */
const pollWith = (context?: LambdaContext) =>
  Effect.promise(() =>
    pollSqsOnce(consumerHandler, context).then(({ event, failures }) => ({ received: event.Records.length, failures }))
  )

const poll = pollWith()

const readLead = (id: string) =>
  Effect.promise(() => ingestHandler(httpEvent("http-api-v2", { method: "GET", path: `/leads/${id}` }))).pipe(
    Effect.map((result) => JSON.parse(result.body) as { status: string; error?: string })
  )

const postLead = (email: string) =>
  Effect.promise(() =>
    ingestHandler(
      httpEvent("http-api-v2", {
        method: "POST",
        path: "/leads",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(sampleLead({ email }))
      })
    )
  ).pipe(Effect.map((result) => JSON.parse(result.body).id as string))

describe("consumerHandler near the function's timeout", () => {
  it.live(
    "a job still running 1 s before the timeout is stopped and left to retry (an attempt spent), not run again at once; then it syncs",
    () =>
      Effect.gen(function* () {
        // the CRM never answers this one call: the job would run until CRM_TIMEOUT_MS (3 s); the function's 2.5 s are
        // too short to stop it any earlier
        hubspot.failNext("hang", 1)
        const id = yield* postLead("slow.crm@globex.com")
        const started = Date.now()
        const first = yield* pollWith({ awsRequestId: "near-timeout", getRemainingTimeInMillis: () => 2500 })
        expect(Date.now() - started).toBeLessThan(2500)
        // listed: the message comes back after the queue's visibility timeout (30 s here), once the call left in
        // flight has ended, and this receive counted as an attempt
        expect(first.received).toBe(1)
        expect(first.failures).toHaveLength(1)
        const [message, ...others] = sqs.messages(queue)
        expect(others).toEqual([])
        expect(JSON.parse(message?.body ?? "{}").leadId).toBe(id)
        expect(message?.receiveCount).toBe(1)
        expect(message?.visibleInMs).toBeGreaterThan(20_000)
        expect((yield* readLead(id)).status).not.toBe("FAILED")
        // the next delivery runs the job to the end
        yield* waitUntil(
          "the lead is SYNCED by a later delivery",
          Effect.gen(function* () {
            sqs.advance(31_000)
            yield* poll
            return (yield* readLead(id)).status === "SYNCED"
          }),
          { intervalMs: 250 }
        )
      })
  )

  it.live(
    "a lead that never fits in the function's timeout ends FAILED after the queue's attempts, not run again without end",
    () =>
      Effect.gen(function* () {
        // every CRM call hangs past the function's 2.5 s (until this test ends): no delivery can finish the lead
        let hanging = true
        yield* Effect.addFinalizer(() => Effect.sync(() => (hanging = false)))
        hubspot.failNext("hang", 50, () => hanging)
        const id = yield* postLead("never.fits@globex.com")
        let runs = 0
        yield* waitUntil(
          "the lead is FAILED",
          Effect.gen(function* () {
            const answer = yield* pollWith({ awsRequestId: "too-slow", getRemainingTimeInMillis: () => 2500 })
            runs += answer.received
            // past the visibility timeout of a retry, and the wait of a delay (a later delivery meeting the claim a
            // cut call still holds is delayed, spending no attempt)
            sqs.advance(31_000)
            return (yield* readLead(id)).status === "FAILED"
          }),
          { timeoutMs: 25_000, intervalMs: 100 }
        )
        expect(yield* readLead(id)).toMatchObject({ status: "FAILED", error: expect.stringContaining("time out") })
        expect(runs).toBeGreaterThanOrEqual(3)
        // and its job ends in the dead-letter queue, nothing left to run (one more receive lets the redrive move it)
        yield* waitUntil(
          "the job is dead-lettered",
          Effect.gen(function* () {
            yield* poll
            sqs.advance(31_000)
            return sqs.messages(queue).length === 0 && sqs.messages(dlq).length === 1
          }),
          { timeoutMs: 30_000, intervalMs: 100 }
        )
        expect(JSON.parse(sqs.messages(dlq)[0]?.body ?? "{}").leadId).toBe(id)
        sqs.purge(dlq)
      }).pipe(Effect.scoped)
  )

  it.live(
    "with time for it, jobs are stopped CRM_TIMEOUT_MS before the deadline: a call in flight is awaited, no job starts after",
    () =>
      Effect.gen(function* () {
        // the first lead's first CRM call never answers; the second lead waits for the one slot (WORKER_CONCURRENCY 1)
        hubspot.failNext("hang", 1)
        const first = yield* postLead("stopped.first@globex.com")
        const second = yield* postLead("stopped.second@globex.com")
        const before = hubspot.requests.length
        // 7 s: stopping at 3 s leaves the 3 s of CRM_TIMEOUT_MS for the call in flight, and the 1 s margin after it
        const answer = yield* pollWith({ awsRequestId: "stops-early", getRemainingTimeInMillis: () => 7000 })
        // the first job stopped once its call had ended (its claim released, nothing left running) and left to retry;
        // the second never started, so it is sent again at once, no attempt spent
        expect(answer).toMatchObject({ received: 2, failures: [expect.any(String)] })
        expect(hubspot.requests.length - before).toBe(1)
        const states = () =>
          sqs
            .messages(queue)
            .map((m) => [JSON.parse(m.body).leadId, m.receiveCount, m.visibleInMs > 0])
            .sort((x, y) => String(x[0]).localeCompare(String(y[0])))
        expect(states()).toEqual(
          [
            [first, 1, true],
            [second, 0, false]
          ].sort((x, y) => String(x[0]).localeCompare(String(y[0])))
        )
        // the second runs at the next delivery; the first after the visibility timeout
        expect(yield* poll).toEqual({ received: 1, failures: [] })
        expect((yield* readLead(second)).status).toBe("SYNCED")
        sqs.advance(31_000)
        expect(yield* poll).toEqual({ received: 1, failures: [] })
        expect((yield* readLead(first)).status).toBe("SYNCED")
      })
  )
})

describe("consumerHandler with a CRM that keeps failing (transient)", () => {
  it.live("each delivery is a batchItemFailure; the last one marks the lead FAILED; SQS redrives to the DLQ", () =>
    Effect.gen(function* () {
      hubspot.failNext(
        { status: 500, body: { status: "error", message: "internal error", category: "INTERNAL_ERROR" } },
        1000
      )
      const created = yield* Effect.promise(() =>
        ingestHandler(
          httpEvent("http-api-v2", {
            method: "POST",
            path: "/leads",
            headers: { "content-type": "application/json" },
            body: JSON.stringify(sampleLead({ email: "redrive@globex.com" }))
          })
        )
      )
      expect(created.statusCode).toBe(202)
      const id = JSON.parse(created.body).id as string

      for (let receive = 1; receive <= 3; receive++) {
        const { received, failures } = yield* poll
        expect(received).toBe(1)
        expect(failures).toHaveLength(1)
        const lead = yield* readLead(id)
        // retried by SQS until the last receive the redrive policy allows, then FAILED with the reason
        if (receive < 3) expect(lead.status).not.toBe("FAILED")
        else expect(lead).toMatchObject({ status: "FAILED", error: expect.stringContaining("CrmTransientError") })
        sqs.advance(31_000)
      }
      // the fourth receive finds nothing: SQS moved the message to the DLQ (maxReceiveCount 3)
      expect((yield* poll).received).toBe(0)
      expect(sqs.messages(dlq).map((m) => JSON.parse(m.body).leadId)).toEqual([id])
      expect(hubspot.requests.length).toBeGreaterThanOrEqual(3)
    })
  )
})
