import { describe, expect, it } from "@effect/vitest"
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Schedule from "effect/Schedule"
import * as HttpEnricher from "../../layers/http/Enricher.js"
import { MockCrmControl } from "../../layers/mock/CrmExecutor.js"
import * as MetricsLayer from "../../layers/observability/Metrics.js"
import type { BreakerState } from "../../services/CircuitBreaker.js"
import * as Metrics from "../../services/Metrics.js"
import { AuditLog } from "../../services/AuditLog.js"
import { CrmExecutor, CrmPermanentError, CrmRateLimited, CrmTransientError } from "../../services/CrmExecutor.js"
import { Enricher } from "../../services/Enricher.js"
import { Analyzer } from "../../services/Analyzer.js"
import { JobQueue } from "../../services/JobQueue.js"
import { LeadStore } from "../../services/LeadStore.js"
import { processLead } from "../../src/pipeline/process.js"
import { replayLead } from "../../src/pipeline/replay.js"
import { sweepOnce } from "../../src/pipeline/sweeper.js"
import { makeFakeEnrichment } from "../fakes/enrichment.js"
import { backends, sampleLead, type TestOptions } from "../support/env.js"
import { awaitStatus, startConsumer, submit } from "../support/pipeline.js"

/** The lead is marked FAILED before the queue files the job as failed: wait for the queue to catch up. */
const awaitDeadLetters = Effect.flatMap(JobQueue, (queue) =>
  queue.deadLetters(10).pipe(
    Effect.filterOrFail((letters) => letters.length > 0),
    Effect.retry(Schedule.spaced("20 millis").pipe(Schedule.upTo("5 seconds")))
  )
)

