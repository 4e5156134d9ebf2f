/**
 * Chaos run: one ingest and two consumers on the local Postgres and Redis (an isolated schema and key prefix),
 * the fake HubSpot behind a recording proxy, and a stream of leads. Each scenario injects one fault a third into
 * the stream and heals it at two thirds, then waits for the scenario's leads to drain and prints: leads accepted,
 * synced, lost (must be 0), CRM actions repeated (must be 0), time to drain. Exits non-zero if anything was lost
 * or repeated. Only 127.0.0.1 traffic; every loop is bounded.
 *
 *   npm run chaos             the full run (a few minutes)
 *   npm run chaos -- --smoke  a short run for CI (under 2 minutes)
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Scope from "effect/Scope"
import { startFakeHubSpot } from "../../test/fakes/hubspot.js"
import { countActions, explainedByKill } from "../lib/crmLedger.js"
import { startCrmProxy } from "../lib/crmProxy.js"
import { tally, waitForStatuses } from "../lib/db.js"
import { makeIsolation } from "../lib/isolation.js"
import { leadBody, postLead } from "../lib/leads.js"
import type { Program } from "../lib/processes.js"
import { hubSpotEnv, programEnv, startConsumer, startIngest } from "../lib/stack.js"
import { type ChaosContext, scenarios } from "./scenarios.js"

const smoke = process.argv.includes("--smoke")
const settings = smoke
  ? { leadsPerSecond: 8, streamMs: 6000, drainMs: 60_000 }
  : { leadsPerSecond: 20, streamMs: 15_000, drainMs: 120_000 }
const TERMINAL = ["SYNCED", "REJECTED", "FAILED"]

interface Row {
  readonly scenario: string
  readonly accepted: number
  readonly synced: number
  readonly lost: number
  readonly repeated: number
  readonly resentAfterKill: number
  readonly refused: number
  readonly drainSeconds: number
}

const log = (text: string) => Effect.sync(() => process.stdout.write(`[chaos] ${text}\n`))

/** POST like a well-behaved client: on 503 / no answer, retry (Retry-After, at most 1 s) up to 10 times. */
const submit = (url: string, body: { readonly email: string }) =>
  Effect.gen(function* () {
    for (let attempt = 0; attempt < 10; attempt++) {
      const result = yield* postLead(url, body, 5000)
      if (result.status === 202 || result.status === 200) return result.id
      if (result.status !== 503 && result.status !== 0) return undefined
      yield* Effect.sleep(Math.min(1000, Number(result.retryAfter ?? 0.2) * 1000))
    }
    return undefined
  })

/** Contacts per email and engagements per action key at the fake: more than one is a repeated CRM effect. */
const duplicateObjects = (records: Record<string, ReadonlyArray<{ properties: Record<string, string> }>>) => {
  const dupes = (values: ReadonlyArray<string | undefined>) => values.length - new Set(values).size
  return (
    dupes((records.contacts ?? []).map((c) => c.properties.email)) +
    dupes((records.notes ?? []).map((o) => o.properties.revenueflow_action_key)) +
    dupes((records.tasks ?? []).map((o) => o.properties.revenueflow_action_key))
  )
}

