import { request as httpRequest } from "node:http"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { statusCounts, tally, waitForStatuses } from "../../scripts/lib/db.js"
import { deletePrefixKeys } from "../../scripts/lib/isolation.js"
import { isAccepted, leadStatus, type PostResult, postLead, postLeads } from "../../scripts/lib/leads.js"
import { stopProgram } from "../../scripts/lib/processes.js"
import { startAll, startConsumer, startIngest } from "../../scripts/lib/stack.js"
import { startTcpProxy } from "../../scripts/lib/tcpProxy.js"
import { testDatabaseUrl, testRedisUrl } from "../../layers/testing/servers.js"
import { testDatabaseAddress, testRedisAddress, throughProxy } from "../support/servers.js"
import { eventually, expectNothingRepeated, makeRun } from "./setup.js"

const TERMINAL = ["SYNCED", "REJECTED", "FAILED"]

/** GET a URL: its status and JSON body. */
const getJson = (url: string) =>
  Effect.promise(async () => {
    const res = await fetch(url)
    return { status: res.status, json: (await res.json()) as unknown }
  })

/** Ids of the posted leads, after checking every one was accepted as new. */
const acceptedIds = (posted: ReadonlyArray<PostResult>) => {
  expect(posted.map((p) => p.status).filter((s) => s !== 202)).toEqual([])
  return posted.filter(isAccepted).map((p) => p.id as string)
}

/** Redis keys of BullMQ jobs (hashes named by lead id) and the wait list length of the run's queue. */
const queueContents = (run: { iso: { redis: import("ioredis").Redis; prefix: string; queueName: string } }) =>
  Effect.promise(async () => {
    const base = `${run.iso.prefix}:${run.iso.queueName}`
    const keys = await run.iso.redis.keys(`${base}:*`)
    const jobs = keys.filter((k) => /:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(k))
    return { jobs: jobs.length, waiting: await run.iso.redis.llen(`${base}:wait`) }
  })

