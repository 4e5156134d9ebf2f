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
  /**
   * How often an idle connection is asked for a PING (default 1000 ms): a connection that stops answering while
   * its socket stays open (a failover, a partition without reset, a hung proxy) is noticed in seconds, not when TCP
   * gives up (~15 minutes) or never. One round trip per interval per connection, none per lead.
   */
  readonly healthCheckIntervalMs?: number | undefined
  /** Consecutive command timeouts (PINGs or callers') after which the connection is dropped and made anew (default 2). */
  readonly timeoutsBeforeReconnect?: number | undefined
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
    /**
     * Tell the connection's supervisor how a call made on `client` without `use` ended (the BullMQ queue's calls):
     * a timeout counts towards replacing the connection, an answer clears the count. Optional for callers.
     */
    readonly observe?: ((outcome: "answered" | "timedOut") => void) | undefined
    /** True while the connection is not ready, or its latest command timed out with no answer since. */
    readonly unresponsive?: (() => boolean) | undefined
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

/**
 * Connections currently down, per Redis endpoint (host:port), across every client of this process. `settling`: the
 * last of them is back and "reachable again" waits SETTLE_MS, so a connection found frozen a moment after another
 * (each finds out by its own timeouts) continues the outage instead of starting a new one.
 */
const downByEndpoint = new Map<
  string,
  { readonly since: number; readonly connections: Set<Redis>; settling?: ReturnType<typeof setTimeout> | undefined }
>()

/** How long the end of an outage waits before it is announced. */
const SETTLE_MS = 3000

const endpointOf = (client: Redis) => `${client.options.host ?? "localhost"}:${client.options.port ?? 6379}`

/** Count `client` down; true when it is the first of its endpoint's connections to be (the outage starts). */
const markDown = (client: Redis): boolean => {
  const endpoint = endpointOf(client)
  const down = downByEndpoint.get(endpoint) ?? { since: Date.now(), connections: new Set<Redis>() }
  const first = down.connections.size === 0 && down.settling === undefined
  if (down.settling !== undefined) {
    clearTimeout(down.settling)
    down.settling = undefined
  }
  down.connections.add(client)
  downByEndpoint.set(endpoint, down)
  return first
}

/**
 * Reports a Redis endpoint's reachability once per change: "Redis unreachable" when the first of this process'
 * connections to it fails, "Redis reachable again" when the last of them is back (and no other fails within
 * SETTLE_MS), whatever the number of connections (our client, BullMQ's queue and worker) and of reconnect attempts.
 * Only host:port is logged.
 */
export const watchConnection = (client: Redis, report: (effect: Effect.Effect<void>) => void): void => {
  const endpoint = endpointOf(client)
  client.on("error", (error) => {
    if (!isConnectionError(error)) return
    if (markDown(client)) {
      report(
        Effect.logWarning("Redis unreachable").pipe(Effect.annotateLogs({ redis: endpoint, error: safeMessage(error) }))
      )
    }
  })
  const forget = (announce: boolean) => () => {
    const down = downByEndpoint.get(endpoint)
    if (down === undefined || !down.connections.delete(client) || down.connections.size > 0) return
    if (!announce) {
      if (down.settling === undefined) downByEndpoint.delete(endpoint)
      return
    }
    if (down.settling !== undefined) clearTimeout(down.settling)
    down.settling = setTimeout(() => {
      if (downByEndpoint.get(endpoint) !== down || down.connections.size > 0) return
      downByEndpoint.delete(endpoint)
      report(
        Effect.logInfo("Redis reachable again").pipe(
          Effect.annotateLogs({ redis: endpoint, downForMs: Date.now() - down.since })
        )
      )
    }, SETTLE_MS)
    down.settling.unref?.()
  }
  client.on("ready", forget(true))
  // a connection closed for good (shutdown) no longer counts, and says nothing
  client.on("end", forget(false))
}

/** What `superviseConnection` gives its owner. */
export interface Supervision {
  /** A command on the connection ended: answered, or timed out (counted towards replacing the connection). */
  readonly observe: (outcome: "answered" | "timedOut") => void
  /** Not ready, or its latest command timed out with no answer since. */
  readonly unresponsive: () => boolean
  readonly stop: () => void
}

const TIMED_OUT = /timed out/i

/** True for the failure of a command that got no answer in time (ioredis' commandTimeout, our own deadlines). */
export const isTimeout = (error: unknown): boolean =>
  TIMED_OUT.test(error instanceof Error ? error.message : String(error))

/**
 * Replaces a connection that stopped answering while its socket stays open. ioredis' commandTimeout fails each
 * command, but the connection is kept: after a failover, a partition without a reset or a hung proxy every later
 * command waits out its timeout too, until TCP gives up (~15 minutes, or never). Here a PING every `intervalMs` (when
 * the connection is ready and none is in flight) and the owner's own calls (`observe`) count consecutive timeouts;
 * after `timeoutsBeforeReconnect` the socket is destroyed, and ioredis connects anew (its retryStrategy) — BullMQ's
 * calls on it included. A connection stuck before ready (its ready check unanswered on a connection without a
 * command timeout) is replaced the same way. The outage is logged once per endpoint, "Redis unreachable (commands
 * time out)", and its end by the connection watcher ("Redis reachable again") when the new connection is ready.
 * Timers are unref'd: they never keep a process alive.
 */
