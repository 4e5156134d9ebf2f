import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Effect from "effect/Effect"
import type * as Redacted from "effect/Redacted"

/**
 * Captures the ConfigProvider in force now (e.g. the refreshing Secrets Manager provider, when a layer is built under
 * it) and returns an Effect that reads `config` through it on every run: a rotated value is seen without a restart.
 */
export const liveConfig = <A>(config: Config.Config<A>): Effect.Effect<Effect.Effect<A, ConfigError.ConfigError>> =>
  Effect.configProviderWith((provider) => Effect.succeed(provider.load(config)))

/** `liveConfig(Config.redacted(name))`: the current value of a secret, still Redacted, read on each run. */
export const liveRedacted = (
  name: string
): Effect.Effect<Effect.Effect<Redacted.Redacted<string>, ConfigError.ConfigError>> => liveConfig(Config.redacted(name))
