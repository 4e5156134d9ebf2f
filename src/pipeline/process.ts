import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { computedFacts, ground } from "../domain/grounding.js"
import { type Enrichment, isFreeMailDomain } from "../domain/enrichment.js"
import { accountDomain } from "../domain/lead.js"
import { planActions } from "../domain/plan.js"
import { errorText, redactPersonalTextFor, redactTextFor } from "../domain/redact.js"
import { withSpanWhenTraced } from "../domain/spans.js"
import { AnalysisFailed, Analyzer } from "../../services/Analyzer.js"
import { AuditLog } from "../../services/AuditLog.js"
import { Enricher } from "../../services/Enricher.js"
import { type JobInfo, JobPermanent } from "../../services/JobQueue.js"
import { LeadStore } from "../../services/LeadStore.js"
import { Metrics } from "../../services/Metrics.js"
import { executeActions } from "./execute.js"
import { fateOf } from "./fate.js"

/** Time a stage into the stage-duration histogram and a span. */
const stage =
  (metrics: Metrics.Service, name: string) =>
  <A, E, R>(effect: Effect.Effect<A, E, R>) =>
    Effect.clockWith((clock) => {
      const start = clock.unsafeCurrentTimeMillis()
      return Effect.tap(effect, () => metrics.stageDuration(name, (clock.unsafeCurrentTimeMillis() - start) / 1000))
    }).pipe(withSpanWhenTraced(`pipeline.${name}`, { captureStackTrace: false }))

/**
 * Process one lead job: load -> enrich -> analyse -> ground -> plan -> each action through the safety chain ->
 * SYNCED (or REJECTED). Fails only with a job fate; the queue applies it. A retried job reuses the analysis it
 * saved, so its plan (and every action key) is the same as the first time.
 */
/** The line a finished lead leaves in the log: its outcome, and how long this run and the whole trip took. */
const finished = (outcome: string, startedAt: number, receivedAt: Date) =>
  Effect.map(Clock.currentTimeMillis, (now) => {
    const total = now - receivedAt.getTime()
    return `lead ${outcome}; ${now - startedAt} ms (${total < 1000 ? `${total} ms` : `${(total / 1000).toFixed(1)} s`} since received)`
  })

export const processLead = (job: JobInfo) =>
  Effect.gen(function* () {
    const store = yield* LeadStore
    const metrics = yield* Metrics
    const startedAt = yield* Clock.currentTimeMillis
    // One statement claims the lead; a lead already SYNCED / REJECTED / FAILED is stale here and acknowledged.
    const lead = yield* store
      .transition(job.leadId, ["RECEIVED", "QUEUED", "PROCESSING"], "PROCESSING")
      .pipe(Effect.catchTag("StaleTransition", () => Effect.succeed(undefined)))
    if (lead === undefined) return

    const domain = accountDomain(lead.input)
    const enrich = isFreeMailDomain(domain)
      ? Effect.succeed(Option.none<Enrichment>())
      : // a remote provider runs its own calls through its breaker (not a cached answer: see Enricher.breaker)
        Effect.flatMap(Enricher, (enricher) => enricher.enrich(domain)).pipe(stage(metrics, "enrich"))

    let grounding = lead.grounding
    if (grounding === undefined) {
      const enrichment = yield* enrich
      // a model service runs its calls through its own breaker (CircuitOpen: the job waits, see Analyzer.breaker)
      const analysis = yield* Effect.flatMap(Analyzer, (analyzer) =>
        analyzer.analyze({ leadId: lead.id, lead: lead.input, enrichment })
      ).pipe(
        // a model service's refusal may quote the request, the lead's names, email and phone in it: masked before
        // the failure becomes the job's fate, a log line or leads.error
        Effect.mapError((error) => {
          const mask = redactTextFor(lead.input)
          switch (error._tag) {
            case "AnalysisFailed":
              return new AnalysisFailed({
                message: mask(error.message),
                ...(error.retryAfterMs === undefined ? {} : { retryAfterMs: error.retryAfterMs })
              })
            case "JobPermanent":
              return new JobPermanent({ reason: mask(error.reason) })
            case "CircuitOpen":
              return error
          }
        }),
        stage(metrics, "analyze")
      )
      const made = ground(analysis, { lead: lead.input, enrichment, computed: computedFacts(lead.input, enrichment) })
      yield* metrics.groundingOutcome(made.outcome)
      // another delivery of this job may have saved its analysis first: plan from that one, as it does; the
      // enrichment is kept with it, so a retry plans from the data the analysis was made with (same action keys)
      grounding = yield* store.saveAnalysis(lead.id, analysis, { ...made, enrichment: Option.getOrNull(enrichment) })
    }

    if (grounding.outcome === "REJECTED") {
      // reasons name fields, not the lead's text (see checkClaim), but a model's field path or a stored reason may
      // still quote the lead: its names, email and phone are masked in any spelling (the company names the account)
      const reasons = errorText(grounding.reasons.join("; "), redactPersonalTextFor(lead.input))
      yield* store.transition(lead.id, ["PROCESSING"], "REJECTED", { error: reasons })
      yield* metrics.leadFinished("REJECTED")
      yield* Effect.logInfo(yield* finished("REJECTED by grounding: no CRM write", startedAt, lead.createdAt)).pipe(
        Effect.annotateLogs({ reasons })
      )
      return
    }

    // an analysis saved before its enrichment was kept with it: plan from the provider's answer now, as then
    const enrichment = grounding.enrichment === undefined ? yield* enrich : Option.fromNullable(grounding.enrichment)
    const actions = planActions(lead, grounding, enrichment)
    // One read of what this lead already has at the CRM (earlier attempts), instead of one per action.
    const rows = yield* Effect.flatMap(AuditLog, (audit) => audit.listForLead(lead.id))
    const succeeded = new Map(rows.filter((row) => row.status === "SUCCEEDED").map((row) => [row.actionKey, row]))
    yield* executeActions(lead, actions, succeeded).pipe(stage(metrics, "crm"))
    yield* store.transition(lead.id, ["PROCESSING"], "SYNCED")
    yield* metrics.leadFinished("SYNCED")
    const tools = actions.map((action) => action.tool).join(", ")
    yield* Effect.logInfo(
      yield* finished(
        `SYNCED: ${grounding.analysis.decision} (${grounding.outcome}); CRM ${tools || "nothing to do"}`,
        startedAt,
        lead.createdAt
      )
    )
  }).pipe(
    Effect.mapError(fateOf),
    Effect.annotateLogs({ leadId: job.leadId, attempt: job.attemptsMade + 1 }),
    withSpanWhenTraced("pipeline.process", { captureStackTrace: false, attributes: { "lead.id": job.leadId } })
  )

/** A job the queue gave up on: the lead becomes FAILED with the reason, and stays replayable. */
export const deadLetter = (job: JobInfo, reason: string) =>
  Effect.gen(function* () {
    const store = yield* LeadStore
    const metrics = yield* Metrics
    yield* store.transition(job.leadId, ["RECEIVED", "QUEUED", "PROCESSING"], "FAILED", { error: errorText(reason) })
    yield* metrics.leadFinished("FAILED")
    yield* Effect.logWarning("lead FAILED (dead-lettered; replay it from /console or POST /leads/:id/replay)").pipe(
      Effect.annotateLogs({ leadId: job.leadId, reason })
    )
  }).pipe(
    Effect.catchAll((error) =>
      Effect.logError("could not mark dead-lettered lead FAILED").pipe(
        Effect.annotateLogs({ leadId: job.leadId, error: error._tag })
      )
    )
  )