export const superviseConnection = (
  client: Redis,
  options: { readonly timeoutMs: number; readonly intervalMs: number; readonly timeoutsBeforeReconnect: number },
  report: (effect: Effect.Effect<void>) => void
): Supervision => {
  let timeouts = 0
  let stale = false
  let pinging = false
  let notReadySince: number | undefined
  let stopped = false
  const replace = (why: string) => {
    timeouts = 0
    if (markDown(client)) {
      report(
        Effect.logWarning("Redis unreachable (commands time out)").pipe(
          Effect.annotateLogs({ redis: endpointOf(client), error: why })
        )
      )
    }
    // destroy, not end: a FIN to a peer that is gone waits for TCP; 'close' now makes ioredis reconnect
    const stream = (client as { stream?: { destroy?: () => void } }).stream
    if (stream?.destroy !== undefined) stream.destroy()
    else client.disconnect(true)
  }
  const observe = (outcome: "answered" | "timedOut") => {
    if (stopped) return
    if (outcome === "answered") {
      timeouts = 0
      stale = false
      return
    }
    stale = true
    if (++timeouts >= options.timeoutsBeforeReconnect && client.status === "ready") {
      replace(`${options.timeoutsBeforeReconnect} commands in a row got no answer within ${options.timeoutMs} ms`)
    }
  }
  const ping = () => {
    pinging = true
    let timer: ReturnType<typeof setTimeout> | undefined
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error("PING timed out")), options.timeoutMs)
      timer.unref?.()
    })
    Promise.race([client.ping(), deadline])
      .then(
        () => observe("answered"),
        (error) => {
          if (isTimeout(error)) observe("timedOut")
        }
      )
      .finally(() => {
        clearTimeout(timer)
        pinging = false
      })
  }
  const tick = () => {
    if (stopped) return
    const status = client.status
    if (status === "ready") {
      notReadySince = undefined
      if (!pinging) ping()
    } else if (status === "connect") {
      // the socket is up but the ready check has no answer: without a command timeout it would wait for ever
      notReadySince ??= Date.now()
      if (Date.now() - notReadySince > options.timeoutMs * options.timeoutsBeforeReconnect) {
        notReadySince = undefined
        replace(`no answer to the ready check within ${options.timeoutMs * options.timeoutsBeforeReconnect} ms`)
      }
    } else notReadySince = undefined
  }
  const interval = setInterval(tick, options.intervalMs)
  interval.unref?.()
  client.on("ready", () => {
    timeouts = 0
    stale = false
  })
  return {
    observe,
    unresponsive: () => stale || client.status !== "ready",
    stop: () => {
      stopped = true
      clearInterval(interval)
    }
  }
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
            // TCP keepalive probes after 10 s idle: a peer gone without a reset is found by the kernel too
            keepAlive: 10_000,
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
    const supervision = yield* Effect.acquireRelease(
      Effect.sync(() =>
        superviseConnection(
          client,
          {
            timeoutMs: commandTimeoutMs,
            intervalMs: options.healthCheckIntervalMs ?? 1000,
            timeoutsBeforeReconnect: Math.max(1, options.timeoutsBeforeReconnect ?? 2)
          },
          (report) => {
            runFork(report)
          }
        )
      ),
      (supervision) => Effect.sync(supervision.stop)
    )
    // Give a healthy Redis a moment to become ready so the first commands don't fail spuriously.
    yield* Effect.async<void>((resume) => {
      if (client.status === "ready") return resume(Effect.void)
      const onReady = () => resume(Effect.void)
      client.once("ready", onReady)
      return Effect.sync(() => client.off("ready", onReady))
    }).pipe(Effect.timeoutOption(Duration.millis(READY_WAIT_MS)))
    const use = <A>(f: (client: Redis) => Promise<A>): Effect.Effect<A, RedisUnavailable> =>
      Effect.tryPromise({
        try: () =>
          f(client).then(
            (value) => {
              supervision.observe("answered")
              return value
            },
            (error: unknown) => {
              if (isTimeout(error)) supervision.observe("timedOut")
              throw error
            }
          ),
        catch: (cause) => new RedisUnavailable({ message: safeMessage(cause) })
      })
    return RedisClient.of({
      client,
      prefix,
      key: (...parts) => [prefix, ...parts].join(":"),
      use,
      observe: supervision.observe,
      unresponsive: supervision.unresponsive
    })
  })

/** The client from explicit options (tests pass a random prefix). */
export const layer = (options: RedisClientOptions): Layer.Layer<RedisClient, RedisUnavailable> =>
  Layer.scoped(RedisClient, make(options))

/** The client from REDIS_URL (Redacted) and REDIS_KEY_PREFIX (default "rf"). */
export const layerConfig: Layer.Layer<RedisClient, RedisUnavailable | ConfigError.ConfigError> = Layer.scoped(
  RedisClient,
  Effect.flatMap(checkedOr(redisClientConfig), make)
)
