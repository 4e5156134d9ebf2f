import * as ConfigProvider from "effect/ConfigProvider"
import * as Layer from "effect/Layer"

/** The environment first, then `defaults` for what it leaves unset (a program's or the Lambda handlers' own). */
export const withDefaults = (defaults: Readonly<Record<string, string>>) =>
  Layer.setConfigProvider(
    ConfigProvider.fromEnv().pipe(
      ConfigProvider.orElse(() => ConfigProvider.fromMap(new Map(Object.entries(defaults))))
    )
  )

/**
 * The consumer's own defaults. Two Postgres connections rather than the general 10: a lead's ~9 statements come from
 * WORKER_CONCURRENCY jobs at once, and on two busy connections postgres.js pipelines them (several statements per
 * socket write and read, no idle server process to wake for each), which cost a fifth to a third less CPU per lead
 * than a connection per job (README "Performance"). DATABASE_POOL_SIZE still overrides it.
 */
export const consumerDefaults: Readonly<Record<string, string>> = { DATABASE_POOL_SIZE: "2" }
