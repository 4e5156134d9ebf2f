import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"

/**
 * The environment first, then `defaults` for what it leaves unset (a program's or the Lambda handlers' own). One
 * provider over both, taken when the layer is built, rather than the environment with a fallback provider behind
 * it: a fallback doubles the work of every setting read, and reading settings is a good part of start-up.
 */
export const withDefaults = (defaults: Readonly<Record<string, string>>): Layer.Layer<never> =>
  Object.keys(defaults).length === 0
    ? Layer.setConfigProvider(ConfigProvider.fromEnv())
    : Layer.unwrapEffect(
        Effect.sync(() => {
          const settings = new Map(Object.entries(defaults))
          for (const [name, value] of Object.entries(process.env)) if (value !== undefined) settings.set(name, value)
          // the environment's delimiters (ConfigProvider.fromEnv's): nested names joined by "_", lists split on ","
          return Layer.setConfigProvider(ConfigProvider.fromMap(settings, { pathDelim: "_", seqDelim: "," }))
        })
      )

/**
 * The consumer's own defaults. Two Postgres connections rather than the general 10: a lead's ~9 statements come from
 * WORKER_CONCURRENCY jobs at once, and on two busy connections postgres.js pipelines them (several statements per
 * socket write and read, no idle server process to wake for each), which cost a fifth to a third less CPU per lead
 * than a connection per job (docs/performance-log.md). DATABASE_POOL_SIZE still overrides it.
 */
export const consumerDefaults: Readonly<Record<string, string>> = { DATABASE_POOL_SIZE: "2" }
