import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import { guardAction } from "../domain/guard.js"
import { normalEmail } from "../domain/leadKey.js"
import type { ActionRecord } from "../domain/record.js"
import { redact, redactText } from "../domain/redact.js"
import type { CrmAction, ToolName } from "../domain/tools.js"
import { type RunActionOptions, runAction } from "../pipeline/execute.js"
import { LeadStore } from "../../services/LeadStore.js"
import {
  answer,
  DATABASE,
  REDIS,
  refusal,
  type ToolResult,
  UNAVAILABLE_RETRY_MS,
  unavailableRefusal
} from "./results.js"

/**
 * The same refused call (same tool and arguments, same refusal) repeated within this window leaves one BLOCKED audit
 * row, not one per attempt: an agent retrying a malformed call in a loop cannot flood the audit log.
 */
const BLOCKED_ROW_WINDOW_MS = 10 * 60_000

/** A successful CRM action, identical for the call that made it and every repeat (it is its SUCCEEDED row). */
const actionAnswer = (record: ActionRecord) =>
  answer({
    tool: record.tool,
    status: record.status,
    actionKey: record.actionKey,
    leadId: record.leadId,
    provider: record.provider,
    ...(record.crmId === undefined ? {} : { crmId: record.crmId }),
    ...(record.result === undefined ? {} : { result: redact(record.result) }),
    at: record.createdAt.toISOString()
  })

/** The failures of the safety chain, each as the refusal an agent sees (exhaustive: a new error must be mapped). */
type ChainError = Effect.Effect.Error<ReturnType<typeof runAction>>
const chainRefusal = (error: ChainError): ToolResult => {
  switch (error._tag) {
    case "GuardBlocked":
      return refusal("GuardBlocked", `Refused by the safety guard (${error.rule}): ${error.reason}`, {
        rule: error.rule
      })
    case "RateLimited":
      return refusal("RateLimited", `Rate limit reached (${error.tier} tier).`, {
        tier: error.tier,
        retryAfterMs: error.retryAfterMs
      })
    case "CircuitOpen":
      return refusal("CircuitOpen", `The CRM circuit breaker (${error.name}) is open after repeated CRM failures.`, {
        retryAfterMs: error.retryAfterMs
      })
    case "CrmRateLimited":
      return refusal("CrmRateLimited", "The CRM is rate limiting RevenueFlow.", { retryAfterMs: error.retryAfterMs })
    case "CrmPermanentError":
      return refusal("CrmRejected", `The CRM rejected the request: ${redactText(error.message)}`)
    case "CrmTransientError":
      return refusal("CrmUnavailable", "The CRM did not answer properly (5xx, timeout or network); try again later.", {
        retryAfterMs: UNAVAILABLE_RETRY_MS
      })
    case "JobDelay":
      return refusal("InProgress", "The same action is being executed by another worker right now.", {
        retryAfterMs: error.delayMs
      })
    case "StoreUnavailable":
      return unavailableRefusal(DATABASE)
    case "IdempotencyUnavailable":
    case "RateLimiterUnavailable":
      return unavailableRefusal(REDIS)
  }
}

const isLeadKey = (value: unknown): value is string => typeof value === "string" && /^[0-9a-f]{64}$/.test(value)
/** One address however it is cased, padded or composed (as lead keys compare emails). */
const sameEmail = (a: string, b: string) => normalEmail(a) === normalEmail(b)

/**
 * One CRM tool call: the lead named by `leadKey` (and its email) must be a lead RevenueFlow holds, so the call gets
 * that lead's rate-limit tiers, its action key (lead key + tool + canonical parameters, as the consumer computes it)
 * and its audit trail; then the consumer's safety chain runs it, recorded with source "mcp".
 */
export const crmCall = (tool: ToolName, args: Record<string, unknown>) =>
  Effect.gen(function* () {
    const store = yield* LeadStore
    const lead = isLeadKey(args.leadKey) ? yield* store.findByKey(args.leadKey) : Option.none()
    if (Option.isNone(lead)) {
      // no lead to audit against: the guard still speaks first, so bad arguments are named as such
      const guarded = guardAction(tool, args)
      if (Either.isLeft(guarded)) return chainRefusal(guarded.left)
      return refusal(
        "LeadNotFound",
        "No lead with this leadKey: RevenueFlow acts only on leads it accepted (POST /leads or a webhook). " +
          "Use find_lead to get a lead's key."
      )
    }
    if (typeof args.email === "string" && !sameEmail(args.email, lead.value.input.email)) {
      return refusal("LeadMismatch", "email is not the email of the lead named by leadKey.")
    }
    const options: RunActionOptions = { source: "mcp", blockedOncePerMs: BLOCKED_ROW_WINDOW_MS }
    // the lead's own email, as it was stored, whatever its case or spacing here: the action key hashes the
    // parameters, so "Ada@x.io" and "ada@x.io " must make one action (and one CRM write), as the consumer's would
    const params = typeof args.email === "string" ? { ...args, email: lead.value.input.email } : args
    const outcome = yield* runAction(lead.value, { tool, params } as CrmAction, options)
    yield* Effect.logInfo("mcp tool call").pipe(
      Effect.annotateLogs({ tool, leadId: lead.value.id, executed: outcome.executed })
    )
    return actionAnswer(outcome.record)
  }).pipe(
    Effect.catchAll((error) =>
      Effect.as(
        Effect.logWarning("mcp tool call refused").pipe(Effect.annotateLogs({ tool, refusal: error._tag })),
        chainRefusal(error)
      )
    )
  )