describe.each(backends)("pipeline on %s", (_name, makeEnv) => {
  // biome-ignore lint/suspicious/noExplicitAny: each test needs a different subset of the environment's services
  const run = <A, E>(effect: Effect.Effect<A, E, any>, options: TestOptions = {}) =>
    effect.pipe(Effect.scoped, Effect.provide(makeEnv(options))) as Effect.Effect<A, E>

  const highFit = () => sampleLead({ email: `ada-${Math.random().toString(36).slice(2, 8)}@globex.com` })

  /** A lead the CRM refuses on its first call, processed until it is FAILED (the consumer left running). */
  const refusedOnce = Effect.gen(function* () {
    const crm = yield* MockCrmControl
    yield* crm.failNext(new CrmPermanentError({ provider: "mock", message: "REQUIRED_FIELD_MISSING: Company" }), 1)
    const { lead } = yield* submit(highFit())
    yield* startConsumer
    yield* awaitStatus(lead.id, ["FAILED"])
    return lead
  })

  it.live("a new lead is accepted, processed and SYNCED with its CRM actions", () =>
    run(
      Effect.gen(function* () {
        const { lead, created } = yield* submit(highFit())
        expect(created).toBe(true)
        yield* startConsumer
        const synced = yield* awaitStatus(lead.id, ["SYNCED"])
        expect(synced.grounding?.outcome).toBe("VALID")
        const actions = yield* Effect.flatMap(AuditLog, (audit) => audit.listForLead(lead.id))
        expect(actions.map((a) => a.tool)).toEqual([
          "upsert_lead",
          "sync_firmographics",
          "set_lead_score",
          "log_activity",
          "create_task"
        ])
        expect(actions.every((a) => a.status === "SUCCEEDED" && a.crmId !== undefined)).toBe(true)
        // audit params are redacted: no raw email in the stored parameters
        expect(JSON.stringify(actions.map((a) => a.params))).not.toContain(lead.input.email)
        const crm = yield* MockCrmControl
        expect((yield* crm.applied).length).toBe(5)
      })
    )
  )

  it.live("a duplicate lead returns the existing one and enqueues nothing", () =>
    run(
      Effect.gen(function* () {
        const body = highFit()
        const first = yield* submit(body)
        const second = yield* submit({ ...body, email: `  ${body.email.toUpperCase()} ` })
        expect(second.created).toBe(false)
        expect(second.lead.id).toBe(first.lead.id)
        const stats = yield* Effect.flatMap(JobQueue, (q) => q.stats)
        expect(stats.waiting).toBe(1)
      })
    )
  )

  it.live("a CRM 429 delays the job without spending an attempt, then syncs with each action once", () =>
    run(
      Effect.gen(function* () {
        const crm = yield* MockCrmControl
        // three 429s in a row with JOB_ATTEMPTS=3 would dead-letter if they spent attempts
        yield* crm.failNext(new CrmRateLimited({ provider: "mock", retryAfterMs: 30, message: "slow down" }), 4)
        const { lead } = yield* submit(highFit())
        yield* startConsumer
        yield* awaitStatus(lead.id, ["SYNCED"])
        const applied = yield* crm.applied
        expect(applied.length).toBe(5)
        expect(new Set(applied.map((c) => c.actionKey)).size).toBe(5)
      })
    )
  )

  it.live("a transient CRM error is retried with backoff; completed actions are not repeated", () =>
    run(
      Effect.gen(function* () {
        const crm = yield* MockCrmControl
        const { lead } = yield* submit(highFit())
        yield* crm.failNext(
          new CrmTransientError({ provider: "mock", message: "503 Service Unavailable", status: 503 }),
          1
        )
        yield* startConsumer
        yield* awaitStatus(lead.id, ["SYNCED"])
        const calls = yield* crm.calls
        const applied = yield* crm.applied
        expect(calls.length).toBe(6) // one failed call, then five actions
        expect(new Set(applied.map((c) => c.actionKey)).size).toBe(applied.length)
        const audit = yield* Effect.flatMap(AuditLog, (a) => a.listForLead(lead.id))
        expect(audit.filter((a) => a.status === "FAILED")).toHaveLength(1)
      })
    )
  )

  it.live("a permanent CRM rejection dead-letters at once: lead FAILED with the reason, replayable", () =>
    run(
      Effect.gen(function* () {
        const { lead } = yield* submit(sampleLead({ email: "bounce@globex.invalid" }))
        yield* startConsumer
        const failed = yield* awaitStatus(lead.id, ["FAILED"])
        expect(failed.error).toContain("invalid email address")
        const crm = yield* MockCrmControl
        expect((yield* crm.calls).length).toBe(1) // no retries
        const queue = yield* JobQueue
        const letters = yield* awaitDeadLetters
        expect(letters.map((l) => l.leadId)).toEqual([lead.id])
        expect(yield* queue.replay("no-such-lead")).toBe(false)
      })
    )
  )

  it.live("attempts exhausted: dead letter after JOB_ATTEMPTS tries", () =>
    run(
      Effect.gen(function* () {
        const crm = yield* MockCrmControl
        yield* crm.failNext(new CrmTransientError({ provider: "mock", message: "timeout" }), 10)
        const { lead } = yield* submit(highFit())
        yield* startConsumer
        const failed = yield* awaitStatus(lead.id, ["FAILED"])
        expect(failed.error).toContain("timeout")
        expect((yield* crm.calls).length).toBe(3)
        const [letter] = yield* awaitDeadLetters
        expect(letter?.attemptsMade).toBe(3)
      })
    )
  )

  it.live("replaying a dead letter runs the lead again and syncs it", () =>
    run(
      Effect.gen(function* () {
        const lead = yield* refusedOnce
        const first = yield* replayLead(lead.id)
        expect(first.replayed).toBe(true)
        yield* awaitStatus(lead.id, ["SYNCED"])
        // replaying again is a no-op: the lead is no longer FAILED
        expect((yield* replayLead(lead.id)).replayed).toBe(false)
      })
    )
  )

  it.live("a replay that raced its job's failing leaves the lead QUEUED on a dead job: the sweep revives it", () =>
    run(
      Effect.gen(function* () {
        const lead = yield* refusedOnce
        yield* awaitDeadLetters
        // what a replay landing between the FAILED mark and the job's filing leaves: the lead QUEUED, its job failed
        // (the replay found no failed job yet, and its enqueue was a no-op on the job id still taken)
        const store = yield* LeadStore
        yield* store.transition(lead.id, ["FAILED"], "QUEUED")
        const queue = yield* JobQueue
        yield* queue.enqueue({ leadId: lead.id })
        expect((yield* queue.deadLetters(10)).map((l) => l.leadId)).toEqual([lead.id])
        // the sweep gives the job back instead of enqueueing nothing
        expect(yield* sweepOnce({ minAgeMs: 0 })).toBe(1)
        yield* awaitStatus(lead.id, ["SYNCED"])
        expect(yield* queue.deadLetters(10)).toEqual([])
      })
    )
  )

  it.live("a sweep that listed a lead just before it was dead-lettered leaves its dead letter alone", () =>
    run(
      Effect.gen(function* () {
        const crm = yield* MockCrmControl
        yield* crm.failNext(new CrmPermanentError({ provider: "mock", message: "REQUIRED_FIELD_MISSING: Company" }), 1)
        const { lead } = yield* submit(highFit())
        const store = yield* LeadStore
        const processing = yield* store.transition(lead.id, ["RECEIVED", "QUEUED"], "PROCESSING")
        yield* startConsumer
        yield* awaitStatus(lead.id, ["FAILED"])
        yield* awaitDeadLetters
        // the sweep's list was read while the lead was still PROCESSING; by the time it looks, lead and job are dead
        const listedEarlier: typeof store = {
          ...store,
          listByStatus: (options) =>
            options.statuses.includes("PROCESSING") ? Effect.succeed([processing]) : store.listByStatus(options)
        }
        yield* sweepOnce({ minAgeMs: 0, processingMinAgeMs: 0 }).pipe(Effect.provideService(LeadStore, listedEarlier))
        // the lead is FAILED for good: its dead letter stays, for an operator to replay
        expect((yield* Effect.flatMap(JobQueue, (queue) => queue.deadLetters(10))).map((l) => l.leadId)).toEqual([
          lead.id
        ])
        expect((yield* store.get(lead.id)).status).toBe("FAILED")
      })
    )
  )

  it.live(
    "a FAILED lead submitted again with corrected content runs again with it and syncs; the same content stays",
    () =>
      run(
        Effect.gen(function* () {
          const body = highFit()
          const crm = yield* MockCrmControl
          yield* crm.failNext(
            new CrmPermanentError({ provider: "mock", message: "FIELD_INTEGRITY_EXCEPTION: Country" }),
            1
          )
          const { lead } = yield* submit({ ...body, country: "USA" })
          yield* startConsumer
          yield* awaitStatus(lead.id, ["FAILED"])
          yield* awaitDeadLetters
          // the same content again: a duplicate, still FAILED (it would fail the same way)
          const same = yield* submit({ ...body, country: "USA" })
          expect([same.created, same.revised ?? false, same.lead.status]).toEqual([false, false, "FAILED"])
          // corrected: the same lead, its input replaced, run again (its dead job revived)
          const corrected = yield* submit({ ...body, country: "United States" })
          expect([corrected.created, corrected.revised, corrected.lead.id]).toEqual([false, true, lead.id])
          const synced = yield* awaitStatus(lead.id, ["SYNCED"])
          expect(synced.input.country).toBe("United States")
          expect(synced.error).toBeUndefined()
          const upserts = (yield* crm.applied).filter((call) => call.tool === "upsert_lead")
          expect(upserts.map((call) => call.params.country)).toEqual(["United States"])
          expect(yield* Effect.flatMap(JobQueue, (queue) => queue.deadLetters(10))).toEqual([])
          // once SYNCED, another submission is a duplicate again
          const after = yield* submit({ ...body, country: "Canada" })
          expect([after.revised ?? false, after.lead.status]).toEqual([false, "SYNCED"])
        })
      )
  )

  it.live("two deliveries of one lead analysing at once plan from one analysis: each CRM action once", () =>
    run(
      Effect.gen(function* () {
        const { lead } = yield* submit(highFit())
        // an LLM's way: another answer each time it is asked (the reasoning is prose; the score moves)
        const heuristic = yield* Analyzer
        let asked = 0
        const varying = Analyzer.of({
          analyze: (input) =>
            Effect.suspend(() => {
              const n = ++asked
              return heuristic.analyze(input).pipe(
                // the first delivery's answer comes last, after the second has saved its own
                Effect.delay(n === 1 ? "300 millis" : "20 millis"),
                Effect.map((a) => ({ ...a, reasoning: `${a.reasoning} [sample ${n}]`, fitScore: a.fitScore - n }))
              )
            })
        })
        const job = { leadId: lead.id, attemptsMade: 0, maxAttempts: 3 }
        const delivery = (after: number) =>
          Effect.either(processLead(job).pipe(Effect.delay(after), Effect.provideService(Analyzer, varying)))
        yield* Effect.all([delivery(0), delivery(30)], { concurrency: 2 })
        expect(asked).toBe(2)
        // whatever each delivery was told (done, or delayed on a claim held by the other), the CRM got one plan
        const crm = yield* MockCrmControl
        const tools = (yield* crm.applied).map((call) => call.tool)
        expect([...tools].sort()).toEqual(
          ["create_task", "log_activity", "set_lead_score", "sync_firmographics", "upsert_lead"].sort()
        )
        const rows = yield* Effect.flatMap(AuditLog, (audit) => audit.listForLead(lead.id))
        expect(rows.filter((row) => row.status === "SUCCEEDED")).toHaveLength(5)
        // from the analysis the lead keeps: the second delivery's, saved first
        const stored = yield* Effect.flatMap(LeadStore, (store) => store.get(lead.id))
        expect(stored.analysis?.reasoning).toContain("[sample 2]")
      })
    )
  )

  it.live("a retry plans from the enrichment its analysis was made with, whatever the provider answers by then", () =>
    run(
      Effect.gen(function* () {
        const { lead } = yield* submit(highFit())
        // the provider had nothing yet on the first attempt (a record it was still researching), the record later
        let asked = 0
        const researching = Enricher.of({
          enrich: (domain) =>
            Effect.sync(() =>
              ++asked === 1
                ? Option.none()
                : Option.some({ domain, name: "Globex Corporation", industry: "Software", employees: 900 })
            )
        })
        // the CRM answers the first attempt's score with a 503, after the lead's upsert went through
        const crm = yield* CrmExecutor
        const flaky = CrmExecutor.of({
          ...crm,
          execute: (call) =>
            call.tool === "set_lead_score"
              ? Effect.fail(
                  new CrmTransientError({ provider: "mock", message: "503 Service Unavailable", status: 503 })
                )
              : crm.execute(call)
        })
        const job = { leadId: lead.id, attemptsMade: 0, maxAttempts: 3 }
        const first = yield* Effect.either(
          processLead(job).pipe(Effect.provideService(Enricher, researching), Effect.provideService(CrmExecutor, flaky))
        )
        expect(first._tag).toBe("Left")
        yield* processLead({ ...job, attemptsMade: 1 }).pipe(Effect.provideService(Enricher, researching))

        // each action once, with the parameters (so the keys) of the first plan: no second upsert carrying the
        // provider's company name, no firmographics the score was not made with
        const applied = yield* Effect.flatMap(MockCrmControl, (control) => control.applied)
        // (made without firmographics, the heuristic score does not route the lead to an SDR: no task)
        expect(applied.map((call) => call.tool).sort()).toEqual(["log_activity", "set_lead_score", "upsert_lead"])
        const stored = yield* Effect.flatMap(LeadStore, (store) => store.get(lead.id))
        expect(stored.status).toBe("SYNCED")
        expect(stored.grounding?.enrichment).toBeNull()
        expect(asked).toBe(1) // the retry asked the provider nothing: its plan's data was kept
      })
    )
  )

  it.live("an analysis that fails grounding is REJECTED and nothing reaches the CRM", () =>
    run(
      Effect.gen(function* () {
        const rejected = yield* submit(
          sampleLead({ email: "hal@globex.com", attributes: { "demo.hallucinate": true } })
        )
        yield* startConsumer
        const done = yield* awaitStatus(rejected.lead.id, ["REJECTED"])
        expect(done.grounding?.outcome).toBe("REJECTED")
        expect(done.grounding?.reasons.join(" ")).toMatch(/industry/)
        const calls = yield* Effect.flatMap(MockCrmControl, (c) => c.calls)
        expect(calls.filter((c) => c.params.email === "hal@globex.com")).toHaveLength(0)
      })
    )
  )

  it.live("rate-limit tiers delay actions instead of failing them", () =>
    run(
      Effect.gen(function* () {
        const { lead } = yield* submit(highFit())
        yield* startConsumer
        yield* awaitStatus(lead.id, ["SYNCED"], 15_000)
        const applied = yield* Effect.flatMap(MockCrmControl, (c) => c.applied)
        expect(applied).toHaveLength(5)
        // five actions against two permits per window: the lead tier refused some, and they waited instead of failing
        const metrics = (yield* Metrics.Metrics.pipe(Effect.flatMap((m) => m.render))).body
        const refused = /^revenueflow_rate_limit_refusals_total\{tier="lead"\} (\d+)$/m.exec(metrics)?.[1]
        expect(Number(refused)).toBeGreaterThan(0)
      }),
      { env: { RATE_LIMIT_PER_LEAD: "2", RATE_LIMIT_WINDOW_MS: "300" } }
    )
  )

  // An enrichment provider down for longer than a job's attempts (six here, ~0.6 s of backoff) used to dead-letter
  // every lead it touched: the HTTP enricher's calls go through its breaker, which opens, and the leads wait for it
  // (a failed half-open probe spends its lead's attempt, as the CRM's does: three probes at most in this outage).
  it.live(
    "an enrichment provider down for seconds opens its breaker: leads wait without spending attempts, then sync",
    () =>
      run(
        Effect.gen(function* () {
          const fake = yield* makeFakeEnrichment("enrichment-key", {
            "globex.com": {
              name: "Globex Corporation",
              category: { industry: "Software" },
              metrics: { employees: 900 }
            }
          })
          const enricher = yield* HttpEnricher.make({
            baseUrl: fake.url,
            apiKey: Effect.succeed(Redacted.make("enrichment-key")),
            timeoutMs: 1_000,
            retries: 0,
            retryBaseMs: 10,
            cacheTtlMs: 60_000,
            cacheCapacity: 100
          }).pipe(Effect.provide(FetchHttpClient.layer))
          fake.outage(503)
          const leads = yield* Effect.forEach([1, 2, 3], () => submit(highFit()))
          yield* startConsumer.pipe(Effect.provideService(Enricher, enricher))
          yield* Effect.sleep("1500 millis")
          const duringOutage = fake.requests.length
          fake.outage(undefined)
          for (const { lead } of leads) {
            const done = yield* awaitStatus(lead.id, ["SYNCED", "FAILED"])
            expect(done.status).toBe("SYNCED")
          }
          // the leads' first calls opened it; then one probe a wait (400 ms), not every lead's every retry
          expect(duringOutage).toBeLessThanOrEqual(3 + 4)
          const gauge = (yield* Metrics.Metrics.pipe(Effect.flatMap((m) => m.render))).body
          expect(gauge).toContain(`revenueflow_circuit_breaker_state{provider="enrichment"} 0`)
        }),
        {
          env: { JOB_ATTEMPTS: "6" },
          breaker: { consecutiveFailures: 2, probeSchedule: Schedule.spaced("400 millis") }
        }
      )
  )

  it.live("an open circuit breaker delays jobs until its probe succeeds", () => {
    // the production metrics, with every state the pipeline reports to the breaker's gauge recorded
    const breakerStates: Array<string> = []
    const recordingMetrics = Layer.effect(
      Metrics.Metrics,
      Effect.map(MetricsLayer.make({ defaultMetrics: false }), (metrics) => ({
        ...metrics,
        breakerState: (provider: string, state: BreakerState) =>
          Effect.zipRight(
            Effect.sync(() => breakerStates.push(state)),
            metrics.breakerState(provider, state)
          )
      }))
    )
    return run(
      Effect.gen(function* () {
        const crm = yield* MockCrmControl
        yield* crm.failNext(new CrmTransientError({ provider: "mock", message: "503" }), 2)
        const { lead } = yield* submit(highFit())
        yield* startConsumer
        yield* awaitStatus(lead.id, ["SYNCED"])
        expect((yield* crm.calls).length).toBe(7)
        // the gauge operators watch followed it: open after the failures, closed once the probe succeeded
        const gauge = (yield* Metrics.Metrics.pipe(Effect.flatMap((m) => m.render))).body
        expect(gauge).toMatch(/^revenueflow_circuit_breaker_state\{provider="mock"\} 0$/m)
        expect(breakerStates).toContain("open")
        expect(breakerStates.at(-1)).toBe("closed")
      }).pipe(Effect.provide(recordingMetrics)),
      {
        env: { JOB_ATTEMPTS: "10" },
        breaker: {
          consecutiveFailures: 2,
          // a fixed 50 ms probe delay keeps this live test fast; the real schedule is tested on TestClock
          probeSchedule: Schedule.spaced("50 millis")
        }
      }
    )
  })
})
