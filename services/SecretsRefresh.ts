import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"

export declare namespace SecretsRefresh {
  export interface Service {
    /** Re-reads the configured secrets now (e.g. after a credential failure); keeps the old values if that fails. */
    readonly refresh: Effect.Effect<void>
  }
}

/** On-demand refresh of configuration held in a secret store. Layers: aws (Secrets Manager), none (no-op). */
export class SecretsRefresh extends Context.Tag("revenueflow/SecretsRefresh")<
  SecretsRefresh,
  SecretsRefresh.Service
>() {}
