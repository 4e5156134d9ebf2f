import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import { companyDomain, isFreeMailDomain } from "../domain/enrichment.js"
import { GuardBlocked, guardAction } from "../domain/guard.js"
import { accountDomain } from "../domain/lead.js"
import { normalEmail, sha256Hex } from "../domain/leadKey.js"
import type { ActionRecord, LeadRecord } from "../domain/record.js"
import { redact, redactText } from "../domain/redact.js"
import { salesforceId18 } from "../domain/salesforceId.js"
import { hiddenCharacter } from "../domain/text.js"
import { actionKey, type CrmAction, type ToolName } from "../domain/tools.js"
import { type RunActionOptions, runAction } from "../pipeline/execute.js"
import { AppConfig } from "../../services/AppConfig.js"
import { AuditLog } from "../../services/AuditLog.js"
import { CrmExecutor } from "../../services/CrmExecutor.js"
import { Idempotency } from "../../services/Idempotency.js"
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

/**
 * A successful CRM action: its SUCCEEDED row, the same for the call that made it and every repeat, and whether this
 * very call sent it to the CRM (`executed: false`: an earlier action already did, and nothing was written now).
 */
const actionAnswer = (record: ActionRecord, executed: boolean) =>
  answer({
    tool: record.tool,
    status: record.status,
    executed,
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

/**
 * The tools whose write sets a record's state, which a later call may set otherwise: for them "done before" means
 * "the record's latest action was this one" (`settle`), not "ever done". The others add a record keyed by the action
 * (an opportunity, a task, a note), read (match_account) or cannot be undone (convert_lead): done once is done.
 */
const settingTools: ReadonlySet<string> = new Set([
  "upsert_lead",
  "create_lead",
  "update_lead_status",
  "set_lead_score",
  "sync_firmographics",
  "create_contact",
  "update_opportunity_stage"
])

/**
 * The tools that write the lead's own record, so one history: their fields overlap (a sync's country is an upsert's;
 * on HubSpot create_contact writes the lead's very contact and convert_lead its lead status).
 */
const leadWriters: ReadonlySet<string> = new Set([
  "upsert_lead",
  "create_lead",
  "update_lead_status",
  "set_lead_score",
  "sync_firmographics",
  "create_contact",
  "convert_lead"
])

/**
 * A CRM id in the one form its CRM's records are known by: a Salesforce id of either length as its 18 characters (an
 * agent may copy the 15 of a URL where the API answered 18), any other as it is.
 */
const canonicalId = (provider: string, id: string): string => (provider === "salesforce" ? salesforceId18(id) : id)

/** The record an action sets state on, from its parameters (as called, or as its audit row holds them). */
const recordOf = (provider: string, tool: string, params: unknown): string | undefined => {
  if (tool === "update_opportunity_stage") {
    const id =
      typeof params === "object" && params !== null ? (params as { opportunityId?: unknown }).opportunityId : ""
    return `opportunity ${canonicalId(provider, String(id))}`
  }
  return leadWriters.has(tool) ? "lead" : undefined
}

/** A setting call's key: its usual key chained to the key of its record's latest action ("" when there is none). */
const chainedKey = (usual: string, latest: string) => sha256Hex(`${usual}\n${latest}`)

/**
 * A setting call against its record's history on the lead's trail (SUCCEEDED rows, in order). When the latest action
 * is this very call (its key is this call's usual key, the consumer's, or that key chained to an earlier action), the
 * record holds what the call would write: a repeat, answered with that row. Otherwise it runs under its usual key
 * chained to that latest action's, so a retry of it (after a timeout, or a concurrent duplicate) meets the same
 * history and the same key, which the idempotency claims and the audit log's one SUCCEEDED row per key dedupe (a
 * completion stored before its row was written included); while a value set back after another (A, B, A) chains to
 * B: a new action, sent. Different calls racing from one history both run, as two agents' writes would. A write of
 * the record that failed after its latest success (a timeout, a 5xx: it may have landed) leaves its value unknown, so
 * a call equal to that latest action is sent again (chained to it, so its own retries still dedupe) rather than
 * answered as a repeat while the CRM may hold the failed write's value.
 */
const settle = (
  trail: ReadonlyArray<ActionRecord>,
  provider: string,
  tool: string,
  params: unknown,
  usual: string
): { readonly repeat: ActionRecord } | { readonly key: string } => {
  const target = recordOf(provider, tool, params)
  const writes = trail.filter(
    (row) => row.status !== "BLOCKED" && recordOf(row.provider, row.tool, row.params) === target
  )
  const history = writes.filter((row) => row.status === "SUCCEEDED")
  const latest = history.at(-1)
  if (latest === undefined) return { key: chainedKey(usual, "") }
  if (writes.at(-1) !== latest) return { key: chainedKey(usual, latest.actionKey) }
  const same =
    latest.tool === tool &&
    (latest.actionKey === usual ||
      latest.actionKey === chainedKey(usual, "") ||
      history.some((row) => row !== latest && latest.actionKey === chainedKey(usual, row.actionKey)))
  return same ? { repeat: latest } : { key: chainedKey(usual, latest.actionKey) }
}

/**
 * The opportunity and account ids the lead's trail holds: what RevenueFlow created or found for this lead, each in
 * its canonical form (`canonicalId`), as a call's are compared.
 */
const heldIds = (trail: ReadonlyArray<ActionRecord>) => {
  const opportunities = new Set<string>()
  const accounts = new Set<string>()
  const hold = (ids: Set<string>, id: unknown, provider: string) => {
    if (typeof id !== "string" || id === "") return
    ids.add(canonicalId(provider, id))
  }
  for (const row of trail) {
    if (row.status !== "SUCCEEDED") continue
    const result = (typeof row.result === "object" && row.result !== null ? row.result : {}) as Record<string, unknown>
    switch (row.tool) {
      case "create_opportunity":
        hold(opportunities, row.crmId, row.provider)
        break
      case "convert_lead":
        // Salesforce's conversion reports what it made; HubSpot's makes no deal and names no account
        hold(opportunities, result.opportunityId, row.provider)
        hold(accounts, result.accountId, row.provider)
        break
      case "match_account":
        hold(accounts, row.crmId, row.provider)
        break
      case "sync_firmographics":
        // HubSpot: a sync with a domain writes the domain's company, and its id is the row's
        if (result.object === "company") hold(accounts, row.crmId, row.provider)
        break
    }
  }
  return { opportunities, accounts }
}

/** The CRM ids a call names besides its lead: an opportunity to move, an account to put records under. */
const namedIds = (action: CrmAction) => ({
  opportunityId: action.tool === "update_opportunity_stage" ? action.params.opportunityId : undefined,
  accountId: "accountId" in action.params ? action.params.accountId : undefined
})

/**
 * A call naming an opportunity or account this lead's trail does not hold is refused: an agent holding one lead could
 * otherwise move any deal of the CRM, or attach records to any account, recorded against an unrelated lead.
 */
const foreignRecord = (action: CrmAction, trail: ReadonlyArray<ActionRecord>): GuardBlocked | undefined => {
  const { opportunityId, accountId } = namedIds(action)
  const held = heldIds(trail)
  if (opportunityId !== undefined && !held.opportunities.has(opportunityId)) {
    return new GuardBlocked({
      tool: action.tool,
      rule: "not-this-lead",
      reason:
        `opportunityId ${opportunityId} is no opportunity of this lead: an agent may move only an opportunity ` +
        "RevenueFlow created for it (create_opportunity, or convert_lead on Salesforce), as its audit trail records"
    })
  }
  if (accountId !== undefined && !held.accounts.has(accountId)) {
    return new GuardBlocked({
      tool: action.tool,
      rule: "not-this-lead",
      reason:
        `accountId ${accountId} is no account of this lead: an agent may use only an account its audit trail records ` +
        "(found by match_account, made by convert_lead on Salesforce, or the HubSpot company of a sync_firmographics " +
        "with a domain)"
    })
  }
  return undefined
}

/**
 * A firmographics sync naming a domain writes that domain's company (HubSpot: the company found or made by it, then
 * tied to the lead's contact), so it must be the lead's own company: its email's domain (not a free-mail one) or the
 * domain its enrichment was made with. Any other domain would let an agent holding one lead overwrite any company of
 * the CRM (and then file records under it as this lead's).
 */
const foreignDomain = (action: CrmAction, lead: LeadRecord): GuardBlocked | undefined => {
  if (action.tool !== "sync_firmographics" || action.params.domain === undefined) return undefined
  const own = [accountDomain(lead.input), lead.grounding?.enrichment?.domain]
    .filter((domain): domain is string => domain !== undefined && domain !== null)
    .map(companyDomain)
    .filter((domain) => !isFreeMailDomain(domain))
  if (own.includes(companyDomain(action.params.domain))) return undefined
  return new GuardBlocked({
    tool: action.tool,
    rule: "not-this-lead",
    reason:
      `domain ${action.params.domain} is not this lead's company: a firmographics sync may name only the lead's own ` +
      `domain (${own.length === 0 ? "none: its email is a free-mail address" : own.join(" or ")})`
  })
}

/**
 * A call whose text holds a character intake would drop (a bidi override, a zero-width space, a tag character, a soft
 * hyphen...; see `hiddenCharacter`), refused naming the field: it would reach the CRM as sent, reordering or hiding
 * what its users read, or smuggling text to a model that reads the record. Refused, not dropped as intake does: an
 * agent's text reaches the CRM as sent or not at all. The pipeline's own text is cleaned where it enters (the lead,
 * the enrichment).
 */
const hiddenText = (action: CrmAction): GuardBlocked | undefined => {
  const visit = (value: unknown, path: string): GuardBlocked | undefined => {
    if (typeof value === "string") {
      const hidden = hiddenCharacter(value)
      return hidden === undefined
        ? undefined
        : new GuardBlocked({
            tool: action.tool,
            rule: "hidden-text",
            reason:
              `${path} holds an invisible or direction-changing character (${hidden}) that a CRM user would not ` +
              "see: send the text without it"
          })
    }
    if (value === null || typeof value !== "object") return undefined
    for (const [key, item] of Object.entries(value)) {
      const found = visit(item, Array.isArray(value) ? `${path}[${key}]` : path === "" ? key : `${path}.${key}`)
      if (found !== undefined) return found
    }
    return undefined
  }
  return visit(action.params, "")
}

/** `args` with the opportunity and account ids it names (when they are text) in their canonical form. */
const canonicalIds = (provider: string, args: Record<string, unknown>): Record<string, unknown> => {
  const out = { ...args }
  for (const name of ["opportunityId", "accountId"]) {
    const id = out[name]
    if (typeof id === "string") out[name] = canonicalId(provider, id)
  }
  return out
}

/** How long a setting call waits before its record is asked again, when another write of it is in flight. */
const BUSY_RETRY_MS = 1000

/** A setting call refused because another write of its record is in flight: retried, it is decided afresh. */
const busy = (why: string): ToolResult =>
  refusal("InProgress", `${why} Try again shortly: the call is then decided against what that write left.`, {
    retryAfterMs: BUSY_RETRY_MS
  })

/**
 * `decided` (read a record's history, then answer from it or write it) with that record of the lead held for it
 * alone: an idempotency claim on the record (its key names the lead and the record, never an action), released when
 * `decided` ends, kept while it runs (`renew`), and lapsing after IDEMPOTENCY_IN_PROGRESS_TTL_MS if this process dies
 * holding it. A call that finds
 * it held — another MCP call writing the record, in this process or another — is refused InProgress.
 */
const withRecordLock = <E, R>(leadId: string, record: string, decided: Effect.Effect<ToolResult, E, R>) =>
  Effect.gen(function* () {
    const idempotency = yield* Idempotency
    const { idempotency: settings } = yield* AppConfig
    const key = sha256Hex(`mcp record\n${leadId}\n${record}`)
    // claimed and let go of in one bracket: no interruption can leave the held (renewed) claim behind; released as
    // this call's own, never another call's claim of the record
    const claimedBy = { renew: true, owner: {} }
    return yield* Effect.acquireUseRelease(
      idempotency.begin(key, settings.inProgressTtlMs, claimedBy),
      (claim) =>
        claim._tag === "Acquired" ? decided : Effect.succeed(busy("Another write of this record is in flight.")),
      (claim) => (claim._tag === "Acquired" ? Effect.ignore(idempotency.release(key, claimedBy)) : Effect.void)
    )
  })

const isLeadKey = (value: unknown): value is string => typeof value === "string" && /^[0-9a-f]{64}$/.test(value)
/** One address however it is cased, padded or composed (as lead keys compare emails). */
const sameEmail = (a: string, b: string) => normalEmail(a) === normalEmail(b)

/**
 * One CRM tool call: the lead named by `leadKey` (and its email) must be a lead RevenueFlow holds, so the call gets
 * that lead's rate-limit tiers, its action key (lead key + tool + canonical parameters, as the consumer computes it;
 * for a tool that sets state, chained to its record's latest action: `settle`) and its audit trail; an opportunity or
 * account it names must be one of the lead's (`foreignRecord`). Then the consumer's safety chain runs it, recorded
 * with source "mcp".
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
    let options: RunActionOptions = { source: "mcp", blockedOncePerMs: BLOCKED_ROW_WINDOW_MS }
    // the lead's own email, as it was stored, whatever its case or spacing here: the action key hashes the
    // parameters, so "Ada@x.io" and "ada@x.io " must make one action (and one CRM write), as the consumer's would
    const withEmail = typeof args.email === "string" ? { ...args, email: lead.value.input.email } : args
    // and the CRM ids it names in their one form, for the same reason: an opportunity's stage set through its 15- and
    // its 18-character id is one record's history, one key, one audit trail
    const { provider } = yield* CrmExecutor
    const params = canonicalIds(provider, withEmail)
    const action = { tool, params } as CrmAction
    // a call the guard refuses is refused by the chain (its BLOCKED row) before its trail matters
    const guarded = guardAction(tool, params)
    const hidden = Either.isRight(guarded) ? hiddenText(guarded.right) : undefined
    if (hidden !== undefined) options = { ...options, refused: hidden }
    const setting = Either.isRight(guarded) && hidden === undefined && settingTools.has(tool)
    const decided = Effect.gen(function* () {
      if (Either.isRight(guarded) && hidden === undefined) {
        const foreign = foreignDomain(guarded.right, lead.value)
        const named = namedIds(guarded.right)
        if (foreign !== undefined) options = { ...options, refused: foreign }
        else if (setting || named.opportunityId !== undefined || named.accountId !== undefined) {
          const trail = yield* Effect.flatMap(AuditLog, (audit) => audit.listForLead(lead.value.id))
          const refused = foreignRecord(guarded.right, trail)
          if (refused !== undefined) options = { ...options, refused }
          else if (setting) {
            const settled = settle(trail, provider, tool, params, actionKey(lead.value.leadKey, tool, params))
            if ("repeat" in settled) {
              yield* Effect.logInfo("mcp tool call").pipe(
                Effect.annotateLogs({ tool, leadId: lead.value.id, executed: false })
              )
              return actionAnswer(settled.repeat, false)
            }
            options = { ...options, actionKey: settled.key }
          }
        }
      }
      const outcome = yield* runAction(lead.value, action, options)
      yield* Effect.logInfo("mcp tool call").pipe(
        Effect.annotateLogs({ tool, leadId: lead.value.id, executed: outcome.executed })
      )
      return actionAnswer(outcome.record, outcome.executed)
    })
    if (!setting) return yield* decided
    // a setting call reads its record's history and acts on it: no other write of that record may be in flight
    // meanwhile, or a call equal to the latest finished one would be answered as a repeat while the CRM is about to
    // hold the other's value
    if (lead.value.status === "PROCESSING") {
      return busy("The pipeline is processing this lead right now (its own CRM writes are in flight).")
    }
    return yield* withRecordLock(lead.value.id, recordOf(provider, tool, params) ?? tool, decided)
  }).pipe(
    Effect.catchAll((error) =>
      Effect.as(
        Effect.logWarning("mcp tool call refused").pipe(Effect.annotateLogs({ tool, refusal: error._tag })),
        chainRefusal(error)
      )
    )
  )
