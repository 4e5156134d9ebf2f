import type { SecretsManagerClient } from "@aws-sdk/client-secrets-manager"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import type * as ConfigProvider from "effect/ConfigProvider"
import * as Clock from "effect/Clock"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Ref from "effect/Ref"
import type * as Scope from "effect/Scope"
import { SecretsRefresh } from "../../services/SecretsRefresh.js"
import { missingPackageOf } from "../shared/optionalPackage.js"
import { positiveInt } from "../shared/config.js"
import { refreshingProvider, type SecretValues } from "./secretsProvider.js"

export { liveConfig, liveRedacted } from "../shared/liveConfig.js"

/** A secret could not be read or is not a JSON object of ENV_NAME -> value. Names the secret id, never its content. */
export class SecretsLoadError extends Data.TaggedError("SecretsLoadError")<{ readonly message: string }> {}

/** Settings of the Secrets Manager overlay (read from the base provider, i.e. the environment). */
export const config = Config.all({
  secretIds: Config.array(Config.string(), "AWS_SECRETS_IDS").pipe(
    Config.map((ids) => ids.map((id) => id.trim()).filter((id) => id !== "")),
    Config.withDefault([] as ReadonlyArray<string>)
  ),
  refreshMs: positiveInt("AWS_SECRETS_REFRESH_MS", 300_000)
})

/** Only these JSON types are config values; anything else in a secret is refused by key name. */
const asConfigValue = (value: unknown): string | undefined =>
  typeof value === "string"
    ? value
    : typeof value === "number" || typeof value === "boolean"
      ? String(value)
      : undefined

/**
 * The secret RDS generates and its rotation function rewrites is not ENV_NAME -> value but
 * `{ engine, host, port, username, password, dbname }`. Such a secret (engine postgres) also yields DATABASE_URL
 * built from its fields, TLS required (RDS for PostgreSQL enforces it), so a rotated password reaches the programs
 * through the usual refresh. An explicit DATABASE_URL key in the secret wins.
 */
export const rdsDatabaseUrl = (json: Readonly<Record<string, unknown>>): string | undefined => {
  const { engine, host, port, username, password, dbname } = json
  if (typeof engine !== "string" || !engine.startsWith("postgres")) return undefined
  if (typeof host !== "string" || typeof username !== "string" || typeof password !== "string") return undefined
  const database = typeof dbname === "string" && dbname !== "" ? dbname : "postgres"
  const portPart = typeof port === "number" || typeof port === "string" ? `:${port}` : ""
  return `postgres://${encodeURIComponent(username)}:${encodeURIComponent(password)}@${host}${portPart}/${encodeURIComponent(database)}?sslmode=require`
}

const readSecret = (client: SecretsManagerClient, secretId: string) =>
  Effect.tryPromise({
    try: async (signal) => {
      const { GetSecretValueCommand } = await import("@aws-sdk/client-secrets-manager")
      return client.send(new GetSecretValueCommand({ SecretId: secretId }), { abortSignal: signal })
    },
    catch: (cause) => {
      const error = cause as {
        name?: string
        code?: unknown
        message?: unknown
        $metadata?: { httpStatusCode?: number }
      }
      const status = error.$metadata?.httpStatusCode
      // what failed, never what the secret holds (none of it was read): the SDK's or the network's own words
      // ("Region is missing", "connect ECONNREFUSED 10.0.0.1:443", an AccessDenied naming the role), one line, cut
      const said = typeof error.message === "string" ? error.message.replace(/\s+/g, " ").trim().slice(0, 300) : ""
      const code = typeof error.code === "string" && !said.includes(error.code) ? ` ${error.code}` : ""
      return new SecretsLoadError({
        message: `secret "${secretId}" could not be read (${error.name ?? "Error"}${status ? `, HTTP ${status}` : ""}${code})${said === "" ? "" : `: ${said}`}`
      })
    }
  }).pipe(
    Effect.flatMap((reply) =>
      Effect.try({
        // JSON.parse errors quote the input, so only our own message may leave this function.
        try: () => JSON.parse(reply.SecretString ?? "") as unknown,
        catch: () => new SecretsLoadError({ message: `secret "${secretId}" is not a JSON object (SecretString)` })
      })
    ),
    Effect.flatMap((json) => {
      if (json === null || typeof json !== "object" || Array.isArray(json)) {
        return new SecretsLoadError({ message: `secret "${secretId}" is not a JSON object` })
      }
      const databaseUrl = "DATABASE_URL" in json ? undefined : rdsDatabaseUrl(json as Record<string, unknown>)
      const entries = [
        ...Object.entries(json).map(([key, value]) => [key, asConfigValue(value)] as const),
        ...(databaseUrl === undefined ? [] : [["DATABASE_URL", databaseUrl] as const])
      ]
      const bad = entries.filter(([, value]) => value === undefined).map(([key]) => key)
      return bad.length > 0
        ? new SecretsLoadError({
            message: `secret "${secretId}": keys ${bad.join(", ")} must be strings, numbers or booleans`
          })
        : Effect.succeed(entries as ReadonlyArray<readonly [string, string]>)
    })
  )

