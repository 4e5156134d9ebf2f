import * as Config from "effect/Config"
import * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import { redisUrlConfig, validatedSetting } from "../../services/AppConfig.js"

/** Start-up configuration is missing or invalid; the message lists every bad key, never a value. */
export class InvalidConfiguration extends Data.TaggedError("InvalidConfiguration")<{
  readonly message: string
  readonly keys: ReadonlyArray<string>
}> {}

/** Effect's own messages quote the offending value ("... but received x"): keep only the expectation. */
const withoutValue = (message: string): string => message.replace(/\s*but received[\s\S]*$/, "").trim()

type Problem = readonly [key: string, reason: string]

const problemsOf = (error: ConfigError.ConfigError): ReadonlyArray<Problem> =>
  ConfigError.reduceWithContext<undefined, ReadonlyArray<Problem>>(error, undefined, {
    andCase: (_, left, right) => [...left, ...right],
    orCase: (_, left, right) => [...left, ...right],
    invalidDataCase: (_, path, message) => [[path.join("_"), withoutValue(message) || "is invalid"]],
    missingDataCase: (_, path) => [[path.join("_"), "is missing"]],
    sourceUnavailableCase: (_, path, message) => [[path.join("_"), `could not be read: ${withoutValue(message)}`]],
    unsupportedCase: (_, path, message) => [[path.join("_"), withoutValue(message)]]
  })

/**
 * Formats a ConfigError as "Invalid configuration:\n - KEY: reason" lines, one per key (reasons of the same key
 * joined), in the order met. No value ever appears: only names and expectations.
 */
export const formatConfigError = (error: ConfigError.ConfigError): InvalidConfiguration => {
  const byKey = new Map<string, Array<string>>()
  for (const [key, reason] of problemsOf(error)) {
    const name = key === "" ? "(root)" : key
    const reasons = byKey.get(name) ?? []
    if (!reasons.includes(reason)) reasons.push(reason)
    byKey.set(name, reasons)
  }
  const lines = [...byKey].map(([key, reasons]) => ` - ${key}: ${reasons.join("; ")}`)
  return new InvalidConfiguration({ message: ["Invalid configuration:", ...lines].join("\n"), keys: [...byKey.keys()] })
}

/** Loads a Config (e.g. appConfig) or fails with one InvalidConfiguration naming every missing or invalid key. */
export const loadConfig = <A>(config: Config.Config<A>): Effect.Effect<A, InvalidConfiguration> =>
  Effect.mapError(config, formatConfigError)

/**
 * `name` read with `config` (unnamed, e.g. Config.integer()) and checked by `validation`, its message given for a
 * value `config` cannot read too ("abc" for an integer): see `validatedSetting` (services/AppConfig.ts).
 */
export const validated = <A>(
  name: string,
  config: Config.Config<A>,
  check: { readonly message: string; readonly validation: (a: A) => boolean }
): Config.Config<A> => validatedSetting(name, config, check)

/**
 * A credential (token, secret, key) that may not be blank when set: an empty value (a variable interpolated unset, an
 * empty field of a secret) would start the program and fail every call with 401 later.
 */
export const credential = (name: string): Config.Config<Redacted.Redacted<string>> =>
  validated(name, Config.redacted(), {
    message: `must not be blank (it is a credential: leave ${name} unset if it is not used)`,
    validation: (value) => Redacted.value(value).trim() !== ""
  })

/** A positive integer setting with a default. */
export const positiveInt = (name: string, fallback: number): Config.Config<number> =>
  validated(name, Config.integer(), { message: "must be a positive integer", validation: (n) => n > 0 }).pipe(
    Config.withDefault(fallback)
  )

/** REDIS_URL, REDIS_KEY_PREFIX (default "rf") and REDIS_COMMAND_TIMEOUT_MS (default 2000): the Redis client's. */
export const redisClientConfig = Config.all({
  url: redisUrlConfig,
  prefix: Config.string("REDIS_KEY_PREFIX").pipe(Config.withDefault("rf")),
  commandTimeoutMs: positiveInt("REDIS_COMMAND_TIMEOUT_MS", 2000)
})

/**
 * The sections of settings start-up's check read, by their Config (see `runProgram`): a layer built at start takes its
 * section from here (`checkedOr`) instead of reading it again. Each value is taken once, so a layer built later (the
 * ingest's /mcp services on their first request) reads its settings afresh. Unset: nothing was recorded.
 */
export class CheckedSections extends Context.Reference<CheckedSections>()("revenueflow/CheckedSections", {
  defaultValue: (): Map<Config.Config<unknown>, unknown> | undefined => undefined
}) {}

/** `config`'s value as start-up's check read it (once), else `config` read now. */
export const checkedOr = <A>(config: Config.Config<A>): Effect.Effect<A, ConfigError.ConfigError> =>
  Effect.flatMap(CheckedSections, (sections) => {
    if (sections === undefined || !sections.has(config)) return config
    const value = sections.get(config) as A
    sections.delete(config)
    return Effect.succeed(value)
  })
