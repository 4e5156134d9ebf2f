import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import type * as Option from "effect/Option"
import type { CrmAction } from "../src/domain/tools.js"

// The error classes live with the rules that classify CRM answers into them (src/domain/crmErrors.ts).
import type { CrmError, CrmRateLimited } from "../src/domain/crmErrors.js"

export { type CrmError, CrmPermanentError, CrmRateLimited, CrmTransientError } from "../src/domain/crmErrors.js"

/** A planned action with its idempotency key (executors may pass it to the CRM as an external id). */
export type CrmCall = CrmAction & { readonly actionKey: string }

export interface CrmResult {
  /** The id of the record the CRM created or touched. */
  readonly crmId?: string | undefined
  /** Anything else worth keeping in the audit row (object type, created flag...). */
  readonly detail?: Readonly<Record<string, unknown>> | undefined
}

/** API calls used and allowed, as the CRM itself reports them (Sforce-Limit-Info, X-HubSpot-RateLimit-*). */
export interface ApiUsage {
  readonly used: number
  readonly limit: number
}

export declare namespace CrmExecutor {
  export interface Service {
    /** "mock", "salesforce" or "hubspot": names the circuit breaker and labels metrics. */
    readonly provider: string
    readonly execute: (call: CrmCall) => Effect.Effect<CrmResult, CrmError>
    /** The CRM's last reported API usage, when it reports one: the CRM-wide tier tightens as it nears the quota. */
    readonly apiUsage?: Effect.Effect<Option.Option<ApiUsage>> | undefined
    /** The most HTTP calls `call` can make: the CRM-wide rate-limit tiers take that many permits (default 1). */
    readonly callCost?: ((call: CrmCall) => number) | undefined
    /**
     * Fails with CrmRateLimited when the CRM's own last word on its limits says `call` would not fit now. Asked before
     * any rate-limit permit is taken, so a CRM that is nearly spent delays jobs without burning the other tiers.
     */
    readonly admit?: ((call: CrmCall) => Effect.Effect<void, CrmRateLimited>) | undefined
    /** The CRM's own limit of calls per interval (HubSpot's 10-second burst limit), when it has one. */
    readonly callWindow?: { readonly limit: number; readonly intervalMs: number } | undefined
  }
}

/** Carries out one registered CRM tool call. Layers: salesforce (jsforce), hubspot, mock. */
export class CrmExecutor extends Context.Tag("revenueflow/CrmExecutor")<CrmExecutor, CrmExecutor.Service>() {}