/** Every secret, merged in order (a later id wins over an earlier one for the same key). */
const readAll = (client: SecretsManagerClient, secretIds: ReadonlyArray<string>) =>
  Effect.validateAll(secretIds, (id) => readSecret(client, id), { concurrency: 4 }).pipe(
    Effect.map((lists): SecretValues => new Map(lists.flat())),
    // Name every unreadable secret at once, not just the first one met.
    Effect.mapError((errors) => new SecretsLoadError({ message: errors.map((e) => e.message).join("; ") })),
    Effect.withSpan("secrets.load", { captureStackTrace: false, attributes: { count: secretIds.length } })
  )

/** The shortest time between two reads asked for on demand (`SecretsRefresh.refresh`). */
export const ON_DEMAND_EVERY_MS = 5000

/**
 * Reads the secrets once (failing start-up if any cannot be read), then keeps them fresh every `refreshMs` and on
 * demand (at most every ON_DEMAND_EVERY_MS). Returns a ConfigProvider over `base` in which secret values win, and the refresh effect.
 */
export const make = (options: {
  readonly secretIds: ReadonlyArray<string>
  readonly refreshMs: number
  readonly base: ConfigProvider.ConfigProvider
}): Effect.Effect<
  { readonly provider: ConfigProvider.ConfigProvider; readonly refresh: Effect.Effect<void> },
  SecretsLoadError,
  Scope.Scope
> =>
  Effect.gen(function* () {
    const client = yield* Effect.acquireRelease(
      // loaded only when secrets are configured: the SDK is not worth its start-up time otherwise
      Effect.tryPromise({
        try: () => import("@aws-sdk/client-secrets-manager").then((sdk) => new sdk.SecretsManagerClient({})),
        catch: (error) => error
      }).pipe(
        Effect.catchAll((error) =>
          missingPackageOf(error) === "@aws-sdk/client-secrets-manager"
            ? new SecretsLoadError({
                message:
                  "AWS_SECRETS_IDS needs the package @aws-sdk/client-secrets-manager, which is not installed " +
                  "(npm install @aws-sdk/client-secrets-manager)"
              })
            : Effect.die(error)
        )
      ),
      (c) => Effect.sync(() => c.destroy())
    )
    const snapshot = yield* Ref.make(yield* readAll(client, options.secretIds))
    const lock = yield* Effect.makeSemaphore(1)
    const read = readAll(client, options.secretIds).pipe(
      Effect.flatMap((values) => Ref.set(snapshot, values)),
      Effect.tap(() => Effect.logDebug("secrets refreshed")),
      // A failed refresh keeps serving the last good values; the message names secret ids only.
      Effect.catchAll((error) => Effect.logWarning(`secrets refresh failed: ${error.message}`))
    )
    yield* read.pipe(
      lock.withPermits(1),
      Effect.delay(Duration.millis(options.refreshMs)),
      Effect.forever,
      Effect.forkScoped
    )
    // On demand (a credential a CRM or Postgres refused): at most one read every ON_DEMAND_EVERY_MS, so a storm of
    // refusals (every call of a busy consumer answered 401) is one Secrets Manager call, and callers that wait while a
    // read is under way take its values instead of reading again.
    let onDemandAt = Number.NEGATIVE_INFINITY
    const refresh = Effect.flatMap(Clock.currentTimeMillis, (now) => {
      if (now - onDemandAt < ON_DEMAND_EVERY_MS) return Effect.void
      onDemandAt = now
      return read
    }).pipe(lock.withPermits(1))
    return { provider: refreshingProvider(snapshot, options.base), refresh }
  })

/** A SecretsRefresh that does nothing: configuration comes from the environment only. */
export const layerNone: Layer.Layer<SecretsRefresh> = Layer.succeed(SecretsRefresh, { refresh: Effect.void })

/**
 * Secrets Manager over the environment (AWS_SECRETS_IDS; no ids = environment only). Sets the ConfigProvider for
 * everything built or run after it, so `appConfig` and each layer's Config read secrets transparently; provide it
 * outermost (Layer.provide / Effect.provide). Long-lived readers use liveConfig / liveRedacted to see rotations.
 */
export const layer: Layer.Layer<SecretsRefresh, SecretsLoadError | ConfigError.ConfigError> = Layer.unwrapScoped(
  Effect.gen(function* () {
    const settings = yield* config
    if (settings.secretIds.length === 0) return layerNone
    const base = yield* Effect.configProviderWith(Effect.succeed)
    const { provider, refresh } = yield* make({ ...settings, base })
    return Layer.merge(Layer.succeed(SecretsRefresh, { refresh }), Layer.setConfigProvider(provider))
  })
)
