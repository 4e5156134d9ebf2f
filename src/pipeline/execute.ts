import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import { EXCERPT_REASON_CHARS, excerptText, excerptValue } from "../domain/excerpt.js"
import { type GuardBlocked, guardAction } from "../domain/guard.js"
import { tiersFor } from "../domain/rateTiers.js"
import type { ActionRecord, LeadRecord } from "../domain/record.js"
import { errorText, redactPersonalTextFor, redactText, redactTextFor, redactWith } from "../domain/redact.js"
import { withSpanWhenTraced } from "../domain/spans.js"
import { sha256Hex } from "../domain/leadKey.js"
import { actionKey, type CrmAction } from "../domain/tools.js"
import { AppConfig } from "../../services/AppConfig.js"
import { type ActionEntry, AuditLog } from "../../services/AuditLog.js"
import { CircuitBreaker } from "../../services/CircuitBreaker.js"
import {
  type CrmCall,
  type CrmError,
  CrmExecutor,
  CrmPermanentError,
  CrmRateLimited,
  type CrmResult,
  CrmTransientError
} from "../../services/CrmExecutor.js"
import { type ClaimOptions, Idempotency } from "../../services/Idempotency.js"
import { JobDelay } from "../../services/JobQueue.js"
import { Metrics } from "../../services/Metrics.js"
import { RateLimiter, type Tier } from "../../services/RateLimiter.js"
import { fateOf } from "./fate.js"

/** What a completed action leaves in the idempotency store, enough to rebuild its audit row. */
interface Done {
  readonly crmId?: string | undefined
  readonly detail?: unknown
  readonly durationMs: number
}

/**
 * Run `effect` to its end even when the caller is interrupted meanwhile (consumer shutdown, job cancel): the
 * interruption lands once it is done. A CRM call cut between the CRM's answer and the audit row would be sent again
 * by the next attempt. A daemon fiber, because interrupting a fiber also interrupts its children at once; it is
 * interruptible itself, so its own timeouts (the executor's deadline) still work, and it is always awaited.
 */
// The daemon ends with an Exit, not a failure: a failed daemon fiber is logged as "unhandled" with its whole error
// (CRM messages may quote the lead's data), although the wait below handles it. Awaited rather than joined: it
// changes no fiber ref the caller needs back, and a join would merge the daemon's into the caller's on every action.
const finishDespiteInterruption = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.uninterruptible(
    Effect.flatMap(Effect.forkDaemon(Effect.exit(Effect.interruptible(effect))), (daemon) =>
      Effect.flatMap(Fiber.await(daemon), (ended) =>
        Exit.isSuccess(ended) ? ended.value : Effect.failCause(ended.cause)
      )
    )
  )

/**
 * How long a run keeps trying to record an action the CRM did when neither Redis nor Postgres takes it: 0.2 s
 * doubling to 2 s, for up to 10 s (inside the action's uninterruptible piece: a shutdown that waits for its jobs
 * waits for it too, within SHUTDOWN_TIMEOUT_MS's default).
 */
const recordRetry = Schedule.exponential("200 millis").pipe(
  Schedule.modifyDelay((_, delay) => Duration.min(delay, Duration.seconds(2))),
  Schedule.upTo(Duration.seconds(10))
)

/**
 * The breaker counts only failures that say the CRM is unwell (5xx, timeouts, network). Its verdicts on our data
 * (4xx) and its rate limiting (429, already delayed until its own Retry-After) do not open it.
 */
const countsAgainstBreaker = (error: CrmError) => error._tag === "CrmTransientError"

/** How one action ended: its SUCCEEDED audit row, and whether this run executed it (false: it was done before). */
export interface ActionOutcome {
  readonly executed: boolean
  readonly record: ActionRecord
}

