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
    "a job still running 1 s before the timeout is stopped and its job sent again after CRM_TIMEOUT_MS, not at once; then it syncs",
    () =>
      Effect.gen(function* () {
        // the CRM never answers this one call: the job would run until CRM_TIMEOUT_MS (3 s); the function's 2.5 s are
        // too short to stop it any earlier
        hubspot.failNext("hang", 1)
        const id = yield* postLead("slow.crm@globex.com")
        const started = Date.now()
        const first = yield* pollWith({ awsRequestId: "near-timeout", getRemainingTimeInMillis: () => 2500 })
        expect(Date.now() - started).toBeLessThan(2500)
        // acknowledged: its job is sent again (no receive spent), to run once the call left in flight has ended
        expect(first).toEqual({ received: 1, failures: [] })
        const [copy, ...others] = sqs.messages(queue)
        expect(others).toEqual([])
        expect(JSON.parse(copy?.body ?? "{}").leadId).toBe(id)
        expect(copy?.receiveCount).toBe(0)
        expect(copy?.visibleInMs).toBeGreaterThan(3000)
        expect((yield* readLead(id)).status).not.toBe("FAILED")
        // once the call in flight has ended with its own timeout, the next delivery runs the job to the end
        yield* waitUntil(
          "the lead is SYNCED by a later delivery",
          Effect.gen(function* () {
            sqs.advance(6000)
            yield* poll
            return (yield* readLead(id)).status === "SYNCED"
          }),
          { intervalMs: 250 }
        )
      })
  )

  it.live(
    "with time for it, jobs are stopped CRM_TIMEOUT_MS before the deadline: a call in flight is awaited, no job starts after, both sent again at once",
    () =>
      Effect.gen(function* () {
        // the first lead's first CRM call never answers; the second lead waits for the one slot (WORKER_CONCURRENCY 1)
        hubspot.failNext("hang", 1)
        const first = yield* postLead("stopped.first@globex.com")
        const second = yield* postLead("stopped.second@globex.com")
        const before = hubspot.requests.length
        // 7 s: stopping at 3 s leaves the 3 s of CRM_TIMEOUT_MS for the call in flight, and the 1 s margin after it
        const answer = yield* pollWith({ awsRequestId: "stops-early", getRemainingTimeInMillis: () => 7000 })
        // both acknowledged: the first job stopped once its call had ended (its claim released, nothing left
        // running), the second never started, so no CRM call of it is in flight at the deadline
        expect(answer).toEqual({ received: 2, failures: [] })
        expect(hubspot.requests.length - before).toBe(1)
        expect(sqs.messages(queue).map((m) => [JSON.parse(m.body).leadId, m.receiveCount, m.visibleInMs])).toEqual([
          [first, 0, 0],
          [second, 0, 0]
        ])
        // sent again at once, and nothing holds them: the next delivery syncs both
        expect(yield* poll).toEqual({ received: 2, failures: [] })
        expect((yield* readLead(first)).status).toBe("SYNCED")
        expect((yield* readLead(second)).status).toBe("SYNCED")
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
