import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Runtime from "effect/Runtime"
import { Redis } from "ioredis"
import { describeThrown } from "./jobOutcome.js"
import { RedisUnavailable } from "./RedisUnavailable.js"
import { checkedOr, redisClientConfig } from "./config.js"

// in a file of its own, without ioredis, so the presets' types name it without loading the client's types
export { RedisUnavailable } from "./RedisUnavailable.js"

export interface RedisClientOptions {
  readonly url: Redacted.Redacted<string>
  /** Prepended to every key ("<prefix>:..."); tests use a random one per run. */
  readonly prefix?: string | undefined
  /** A command that gets no answer fails after this long (default 2000 ms). */
  readonly commandTimeoutMs?: number | undefined
}

export declare namespace RedisClient {
  export interface Service {
    /** The shared connection: no offline queue, so a down Redis fails commands at once instead of queueing them. */
    readonly client: Redis
    readonly prefix: string
    /** `<prefix>:<parts joined by ":">`. */
    readonly key: (...parts: ReadonlyArray<string>) => string
    /** Run one client call, mapping any failure to RedisUnavailable. */
    readonly use: <A>(f: (client: Redis) => Promise<A>) => Effect.Effect<A, RedisUnavailable>
  }
}

/** A prefixed ioredis connection shared by the Redis-backed layers. */
export class RedisClient extends Context.Tag("revenueflow/Redis")<RedisClient, RedisClient.Service>() {}

/** How long start-up waits for a first connection before going on without one. */
const READY_WAIT_MS = 1000

// ioredis messages name host:port at most, but a URL with credentials must never reach a log or an error.
const urlPattern = /[a-z][a-z0-9+.-]*:\/\/\S+/gi

/** The message of a Redis failure with any URL replaced. */
export const safeMessage = (cause: unknown): string => describeThrown(cause).replace(urlPattern, "<redis-url>")

const CONNECTION_ERROR =
  /ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|ENOTFOUND|EAI_AGAIN|EPIPE|Connection is closed|Stream isn't writeable/

/** True for errors that only say the connection to Redis is down (the connection watcher reports those). */
export const isConnectionError = (error: unknown): boolean => {
  const code = typeof error === "object" && error !== null && "code" in error ? String(error.code) : ""
  return CONNECTION_ERROR.test(`${code} ${error instanceof Error ? error.message : String(error)}`)
}

/** Connections currently down, per Redis endpoint (host:port), across every client of this process. */
const downByEndpoint = new Map<string, { readonly since: number; readonly connections: Set<Redis> }>()

/**
 * Reports a Redis endpoint's reachability once per change: "Redis unreachable" when the first of this process'
 * connections to it fails, "Redis reachable again" when the last of them is back, whatever the number of
 * connections (our client, BullMQ's queue and worker) and of reconnect attempts. Only host:port is logged.
 */
export const watchConnection = (client: Redis, report: (effect: Effect.Effect<void>) => void): void => {
  const endpoint = `${client.options.host ?? "localhost"}:${client.options.port ?? 6379}`
  client.on("error", (error) => {
    if (!isConnectionError(error)) return
    const down = downByEndpoint.get(endpoint) ?? { since: Date.now(), connections: new Set<Redis>() }
    const first = down.connections.size === 0
    down.connections.add(client)
    downByEndpoint.set(endpoint, down)
    if (first) {
      report(
        Effect.logWarning("Redis unreachable").pipe(Effect.annotateLogs({ redis: endpoint, error: safeMessage(error) }))
      )
    }
  })
  const forget = (announce: boolean) => () => {
    const down = downByEndpoint.get(endpoint)
    if (down === undefined || !down.connections.delete(client) || down.connections.size > 0) return
    downByEndpoint.delete(endpoint)
    if (announce) {
      report(
        Effect.logInfo("Redis reachable again").pipe(
          Effect.annotateLogs({ redis: endpoint, downForMs: Date.now() - down.since })
        )
      )
    }
  }
  client.on("ready", forget(true))
  // a connection closed for good (shutdown) no longer counts, and says nothing
  client.on("end", forget(false))
}

/** Build the shared client; a Redis that is down at start is tolerated (commands fail fast until it is back). */
export const make = (options: RedisClientOptions) =>
  Effect.gen(function* () {
    const prefix = options.prefix ?? "rf"
    const commandTimeoutMs = options.commandTimeoutMs ?? 2000
    const client = yield* Effect.acquireRelease(
      Effect.try({
        try: () =>
          new Redis(Redacted.value(options.url), {
            // Fail a command as soon as the connection is down rather than holding it for a reconnect.
            enableOfflineQueue: false,
            maxRetriesPerRequest: 1,
            commandTimeout: commandTimeoutMs,
            connectTimeout: 5000,
            retryStrategy: (times) => Math.min(times * 200, 2000)
          }),
        catch: (cause) => new RedisUnavailable({ message: `invalid Redis configuration: ${safeMessage(cause)}` })
      }),
      (client) =>
        Effect.promise(() =>
          client.status === "ready"
            ? client.quit().catch(() => client.disconnect())
            : Promise.resolve(client.disconnect())
        )
    )
    // Without a listener ioredis prints every reconnect failure; callers see failures as RedisUnavailable, and the
    // watcher logs the outage once.
    client.on("error", () => {})
    const runFork = Runtime.runFork(yield* Effect.runtime<never>())
    watchConnection(client, (report) => {
      runFork(report)
    })
    // Give a healthy Redis a moment to become ready so the first commands don't fail spuriously.
    yield* Effect.async<void>((resume) => {
      if (client.status === "ready") return resume(Effect.void)
      const onReady = () => resume(Effect.void)
      client.once("ready", onReady)
      return Effect.sync(() => client.off("ready", onReady))
    }).pipe(Effect.timeoutOption(Duration.millis(READY_WAIT_MS)))
    const use = <A>(f: (client: Redis) => Promise<A>): Effect.Effect<A, RedisUnavailable> =>
      Effect.tryPromise({
        try: () => f(client),
        catch: (cause) => new RedisUnavailable({ message: safeMessage(cause) })
      })
    return RedisClient.of({ client, prefix, key: (...parts) => [prefix, ...parts].join(":"), use })
  })

/** The client from explicit options (tests pass a random prefix). */
export const layer = (options: RedisClientOptions): Layer.Layer<RedisClient, RedisUnavailable> =>
  Layer.scoped(RedisClient, make(options))

/** The client from REDIS_URL (Redacted) and REDIS_KEY_PREFIX (default "rf"). */
export const layerConfig: Layer.Layer<RedisClient, RedisUnavailable | ConfigError.ConfigError> = Layer.scoped(
  RedisClient,
  Effect.flatMap(checkedOr(redisClientConfig), make)
)