export interface RunActionOptions {
  /** The lead's SUCCEEDED audit rows by action key, read once per job; without it the action looks its row up. */
  readonly succeeded?: ReadonlyMap<string, ActionRecord> | undefined
  /** Recorded on the audit rows: who asked for the action ("mcp"); the consumer leaves it out. */
  readonly source?: string | undefined
  /**
   * A refusal of the guard (its BLOCKED row) is recorded once per action key and reason within this many ms: a
   * caller repeating the very same refused call (an agent in a loop) adds no row after the first, while every
   * distinct refusal still gets its own. Claimed in the idempotency store; when that is down, the row is written.
   * Left out (the consumer): every refusal is recorded.
   */
  readonly blockedOncePerMs?: number | undefined
  /**
   * The action key of the one action `runAction` runs, instead of the usual `actionKey(lead key, tool, params)`: an
   * MCP call of a tool that sets state chains it to the lead's trail (src/mcp/crm.ts), so setting a value back after
   * another is a new action. Left out (the consumer): the usual key.
   */
  readonly actionKey?: string | undefined
  /**
   * A refusal of the caller's own for the one action `runAction` runs, once the guard let it through (an MCP call
   * naming a CRM record this lead's trail does not hold): recorded (BLOCKED) and failed as the guard's own are.
   */
  readonly refused?: GuardBlocked | undefined
}

/**
 * A CRM error whose text quoted the lead's names, company, email or phone in any spelling (`redactFor` masks them,
 * see `redactTextFor`), with that text masked: the same error otherwise, so nothing downstream (the agent's answer, logs, the audit row, the job's
 * fate and leads.error) sees the names. An error that quoted none of them is returned as it is.
 */
const redactCrmError = (error: CrmError, redactFor: (text: string) => string): CrmError => {
  const message = redactFor(error.message)
  if (message === redactText(error.message)) return error
  switch (error._tag) {
    case "CrmRateLimited":
      return new CrmRateLimited({ provider: error.provider, retryAfterMs: error.retryAfterMs, message })
    case "CrmTransientError":
      return new CrmTransientError({ provider: error.provider, message, status: error.status, code: error.code })
    case "CrmPermanentError":
      return new CrmPermanentError({ provider: error.provider, message, status: error.status, code: error.code })
  }
}

/**
 * One line per failed CRM call, at Warning so LOG_LEVEL=Info shows it: ids and the CRM's verdict (status, error
 * code), the message with PII masked. A call the open breaker refused never reached the CRM: the breaker logs that.
 */
const logCrmError = (
  error: CrmError,
  context: { readonly leadId: string; readonly tool: string; readonly provider: string }
) =>
  Effect.logWarning("CRM call failed").pipe(
    Effect.annotateLogs({
      ...context,
      error: error._tag,
      ...("status" in error && error.status !== undefined ? { status: error.status } : {}),
      ...("code" in error && error.code !== undefined ? { code: error.code } : {}),
      ...(error._tag === "CrmRateLimited" ? { retryAfterMs: error.retryAfterMs } : {}),
      detail: redactText(error.message)
    })
  )

/** A planned action past the guard: its key, the call to send, and what each of its audit rows carries. */
interface Ready {
  readonly action: CrmAction
  readonly key: string
  readonly call: CrmCall
  readonly base: {
    readonly leadId: string
    readonly actionKey: string
    readonly tool: string
    readonly provider: string
    readonly params: unknown
    readonly source?: string
  }
}

/**
 * CRM actions of one lead through the safety chain, in order: guard -> idempotency -> rate limit -> circuit breaker
 * -> executor -> audit, failing with the chain's own typed errors (GuardBlocked, RateLimited, CircuitOpen, CRM
 * errors, stores unavailable; a JobDelay while another worker holds an action). An action already done (its durable
 * audit row, or the Redis fast path) is not executed again: its first SUCCEEDED row is its outcome.
 *
 * The lead's actions share the round trips that need no order between them: one claim of every action key, one
 * acquisition of their rate-limit permits (as many actions as fit; the rest take theirs when their turn comes), one
 * write of their audit rows when the run ends, success or failure (after the last action it is that action's
 * completion too: Redis is asked for one only if the write does not succeed). What needs order keeps it: each action's
 * completion is recorded before the next action is sent (in Redis, or when Redis cannot take it in the audit log),
 * every completed action has its audit row before the run returns, and an action the guard blocks is refused
 * (BLOCKED row) only after the actions before it ran, as one by one. Outcomes are in the order of the actions before
 * any blocked one.
 */