const program = Effect.gen(function* () {
  yield* log(
    `${smoke ? "smoke" : "full"} run: ${settings.leadsPerSecond} leads/s for ${settings.streamMs} ms per scenario`
  )
  const iso = yield* makeIsolation()
  const fake = yield* Effect.acquireRelease(
    Effect.promise(() => startFakeHubSpot({ burstLimit: 100_000 })),
    (f) => Effect.promise(() => f.close())
  )
  const crm = yield* startCrmProxy(fake.url)
  const env = programEnv(iso, hubSpotEnv(crm.url), {
    WORKER_CONCURRENCY: "5",
    JOB_ATTEMPTS: "10",
    JOB_LOCK_DURATION_MS: "3000",
    JOB_STALLED_INTERVAL_MS: "1000",
    // a claim outlives the CRM call it guards (start-up refuses otherwise); the slow-CRM scenario answers in 0.8 s
    CRM_TIMEOUT_MS: "2500",
    IDEMPOTENCY_IN_PROGRESS_TTL_MS: "5000",
    SWEEP_INTERVAL_MS: "1000",
    SWEEP_MIN_AGE_MS: "2000",
    SWEEP_PROCESSING_MIN_AGE_MS: "8000",
    // HTTP calls (an action makes 1-5)
    RATE_LIMIT_CRM: "500",
    RATE_LIMIT_WINDOW_MS: "1000",
    LOG_LEVEL: "Warn"
  })
  const runScope = yield* Effect.scope
  // each consumer reaches the CRM through an entrance named after it, so a resend is told by who sent it
  const consumer = (name: string) =>
    Effect.flatMap(crm.entrance(name), (url) => startConsumer({ ...env, HUBSPOT_BASE_URL: url }, name))
  const [ingest, ...consumers] = yield* Effect.all([startIngest(env), consumer("consumer-1"), consumer("consumer-2")], {
    concurrency: "unbounded"
  })
  yield* log(`schema ${iso.schema}, prefix ${iso.prefix}, ingest ${ingest!.url}, CRM proxy ${crm.url}`)
  const ctx: ChaosContext = {
    iso,
    crm,
    consumers: consumers as Array<Program>,
    startConsumer: (name) => Scope.extend(consumer(name), runScope),
    killed: []
  }
  const tag = iso.prefix.slice(-10)
  const perScenario = Math.round((settings.leadsPerSecond * settings.streamMs) / 1000)
  const rows: Array<Row> = []
  let next = 0

  for (const scenario of scenarios) {
    yield* log(`--- ${scenario.name}: ${scenario.description}`)
    const seenRepeats = new Set(countActions(crm.effective()).repeated.map((a) => a.key))
    const accepted: Array<string> = []
    let refused = 0
    const first = next
    next += perScenario
    const stream = yield* Effect.fork(
      Effect.forEach(
        Array.from({ length: perScenario }, (_, i) => first + i),
        (index) =>
          Effect.flatMap(Effect.fork(submit(ingest!.url, leadBody(tag, index))), (posting) =>
            Effect.zipRight(Effect.sleep(1000 / settings.leadsPerSecond), Effect.succeed(posting))
          ),
        { discard: false }
      ).pipe(
        Effect.flatMap((postings) => Effect.forEach(postings, Fiber.join)),
        Effect.tap((ids) =>
          Effect.sync(() => {
            for (const id of ids) id === undefined ? refused++ : accepted.push(id)
          })
        )
      )
    )
    yield* Effect.sleep(settings.streamMs / 3)
    yield* log(`inject: ${yield* scenario.inject(ctx)}`)
    yield* Effect.sleep(settings.streamMs / 3)
    yield* log(`heal: ${yield* scenario.heal(ctx)}`)
    const healedAt = Date.now()
    yield* Fiber.join(stream)

    const done = yield* waitForStatuses(iso.sql, accepted, TERMINAL, settings.drainMs, 200)
    const counts = tally(accepted, done.statuses)
    const fresh = countActions(crm.effective()).repeated.filter((a) => !seenRepeats.has(a.key))
    const resent = fresh.filter((a) => explainedByKill(a, ctx.killed)).length
    const row: Row = {
      scenario: scenario.name,
      accepted: accepted.length,
      synced: counts.SYNCED ?? 0,
      lost: accepted.length - (counts.SYNCED ?? 0),
      repeated: fresh.length - resent,
      resentAfterKill: resent,
      refused,
      // from the fault's end until every lead of the scenario is terminal
      drainSeconds: Math.round((Date.now() - healedAt) / 100) / 10
    }
    rows.push(row)
    yield* log(`result: ${JSON.stringify(row)}${row.lost > 0 ? ` statuses ${JSON.stringify(counts)}` : ""}`)
  }

  const duplicates = duplicateObjects(fake.records)
  console.table(rows)
  yield* log(`duplicate objects at the CRM (contacts per email, engagements per action key): ${duplicates}`)
  yield* log("resentAfterKill: an action in flight when its consumer was SIGKILLed, sent again (upsert: one object)")
  const bad = rows.filter((r) => r.lost > 0 || r.repeated > 0)
  if (bad.length > 0 || duplicates > 0) {
    return yield* Effect.fail(new Error(`chaos failed: ${bad.map((r) => r.scenario).join(", ") || "duplicates"}`))
  }
  yield* log("ok: nothing lost, nothing repeated")
})

program.pipe(Effect.scoped, NodeRuntime.runMain({ disablePrettyLogger: false }))