describe("faults: no accepted lead is lost, no CRM action repeated", () => {
  it.scopedLive(
    "SIGKILL of a consumer mid-batch: its stalled jobs come back and the other consumer finishes them",
    () =>
      Effect.gen(function* () {
        const concurrency = 4
        const run = yield* makeRun({
          WORKER_CONCURRENCY: String(concurrency),
          JOB_LOCK_DURATION_MS: "3000",
          JOB_STALLED_INTERVAL_MS: "1000",
          // a claim outlives the CRM call it guards (start-up refuses otherwise), and calls get room on a busy
          // machine: a call cut at its timeout after the CRM took it is resent, which this test would count
          CRM_TIMEOUT_MS: "5000",
          IDEMPOTENCY_IN_PROGRESS_TTL_MS: "8000"
        })
        run.crm.setMode({ _tag: "Slow", ms: 40 })
        // the victim reaches the CRM through an entrance of its own: a resend is explained only by what it sent
        const victimEnv = { ...run.env, HUBSPOT_BASE_URL: yield* run.crm.entrance("consumer-killed") }
        const [ingest, victim, survivor] = yield* startAll([
          startIngest(run.env),
          startConsumer(victimEnv, "consumer-killed"),
          startConsumer(run.env, "consumer-survivor")
        ])
        const ids = acceptedIds(yield* postLeads(ingest.url, run.leads(120)))
        // mid-batch: a good share of the CRM work done, most of it still to do
        expect(yield* eventually(() => run.crm.records.length >= 120, 30_000)).toBe(true)
        victim.signal("SIGKILL")
        const exit = yield* victim.waitExit(5000)
        expect(exit.signal).toBe("SIGKILL")
        expect(run.crm.records.some((r) => r.via === "consumer-killed")).toBe(true)

        const done = yield* waitForStatuses(run.iso.sql, ids, TERMINAL, 45_000)
        expect(tally(ids, done.statuses)).toEqual({ SYNCED: ids.length })
        // the killed consumer's active jobs were detected as stalled and re-run
        const stalled = yield* Effect.promise(() =>
          Promise.all(ids.map((id) => run.iso.redis.hget(`${run.iso.prefix}:${run.iso.queueName}:${id}`, "stc")))
        )
        expect(stalled.filter((n) => Number(n ?? 0) > 0).length).toBeGreaterThan(0)
        // an action whose CRM answer the killed consumer never recorded is re-sent once (upsert: one object)
        yield* expectNothingRepeated(run, ids.length, ["consumer-killed"], concurrency)
        yield* Effect.all([stopProgram(ingest, 10_000), stopProgram(survivor, 10_000)], { concurrency: 2 })
      }),
    90_000
  )

  it.scopedLive(
    "Redis data loss mid-run: the outbox sweeper re-enqueues and audit rows keep completed actions from repeating",
    () =>
      Effect.gen(function* () {
        const run = yield* makeRun({
          WORKER_CONCURRENCY: "4",
          SWEEP_INTERVAL_MS: "1000",
          SWEEP_MIN_AGE_MS: "1500",
          // leads PROCESSING when the data went (retrying, rate-limited) lost their job: swept after this
          SWEEP_PROCESSING_MIN_AGE_MS: "5000",
          // tight enough that some jobs wait delayed (lead PROCESSING) when the data goes (HTTP calls: ~12 a lead)
          RATE_LIMIT_CRM: "120",
          RATE_LIMIT_WINDOW_MS: "1000"
        })
        const [ingest, a, b] = yield* startAll([
          startIngest(run.env),
          startConsumer(run.env, "consumer-a"),
          startConsumer(run.env, "consumer-b")
        ])
        const ids = acceptedIds(yield* postLeads(ingest.url, run.leads(100)))
        expect(yield* eventually(() => run.crm.records.length >= 150, 30_000)).toBe(true)
        // FLUSHALL, emulated: the shared Redis serves other tests, so only this run's keys (its prefix) are deleted
        const deleted = yield* deletePrefixKeys(run.iso.redis, run.iso.prefix)
        expect(deleted).toBeGreaterThan(0)

        const done = yield* waitForStatuses(run.iso.sql, ids, TERMINAL, 45_000)
        expect(tally(ids, done.statuses)).toEqual({ SYNCED: ids.length })
        yield* expectNothingRepeated(run, ids.length)
        yield* Effect.all([stopProgram(ingest, 10_000), stopProgram(a, 10_000), stopProgram(b, 10_000)], {
          concurrency: 3
        })
      }),
    90_000
  )

  it.scopedLive(
    "ingest while Redis is unreachable: 202, the lead stays RECEIVED, and is processed once Redis is back",
    () =>
      Effect.gen(function* () {
        const redisProxy = yield* startTcpProxy(testRedisAddress())
        yield* redisProxy.down
        const run = yield* makeRun(
          { SWEEP_INTERVAL_MS: "500", SWEEP_MIN_AGE_MS: "500" },
          { programRedisUrl: throughProxy(testRedisUrl(), redisProxy.port) }
        )
        const [ingest, consumer] = yield* startAll([
          startIngest(run.env),
          startConsumer(run.env, "consumer", "listening")
        ])
        // the consumer can do nothing without its queue, and says so
        const notReady = yield* getJson(`${consumer.url}/readyz`)
        expect(notReady).toEqual({
          status: 503,
          json: { status: "unavailable", checks: { store: "ok", queue: "down" } }
        })
        const ids = acceptedIds(yield* postLeads(ingest.url, run.leads(5)))
        expect(ids).toHaveLength(5)
        expect(yield* leadStatus(ingest.url, ids[0]!)).toBe("RECEIVED")
        // sweeps run and fail meanwhile; nothing moves without the queue
        yield* Effect.sleep("2 seconds")
        expect(yield* statusCounts(run.iso.sql)).toEqual({ RECEIVED: 5 })
        expect(run.crm.records).toHaveLength(0)

        yield* redisProxy.up
        const done = yield* waitForStatuses(run.iso.sql, ids, TERMINAL, 30_000)
        expect(tally(ids, done.statuses)).toEqual({ SYNCED: 5 })
        expect((yield* getJson(`${consumer.url}/readyz`)).status).toBe(200)
        yield* expectNothingRepeated(run, 5)
        yield* Effect.all([stopProgram(ingest, 10_000), stopProgram(consumer, 10_000)], { concurrency: 2 })
      }),
    60_000
  )

  it.scopedLive(
    "Postgres unreachable at ingest: 503 + Retry-After, nothing stored, nothing enqueued; 202 once it is back",
    () =>
      Effect.gen(function* () {
        const pgProxy = yield* startTcpProxy(testDatabaseAddress())
        const run = yield* makeRun({}, { programDatabaseUrl: throughProxy(testDatabaseUrl(), pgProxy.port) })
        const ingest = yield* startIngest(run.env)
        yield* pgProxy.down

        const [lead] = run.leads(1)
        const refused = yield* postLead(ingest.url, lead!)
        expect(refused.status).toBe(503)
        expect(Number(refused.retryAfter)).toBeGreaterThan(0)
        expect(yield* statusCounts(run.iso.sql)).toEqual({})
        expect(yield* queueContents(run)).toEqual({ jobs: 0, waiting: 0 })

        yield* pgProxy.up
        const accepted = yield* postLead(ingest.url, lead!)
        expect(accepted.status).toBe(202)
        expect(yield* statusCounts(run.iso.sql)).toEqual({ QUEUED: 1 })
        expect(yield* queueContents(run)).toEqual({ jobs: 1, waiting: 1 })
        yield* stopProgram(ingest, 10_000)
      }),
    60_000
  )

  it.scopedLive(
    "SIGTERM drains a consumer: in-flight slow CRM calls finish, it exits 0 within SHUTDOWN_TIMEOUT_MS",
    () =>
      Effect.gen(function* () {
        const run = yield* makeRun({ WORKER_CONCURRENCY: "3", SHUTDOWN_TIMEOUT_MS: "15000" })
        run.crm.setMode({ _tag: "Slow", ms: 600 })
        const [ingest, consumer] = yield* startAll([startIngest(run.env), startConsumer(run.env)])
        const ids = acceptedIds(yield* postLeads(ingest.url, run.leads(2)))
        expect(yield* eventually(() => run.crm.inFlight() > 0, 10_000)).toBe(true)
        const signalled = Date.now()
        const exit = yield* stopProgram(consumer, 15_000 + 5000)
        expect(exit.code).toBe(0)
        expect(Date.now() - signalled).toBeLessThan(15_000 + 5000)
        // drained: the jobs it held were finished before it exited
        const done = yield* waitForStatuses(run.iso.sql, ids, TERMINAL, 1000)
        expect(tally(ids, done.statuses)).toEqual({ SYNCED: 2 })
        expect(run.crm.inFlight()).toBe(0)
        yield* expectNothingRepeated(run, 2)
        yield* stopProgram(ingest, 10_000)
      }),
    60_000
  )

  it.scopedLive(
    "SIGTERM past SHUTDOWN_TIMEOUT_MS: in-flight jobs go back to the queue and a new consumer finishes them once",
    () =>
      Effect.gen(function* () {
        const shutdownMs = 1500
        const run = yield* makeRun({ WORKER_CONCURRENCY: "3", SHUTDOWN_TIMEOUT_MS: String(shutdownMs) })
        // 1 s per CRM request: SIGTERM as the first requests arrive, so the shutdown timeout (1.5 s) lands inside
        // the second action (set_lead_score, 1-2 s), which must then finish within the 2 s cancel grace
        run.crm.setMode({ _tag: "Slow", ms: 1000 })
        const [ingest, first] = yield* startAll([startIngest(run.env), startConsumer(run.env, "consumer-1")])
        const ids = acceptedIds(yield* postLeads(ingest.url, run.leads(3)))
        expect(yield* eventually(() => run.crm.inFlight() >= 3, 10_000)).toBe(true)
        const signalled = Date.now()
        const exit = yield* stopProgram(first, shutdownMs + 2000 + 5000)
        expect(exit.code).toBe(0)
        expect(Date.now() - signalled).toBeLessThan(shutdownMs + 2000 + 5000)
        const left = yield* waitForStatuses(run.iso.sql, ids, TERMINAL, 0)
        expect(left.finished).toBe(false)

        run.crm.setMode({ _tag: "Pass" })
        const second = yield* startConsumer(run.env, "consumer-2")
        const done = yield* waitForStatuses(run.iso.sql, ids, TERMINAL, 30_000)
        expect(tally(ids, done.statuses)).toEqual({ SYNCED: 3 })
        yield* expectNothingRepeated(run, 3)
        yield* Effect.all([stopProgram(ingest, 10_000), stopProgram(second, 10_000)], { concurrency: 2 })
      }),
    60_000
  )

  it.scopedLive(
    "SIGTERM while a CRM call outlasts the shutdown grace: the consumer still exits, naming the leads it left",
    () =>
      Effect.gen(function* () {
        const shutdownMs = 500
        const run = yield* makeRun({
          WORKER_CONCURRENCY: "2",
          SHUTDOWN_TIMEOUT_MS: String(shutdownMs),
          // a CRM call in flight is not cut (its audit row must follow its answer)
          CRM_TIMEOUT_MS: "6000",
          IDEMPOTENCY_IN_PROGRESS_TTL_MS: "8000",
          JOB_STALLED_INTERVAL_MS: "1000"
        })
        run.crm.setMode({ _tag: "Slow", ms: 5000 })
        const [ingest, first] = yield* startAll([startIngest(run.env), startConsumer(run.env, "consumer-1")])
        const ids = acceptedIds(yield* postLeads(ingest.url, run.leads(2)))
        expect(yield* eventually(() => run.crm.inFlight() >= 2, 10_000)).toBe(true)
        const signalled = Date.now()
        // the shutdown timeout, the 2 s cancel grace, then the calls in flight (each request bounded by
        // CRM_TIMEOUT_MS, an action one or two of them) and out: not held for ever by BullMQ retrying on a closed
        // connection (it spun at full CPU until SIGKILL)
        const bound = shutdownMs + 2000 + 2 * 6000 + 3000
        const exit = yield* stopProgram(first, bound)
        expect(exit.code).toBe(0)
        expect(Date.now() - signalled).toBeLessThan(bound)
        const left = first
          .output()
          .split("\n")
          .filter((line) => line.includes("left running until"))
        expect(left).toHaveLength(1)
        for (const id of ids) expect(left[0]).toContain(id)

        run.crm.setMode({ _tag: "Pass" })
        const second = yield* startConsumer(run.env, "consumer-2")
        const done = yield* waitForStatuses(run.iso.sql, ids, TERMINAL, 40_000)
        expect(tally(ids, done.statuses)).toEqual({ SYNCED: 2 })
        yield* expectNothingRepeated(run, 2)
        yield* Effect.all([stopProgram(ingest, 10_000), stopProgram(second, 10_000)], { concurrency: 2 })
      }),
    90_000
  )

  it.scopedLive(
    "SIGTERM drains the ingest: a request in flight is answered, then it exits 0",
    () =>
      Effect.gen(function* () {
        const run = yield* makeRun({ SHUTDOWN_TIMEOUT_MS: "5000" })
        const ingest = yield* startIngest(run.env)
        const [lead] = run.leads(1)
        const body = Buffer.from(JSON.stringify(lead))
        // headers and half the body now, SIGTERM, then the rest: the request is in flight across the signal
        const answer = yield* Effect.promise(
          () =>
            new Promise<{ status: number; body: string }>((resolve) => {
              const req = httpRequest(
                `${ingest.url}/leads`,
                { method: "POST", headers: { "content-type": "application/json", "content-length": body.length } },
                (res) => {
                  let text = ""
                  res.on("data", (chunk) => (text += chunk))
                  res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text }))
                }
              )
              req.on("error", (error) => resolve({ status: 0, body: String(error) }))
              req.write(body.subarray(0, 20))
              setTimeout(() => {
                ingest.signal("SIGTERM")
                setTimeout(() => req.end(body.subarray(20)), 500)
              }, 300)
            })
        )
        expect(answer.status).toBe(202)
        const exit = yield* ingest.waitExit(5000 + 3000)
        expect(exit.code).toBe(0)
        expect(yield* statusCounts(run.iso.sql)).toEqual({ QUEUED: 1 })
      }),
    60_000
  )
})