export const runActions = (lead: LeadRecord, actions: ReadonlyArray<CrmAction>, options: RunActionOptions = {}) =>
  Effect.gen(function* () {
    const succeeded = options.succeeded
    const config = yield* AppConfig
    const audit = yield* AuditLog
    const idempotency = yield* Idempotency
    const limiter = yield* RateLimiter
    const breaker = yield* CircuitBreaker
    const crm = yield* CrmExecutor
    const metrics = yield* Metrics

    const ready: Array<Ready> = []
    let blocked: { readonly action: CrmAction; readonly base: Ready["base"]; readonly error: GuardBlocked } | undefined
    // the plan's own actions take the person's details from the lead, so the lead's masker serves them all (one per
    // lead, cached); an agent's call may name others (an MCP upsert with other names), masked with its own
    const leadMask = options.source === undefined ? redactPersonalTextFor(lead.input) : undefined
    const givenKey = options.actionKey
    const refused = options.refused
    for (const action of actions) {
      const key = givenKey ?? actionKey(lead.leadKey, action.tool, action.params)
      const base = {
        leadId: lead.id,
        actionKey: key,
        tool: action.tool,
        provider: crm.provider,
        // masked by key (email, names, phone...), and for this lead's own names, email and phone wherever the text
        // of a parameter quotes them, in any spelling (an agent's task subject "Call Ada back on 4155550100")
        params: redactWith(action.params, leadMask ?? redactPersonalTextFor(lead.input, action.params)),
        ...(options.source === undefined ? {} : { source: options.source })
      }
      const guarded = guardAction(action.tool, action.params)
      if (Either.isLeft(guarded)) {
        blocked = { action, base, error: guarded.left }
        break
      }
      if (refused !== undefined) {
        blocked = { action, base, error: refused }
        break
      }
      ready.push({ action, key, call: { ...guarded.right, actionKey: key } as CrmCall, base })
    }

    const outcomes: Array<ActionOutcome> = []
    // The audit log is the durable truth: it holds every completed action even after Redis lost its data.
    const pending: Array<number> = []
    for (let i = 0; i < ready.length; i++) {
      const key = ready[i]!.key
      const durable = succeeded ? Option.fromNullable(succeeded.get(key)) : yield* audit.findSucceeded(key)
      if (Option.isSome(durable)) outcomes[i] = { executed: false, record: durable.value }
      else pending.push(i)
    }

    /**
     * Audit rows not written yet, in the order their actions ended: all written in one statement when the run ends,
     * whether it succeeded or failed (right after its last action, when it gets that far). A completed action's row
     * may wait because its completion is in the idempotency store, from which a retry rebuilds the row; an action
     * whose completion could not be stored has its row written (with those before it) before the next action is sent.
     */
    const unwritten: Array<{ readonly entry: ActionEntry; readonly outcome?: { index: number; executed: boolean } }> =
      []
    const writeAudit = Effect.suspend(() => {
      if (unwritten.length === 0) return Effect.void
      const batch = unwritten.splice(0)
      return Effect.map(audit.recordEach(batch.map((item) => item.entry)), (records) => {
        batch.forEach(({ outcome }, n) => {
          if (outcome !== undefined) outcomes[outcome.index] = { executed: outcome.executed, record: records[n]! }
        })
        // a write that did not succeed keeps its rows for the next one (the run's end, its failure's)
      }).pipe(
        // a refusal's row is not put back: a write that committed but lost its answer would write it twice, and its
        // once-per-window rule would be broken (SUCCEEDED rows are one per action key, FAILED rows may repeat)
        Effect.tapErrorCause(() =>
          Effect.sync(() => unwritten.unshift(...batch.filter((item) => item.entry.status !== "BLOCKED")))
        )
      )
    })
    const succeededEntry = (base: Ready["base"], done: Done): ActionEntry => ({
      ...base,
      status: "SUCCEEDED",
      crmId: done.crmId,
      result: done.detail,
      durationMs: done.durationMs
    })

    /** The breaker's state after a call, for its gauge (an interrupted call changes nothing). */
    const publishBreaker = Effect.flatMap(breaker.state(crm.provider), (state) =>
      metrics.breakerState(crm.provider, state)
    )

    /**
     * The CRM call and its completion, in one piece: an interrupted CRM call could not be told from a lost one. The
     * run's last action (`last`) has no completion in Redis: its audit row, with those still waiting, is written at
     * once, which is the durable record a completion only stands in for until the run's end. Redis takes the
     * completion only if that write does not succeed, so a retry still rebuilds the row and sends nothing again.
     */
    const perform = (item: Ready, index: number, last: boolean, sent: () => void) =>
      finishDespiteInterruption(
        Effect.gen(function* () {
          const { action, call, base } = item
          const started = yield* Clock.currentTimeMillis
          // the CRM's text may quote the lead's names: masked as it comes out, before it is logged, stored or returned
          // (the masking is made only for a failure: off the everyday path)
          const execute = Effect.mapError(crm.execute(call), (error) =>
            redactCrmError(error, redactTextFor(lead.input, action.params))
          )
          const result: CrmResult = yield* breaker.protect(crm.provider, execute, countsAgainstBreaker).pipe(
            Effect.tapError((error) =>
              Effect.gen(function* () {
                const durationMs = (yield* Clock.currentTimeMillis) - started
                yield* metrics.crmAction(action.tool, crm.provider, error._tag, durationMs / 1000)
                if (error._tag !== "CircuitOpen") {
                  yield* logCrmError(error, { leadId: lead.id, tool: action.tool, provider: crm.provider })
                }
                if (error._tag === "CrmTransientError" || error._tag === "CrmPermanentError") {
                  unwritten.push({ entry: { ...base, status: "FAILED", error: errorText(error.message), durationMs } })
                }
                yield* publishBreaker
              })
            ),
            withSpanWhenTraced("crm.execute", {
              captureStackTrace: false,
              attributes: { "crm.tool": action.tool, "crm.provider": crm.provider }
            })
          )
          // The CRM did it: from here its claim may only become "completed", never be released.
          sent()
          const durationMs = (yield* Clock.currentTimeMillis) - started
          // counted now: the CRM did it, whatever becomes of recording it (a failed audit write must not hide it)
          yield* metrics.crmAction(action.tool, crm.provider, "success", durationMs / 1000)
          yield* publishBreaker
          const done: Done = { crmId: result.crmId, detail: result.detail, durationMs }
          unwritten.push({ entry: succeededEntry(base, done), outcome: { index, executed: true } })
          const complete = idempotency.complete(item.key, done, config.idempotency.completedTtlMs)
          // The last action's record is its audit row, written at once with those still waiting; any end of that
          // write but success (a failure, a defect) leaves the completion to Redis, and the rows to the run's end.
          // The others': Redis first (a retry that finds "Completed" writes the audit row from it), else the audit
          // log, before anything else is sent. Either way the fact must land somewhere before the run goes on or
          // ends: while neither store takes it, both are tried again (`recordRetry`); a run that gave up on it would
          // leave a sent action recorded nowhere, and its retry would send it again once the claim lapsed.
          const record: Effect.Effect<void, Effect.Effect.Error<typeof writeAudit | typeof complete>> = last
            ? writeAudit.pipe(Effect.catchAllCause(() => complete))
            : complete.pipe(Effect.catchAllCause(() => writeAudit))
          // tried again only once both failed: the everyday run pays for nothing more
          yield* Effect.catchAll(record, () => Effect.retry(record, recordRetry))
        })
      ).pipe(
        withSpanWhenTraced("pipeline.action", {
          captureStackTrace: false,
          attributes: { "crm.tool": item.action.tool }
        })
      )

    // This run's claims: held while it works, and its own (another delivery of the job in this process may claim a
    // key this run lost: what this run checks, releases or lets lapse is only ever its own claim).
    const claimedBy: ClaimOptions = { renew: true, owner: {} }
    // Claims this run holds and has not sent: released on any failure or interruption, so a retry need not wait
    // for their TTL. Never released once the CRM did the action (its completion may have failed to be stored).
    const unsettled = new Set<string>()
    // Claims this run acquired: at its end, success or failure (interruption included), those still held (its last
    // action's, recorded by its audit row rather than completed) are let lapse after their TTL instead of being
    // extended for the life of the process.
    const acquired: Array<string> = []
    // Permits taken and not yet used, with the time they were taken at: given back if the run stops before their
    // actions are sent, so a failed attempt costs the limits only the calls it made (as one by one).
    let held: Array<ReadonlyArray<Tier>> = []
    let heldAt = 0
    // The first end of a window they were counted in: a call sent after it would count in a window that never
    // saw it, so what is still held then is dropped (that window is over) and taken again in the current one.
    let heldUntil = 0
    return yield* Effect.gen(function* () {
      if (pending.length > 0) {
        // Held while this run works (renewed each third of the TTL), so a run longer than the TTL — an action of
        // many CRM calls, a slow CRM — keeps its claims and another delivery of the job cannot send them meanwhile.
        // Claimed and registered in one piece: an interruption in between would leave a held claim no one lets go of.
        const claims = yield* Effect.uninterruptible(
          Effect.tap(
            idempotency.beginEach(
              pending.map((i) => ready[i]!.key),
              config.idempotency.inProgressTtlMs,
              claimedBy
            ),
            (claims) =>
              Effect.sync(() =>
                claims.forEach((claim, n) => {
                  if (claim._tag !== "Acquired") return
                  const key = ready[pending[n]!]!.key
                  unsettled.add(key)
                  acquired.push(key)
                })
              )
          )
        )
        const busy = claims.findIndex((claim) => claim._tag === "InProgress")
        if (busy >= 0) {
          const tool = ready[pending[busy]!]!.action.tool
          yield* Effect.logInfo("CRM action in progress elsewhere; job delayed 5 s").pipe(
            Effect.annotateLogs({ leadId: lead.id, tool })
          )
          return yield* new JobDelay({ delayMs: 5_000, reason: `action ${tool} is in progress elsewhere` })
        }
        const todo: Array<number> = []
        for (let n = 0; n < claims.length; n++) {
          const claim = claims[n]!
          const i = pending[n]!
          if (claim._tag === "Completed") {
            // Heal an audit row lost after the CRM call (store down at the time, or the run stopped before writing
            // it): the durable record must exist. A row another worker wrote meanwhile is kept (one SUCCEEDED row
            // per action key).
            unwritten.push({
              entry: succeededEntry(ready[i]!.base, claim.result as Done),
              outcome: { index: i, executed: false }
            })
          } else todo.push(i)
        }
        for (let n = 0; n < todo.length; n++) {
          const item = ready[todo[n]!]!
          // A claim lost while the run worked (found taken when it was to be renewed, or run out while the store was
          // out of reach) may be another worker's now, and that worker sends the action too: this run stops first.
          if (!(yield* idempotency.holds(item.key, claimedBy))) {
            yield* Effect.logWarning("CRM action's claim was lost before it was sent; job delayed 5 s").pipe(
              Effect.annotateLogs({ leadId: lead.id, tool: item.action.tool })
            )
            return yield* new JobDelay({ delayMs: 5_000, reason: `the claim on action ${item.action.tool} was lost` })
          }
          if (crm.admit !== undefined) yield* crm.admit(item.call)
          if (held.length > 0 && (yield* Clock.currentTimeMillis) >= heldUntil) held = []
          if (held.length === 0) {
            // The CRM's quota reading is taken once per acquisition (it tightens the CRM-wide tier).
            const usage = crm.apiUsage ? Option.getOrUndefined(yield* crm.apiUsage) : undefined
            const groups = todo.slice(n).map((i) =>
              tiersFor(lead, crm.provider, config.rateLimits, usage, {
                cost: crm.callCost?.(ready[i]!.call) ?? 1,
                window: crm.callWindow
              })
            )
            const permits = yield* limiter
              .acquireEach(groups)
              .pipe(
                Effect.tapError((error) =>
                  error._tag === "RateLimited" ? metrics.rateLimitRefused(error.tier) : Effect.void
                )
              )
            held = groups.slice(0, permits.granted)
            heldAt = permits.at
            heldUntil = Math.min(
              ...held.flat().map((tier) => (Math.floor(permits.at / tier.windowMs) + 1) * tier.windowMs)
            )
          }
          held.shift()
          // the last action of a run that blocks none writes the run's rows itself (one statement with the rest)
          const last = n === todo.length - 1 && blocked === undefined
          yield* perform(item, todo[n]!, last, () => unsettled.delete(item.key))
        }
      }

      if (blocked !== undefined) {
        const { base, error } = blocked
        // masked whole, then cut: a cut name or email would no longer be recognised as the lead's
        const reason = errorText(
          excerptText(errorText(error.reason, redactTextFor(lead.input, blocked.action.params)), EXCERPT_REASON_CHARS)
        )
        const window = options.blockedOncePerMs
        // the first of identical refusals within the window claims their key; the idempotency store down: record it
        const first =
          window === undefined ||
          (yield* idempotency.begin(`blocked:${sha256Hex(`${base.actionKey}\n${error.rule}\n${reason}`)}`, window).pipe(
            Effect.map((claim) => claim._tag === "Acquired"),
            Effect.orElseSucceed(() => true)
          ))
        // the row keeps an excerpt of what was sent: a refused call's size is the caller's choice (see excerpt.ts)
        const params = excerptValue(base.params)
        if (first) unwritten.push({ entry: { ...base, params, status: "BLOCKED", error: reason, durationMs: 0 } })
        yield* writeAudit
        yield* metrics.crmAction(base.tool, crm.provider, "blocked", 0)
        return yield* Effect.fail(error)
      }
      yield* writeAudit
      if (acquired.length > 0) yield* idempotency.letLapse(acquired, claimedBy)
      return outcomes
    }).pipe(
      Effect.onError(() =>
        Effect.suspend(() =>
          Effect.all(
            [
              // what ended before the failure is recorded all the same (a retry rebuilds it from Redis otherwise)
              writeAudit.pipe(Effect.ignore),
              unsettled.size === 0
                ? Effect.void
                : idempotency.releaseEach([...unsettled], claimedBy).pipe(Effect.ignore),
              held.length === 0 ? Effect.void : limiter.refund(held, heldAt).pipe(Effect.ignore),
              acquired.length === 0 ? Effect.void : idempotency.letLapse(acquired, claimedBy)
            ],
            { discard: true }
          )
        )
      )
    )
  })

