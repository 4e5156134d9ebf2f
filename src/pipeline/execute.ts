import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import { guardAction } from "../domain/guard.js"
import { tiersFor } from "../domain/rateTiers.js"
import type { ActionRecord, LeadRecord } from "../domain/record.js"
import { errorText, redact, redactText } from "../domain/redact.js"
import { actionKey, type CrmAction } from "../domain/tools.js"
import { AppConfig } from "../../services/AppConfig.js"
import { AuditLog } from "../../services/AuditLog.js"
import { CircuitBreaker } from "../../services/CircuitBreaker.js"
import { type CrmCall, type CrmError, CrmExecutor, type CrmResult } from "../../services/CrmExecutor.js"
import { Idempotency } from "../../services/Idempotency.js"
import { JobDelay } from "../../services/JobQueue.js"
import { Metrics } from "../../services/Metrics.js"
import { RateLimiter } from "../../services/RateLimiter.js"
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
 * interruptible itself, so its own timeouts (the executor's deadline) still work, and it is always joined.
 */
// The daemon ends with an Exit, not a failure: a failed daemon fiber is logged as "unhandled" with its whole error
// (CRM messages may quote the lead's data), although the join below handles it.
const finishDespiteInterruption = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.uninterruptible(
    Effect.flatten(Effect.flatMap(Effect.forkDaemon(Effect.exit(Effect.interruptible(effect))), Fiber.join))
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

/**
 * One CRM action through the safety chain: guard -> idempotency -> rate limit -> circuit breaker -> executor ->
 * audit, failing with the chain's own typed errors (GuardBlocked, RateLimited, CircuitOpen, CRM errors, stores
 * unavailable; a JobDelay while another worker holds the action). An action already done (its durable audit row, or
 * the Redis fast path) is not executed again: its first SUCCEEDED row is the outcome. The consumer runs it through
 * `executeAction`; an MCP tool call runs it directly, outside any job.
 */
export const runAction = (lead: LeadRecord, action: CrmAction, options: RunActionOptions = {}) =>
  Effect.gen(function* () {
    const succeeded = options.succeeded
    const config = yield* AppConfig
    const audit = yield* AuditLog
    const idempotency = yield* Idempotency
    const limiter = yield* RateLimiter
    const breaker = yield* CircuitBreaker
    const crm = yield* CrmExecutor
    const metrics = yield* Metrics
    const key = actionKey(lead.leadKey, action.tool, action.params)
    const base = {
      leadId: lead.id,
      actionKey: key,
      tool: action.tool,
      provider: crm.provider,
      params: redact(action.params),
      ...(options.source === undefined ? {} : { source: options.source })
    }

    const guarded = guardAction(action.tool, action.params)
    if (Either.isLeft(guarded)) {
      yield* audit.record({ ...base, status: "BLOCKED", error: errorText(guarded.left.reason), durationMs: 0 })
      yield* metrics.crmAction(action.tool, crm.provider, "blocked", 0)
      return yield* Effect.fail(guarded.left)
    }
    const call = { ...guarded.right, actionKey: key } as CrmCall

    const recordSuccess = (done: Done) =>
      audit.record({
        ...base,
        status: "SUCCEEDED",
        crmId: done.crmId,
        result: done.detail,
        durationMs: done.durationMs
      })

    // The audit log is the durable truth: it holds every completed action even after Redis lost its data.
    const durable = succeeded ? Option.fromNullable(succeeded.get(key)) : yield* audit.findSucceeded(key)
    if (Option.isSome(durable)) return { executed: false, record: durable.value } satisfies ActionOutcome

    const claim = yield* idempotency.begin(key, config.idempotency.inProgressTtlMs)
    if (claim._tag === "Completed") {
      // Heal an audit row lost after the CRM call (store down at the time): the durable record must exist. A row
      // another worker wrote meanwhile is kept (one SUCCEEDED row per action key).
      return { executed: false, record: yield* recordSuccess(claim.result as Done) } satisfies ActionOutcome
    }
    if (claim._tag === "InProgress") {
      return yield* new JobDelay({ delayMs: 5_000, reason: `action ${action.tool} is in progress elsewhere` })
    }
    const release = idempotency.release(key).pipe(Effect.ignore)
    // An interruption after the claim must not leave it "in progress" until its TTL: the next attempt would wait.
    return yield* Effect.gen(function* () {
      const usage = crm.apiUsage ? Option.getOrUndefined(yield* crm.apiUsage) : undefined
      // From the permit to the audit row, one piece: an interrupted CRM call could not be told from a lost one.
      return yield* finishDespiteInterruption(
        Effect.gen(function* () {
          if (crm.admit !== undefined) yield* crm.admit(call).pipe(Effect.tapError(() => release))
          const calls = { cost: crm.callCost?.(call) ?? 1, window: crm.callWindow }
          yield* limiter.acquire(tiersFor(lead, crm.provider, config.rateLimits, usage, calls)).pipe(
            Effect.tapError((error) =>
              error._tag === "RateLimited" ? metrics.rateLimitRefused(error.tier) : Effect.void
            ),
            Effect.tapError(() => release)
          )
          const started = yield* Clock.currentTimeMillis
          const result: CrmResult = yield* breaker.protect(crm.provider, crm.execute(call), countsAgainstBreaker).pipe(
            Effect.tapError((error) =>
              Effect.gen(function* () {
                yield* release
                const durationMs = (yield* Clock.currentTimeMillis) - started
                yield* metrics.crmAction(action.tool, crm.provider, error._tag, durationMs / 1000)
                if (error._tag !== "CircuitOpen") {
                  yield* logCrmError(error, { leadId: lead.id, tool: action.tool, provider: crm.provider })
                }
                if (error._tag === "CrmTransientError" || error._tag === "CrmPermanentError") {
                  yield* audit
                    .record({ ...base, status: "FAILED", error: errorText(error.message), durationMs })
                    .pipe(Effect.ignore)
                }
              })
            ),
            Effect.ensuring(
              Effect.flatMap(breaker.state(crm.provider), (state) => metrics.breakerState(crm.provider, state))
            ),
            Effect.withSpan("crm.execute", {
              captureStackTrace: false,
              attributes: { "crm.tool": action.tool, "crm.provider": crm.provider }
            })
          )
          const durationMs = (yield* Clock.currentTimeMillis) - started
          const done: Done = { crmId: result.crmId, detail: result.detail, durationMs }
          // Redis first: if the store is down now, a retry finds "Completed" and writes the audit row then.
          yield* idempotency.complete(key, done, config.idempotency.completedTtlMs).pipe(Effect.ignore)
          const record = yield* recordSuccess(done)
          yield* metrics.crmAction(action.tool, crm.provider, "success", durationMs / 1000)
          return { executed: true, record } satisfies ActionOutcome
        })
      )
    }).pipe(Effect.onInterrupt(() => release))
  }).pipe(Effect.withSpan("pipeline.action", { captureStackTrace: false, attributes: { "crm.tool": action.tool } }))

/**
 * The consumer's step: one planned action through the safety chain (`runAction`), failing only with a job fate.
 * `succeeded` is the lead's SUCCEEDED audit rows by action key, read once per job.
 */
export const executeAction = (lead: LeadRecord, action: CrmAction, succeeded?: ReadonlyMap<string, ActionRecord>) =>
  runAction(lead, action, { succeeded }).pipe(
    Effect.map((outcome) => (outcome.executed ? ("executed" as const) : ("skipped" as const))),
    Effect.mapError(fateOf)
  )