/**
 * One CRM action through the safety chain (`runActions` of one action). The consumer runs a lead's actions
 * together (`executeActions`); an MCP tool call runs one directly, outside any job.
 */
export const runAction = (lead: LeadRecord, action: CrmAction, options: RunActionOptions = {}) =>
  Effect.map(runActions(lead, [action], options), (outcomes) => outcomes[0]!)

/**
 * The consumer's step: one planned action through the safety chain (`runAction`), failing only with a job fate.
 * `succeeded` is the lead's SUCCEEDED audit rows by action key, read once per job.
 */
export const executeAction = (lead: LeadRecord, action: CrmAction, succeeded?: ReadonlyMap<string, ActionRecord>) =>
  runAction(lead, action, { succeeded }).pipe(
    Effect.map((outcome) => (outcome.executed ? ("executed" as const) : ("skipped" as const))),
    Effect.mapError(fateOf)
  )

/** The consumer's step: a lead's planned actions through the safety chain (`runActions`), failing with a job fate. */
export const executeActions = (
  lead: LeadRecord,
  actions: ReadonlyArray<CrmAction>,
  succeeded?: ReadonlyMap<string, ActionRecord>
) => runActions(lead, actions, { succeeded }).pipe(Effect.asVoid, Effect.mapError(fateOf))
