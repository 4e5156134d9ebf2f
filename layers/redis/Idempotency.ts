import * as Effect from "effect/Effect"
import type * as ConfigError from "effect/ConfigError"
import * as Layer from "effect/Layer"
import * as Runtime from "effect/Runtime"
import { randomBytes } from "node:crypto"
import type { Redis } from "ioredis"
import { type Claim, type ClaimOptions, Idempotency, IdempotencyUnavailable } from "../../services/Idempotency.js"
import { RedisClient, layerConfig as redisLayerConfig } from "../shared/RedisClient.js"
import type { RedisUnavailable } from "../shared/RedisUnavailable.js"

/**
 * A claimed key holds `inprogress:<token>` until its result is stored (results are JSON, so never start so; a bare
 * "inprogress" is a claim of an older version). The token names the one begin call that set it, so that call's
 * claims can be told from every other's: see `releaseLater`.
 */
const IN_PROGRESS = "inprogress"
const processToken = randomBytes(6).toString("hex")
let calls = 0
const newMarker = () => `${IN_PROGRESS}:${processToken}.${(++calls).toString(36)}`
const isClaim = (value: string) => value === IN_PROGRESS || value.startsWith(`${IN_PROGRESS}:`)

// Claim and read in one step: nil when this caller set the key, else the value already there.
const beginLua = `
if redis.call("SET", KEYS[1], ARGV[1], "NX", "PX", ARGV[2]) then
  return nil
end
return redis.call("GET", KEYS[1])
`

// beginLua over every key: 0 where this caller set the key, else the value already there.
const beginEachLua = `
local out = {}
for i = 1, #KEYS do
  if redis.call("SET", KEYS[i], ARGV[1], "NX", "PX", ARGV[2]) then
    out[i] = 0
  else
    out[i] = redis.call("GET", KEYS[i])
  end
end
return out
`

// Drop each key while it still holds exactly the claim ARGV[i] (compare-and-delete of one begin call's marker), never
// a stored result or another call's claim. How many it dropped.
const releaseLua = `
local n = 0
for i = 1, #KEYS do
  if redis.call("GET", KEYS[i]) == ARGV[i] then
    redis.call("DEL", KEYS[i])
    n = n + 1
  end
end
return n
`

// Extend each key by its TTL (ARGV[n + i]) while it still holds exactly the claim ARGV[i]: 1 where it did, else 0.
const renewLua = `
local out = {}
local n = #KEYS
for i = 1, n do
  if redis.call("GET", KEYS[i]) == ARGV[i] then
    redis.call("PEXPIRE", KEYS[i], ARGV[n + i])
    out[i] = 1
  else
    out[i] = 0
  end
end
return out
`

interface RedisWithIdempotency extends Redis {
  rfIdemBegin(key: string, marker: string, ttlMs: number): Promise<string | null>
  rfIdemBeginEach(numberOfKeys: number, ...keysAndArgs: ReadonlyArray<string | number>): Promise<Array<string | 0>>
  rfIdemReleaseClaims(numberOfKeys: number, ...keysAndMarkers: ReadonlyArray<string>): Promise<number>
  rfIdemRenewClaims(numberOfKeys: number, ...keysMarkersAndTtls: ReadonlyArray<string | number>): Promise<Array<number>>
}

const claimOf = (existing: string | 0): Claim => {
  if (existing === 0) return { _tag: "Acquired" }
  if (isClaim(existing)) return { _tag: "InProgress" }
  return { _tag: "Completed", result: JSON.parse(existing) }
}

const unavailable = (e: RedisUnavailable) => new IdempotencyUnavailable({ message: e.message })

/**
 * Idempotency keys in Redis: SET NX PX claims marked with their begin call's token, JSON results, compare-and-delete
 * release; the claims of a begin that got no answer are dropped once Redis answers (`releaseLater`).
 */
export const make = Effect.gen(function* () {
  const redis = yield* RedisClient
  const client = redis.client as RedisWithIdempotency
  // the commands are defined on the client once (the name is versioned with the scripts' behaviour)
  if (typeof client.rfIdemRenewClaims !== "function") {
    client.defineCommand("rfIdemBegin", { lua: beginLua, numberOfKeys: 1 })
    client.defineCommand("rfIdemBeginEach", { lua: beginEachLua })
    client.defineCommand("rfIdemReleaseClaims", { lua: releaseLua })
    client.defineCommand("rfIdemRenewClaims", { lua: renewLua })
  }
  const keyOf = (key: string) => redis.key("idem", key)
  const runFork = Runtime.runFork(yield* Effect.runtime<never>())

  /**
   * Claims this process set and has not completed or released, by Redis key: the marker of the begin call that set
   * each (its expiry bounds how long it is kept). A release drops exactly that claim (compare-and-delete), never one
   * another caller set since, and a release Redis could not take is tried again until it can (`releaseLater`).
   */
  interface Owned {
    readonly marker: string
    readonly ttlMs: number
    /** Held while its holder works: extended by `ttlMs` each time a third of it has passed (`renewDue`). */
    readonly renew: boolean
    /** The caller that took it (ClaimOptions.owner), when it named itself. */
    readonly owner: object | undefined
    expiresAt: number
  }
  const owned = new Map<string, Owned>()
  let ownedWrites = 0
  /** `sentAt`: when the claim was asked for, so its expiry here is never later than Redis's. */
  const own = (redisKey: string, marker: string, ttlMs: number, options: ClaimOptions | undefined, sentAt: number) => {
    if (++ownedWrites % 1000 === 0) {
      const now = Date.now()
      for (const [k, v] of owned) if (v.expiresAt <= now) owned.delete(k)
    }
    const renew = options?.renew === true
    const entry: Owned = { marker, ttlMs, renew, owner: options?.owner, expiresAt: sentAt + ttlMs }
    owned.set(redisKey, entry)
    if (renew) renewBy(renewAt(entry))
  }
  /** This process' claim on `redisKey`, the caller's own when it names itself (`options.owner`). */
  const ownedBy = (redisKey: string, options: ClaimOptions | undefined) => {
    const entry = owned.get(redisKey)
    return entry !== undefined && (options?.owner === undefined || entry.owner === options.owner) ? entry : undefined
  }

  /**
   * Claims held while their holder works (`renew`) are extended, by compare-and-expire on their marker, once a third of
   * their TTL has passed: by one unref'd timer for the process, armed for the earliest such moment (a run that ends
   * sooner, as nearly every one does, costs nothing but the comparison in `renewBy`). A claim found no longer this
   * process' (expired while Redis was out of reach, then taken) is dropped from `owned` and logged: its holder may no
   * longer count on it. Redis not answering: tried again within a second, while the claims last.
   */
  const renewAt = (entry: Owned) => entry.expiresAt - (entry.ttlMs * 2) / 3
  let renewTimer: ReturnType<typeof setTimeout> | undefined
  let renewTimerAt = Number.POSITIVE_INFINITY
  const renewBy = (at: number) => {
    if (at >= renewTimerAt) return
    if (renewTimer !== undefined) clearTimeout(renewTimer)
    renewTimerAt = at
    renewTimer = setTimeout(renewDue, Math.max(0, at - Date.now()))
    renewTimer.unref?.()
  }
  const renewDue = () => {
    renewTimer = undefined
    renewTimerAt = Number.POSITIVE_INFINITY
    const now = Date.now()
    const due: Array<readonly [string, Owned]> = []
    let next = Number.POSITIVE_INFINITY
    for (const [key, entry] of owned) {
      if (!entry.renew || entry.expiresAt <= now) continue
      const at = renewAt(entry)
      // a renewal this close is made now (a tenth of the TTL at most: small TTLs do not renew back to back)
      if (at <= now + Math.min(50, entry.ttlMs / 10)) due.push([key, entry])
      else next = Math.min(next, at)
    }
    if (due.length === 0) {
      if (next !== Number.POSITIVE_INFINITY) renewBy(next)
      return
    }
    client
      .rfIdemRenewClaims(
        due.length,
        ...due.map(([key]) => key),
        ...due.map(([, entry]) => entry.marker),
        ...due.map(([, entry]) => entry.ttlMs)
      )
      .then(
        (held) => {
          let lost = 0
          due.forEach(([key, entry], i) => {
            // completed or released meanwhile: nothing to keep
            if (owned.get(key) !== entry) return
            if (held[i] === 1) entry.expiresAt = now + entry.ttlMs
            else {
              owned.delete(key)
              lost++
            }
          })
          if (lost > 0) {
            runFork(
              Effect.logWarning("idempotency claims held by running actions were lost (expired, or taken since)").pipe(
                Effect.annotateLogs({ claims: lost })
              )
            )
          }
          renewDue()
        },
        () => {
          for (const [, entry] of due) if (entry.expiresAt > now) renewBy(Math.min(now + 1000, entry.expiresAt))
        }
      )
  }

  /**
   * Drop claims by compare-and-delete on their begin call's marker, as soon as Redis answers: at once (on the same
   * connection, so after the begin if that is still queued there), then with backoff until their TTL would have
   * freed them anyway. For a begin whose answer did not arrive (timed out, connection lost): Redis may still have
   * run it — after a stall it runs what the connection had sent — and its caller, having taken it as failed and sent
   * nothing under it, could not tell those claims from another worker's: they would hold the keys "in progress
   * elsewhere" for the whole in-progress TTL (2 minutes by default), its own retry included. And for a release that
   * failed the same way. No other caller's claim holds these markers. Plain unref'd timers: nothing per lead, nothing
   * keeping a process alive.
   */
  const releaseLater = (keys: ReadonlyArray<string>, markers: ReadonlyArray<string>, ttlMs: number) => {
    const until = Date.now() + ttlMs
    let wait = 100
    const attempt = () => {
      client.rfIdemReleaseClaims(keys.length, ...keys, ...markers).then(
        (dropped) => {
          if (dropped > 0) {
            runFork(
              Effect.logInfo("released idempotency claims left by a call Redis answered too late").pipe(
                Effect.annotateLogs({ claims: dropped })
              )
            )
          }
        },
        () => {
          if (Date.now() + wait >= until) return
          const timer = setTimeout(attempt, wait)
          timer.unref?.()
          wait = Math.min(wait * 2, 5000)
        }
      )
    }
    attempt()
  }

  const begin = (
    key: string,
    inProgressTtlMs: number,
    options?: ClaimOptions
  ): Effect.Effect<Claim, IdempotencyUnavailable> =>
    Effect.suspend(() => {
      const marker = newMarker()
      const ttl = Math.max(1, inProgressTtlMs)
      const sentAt = Date.now()
      return redis
        .use((c) => (c as RedisWithIdempotency).rfIdemBegin(keyOf(key), marker, ttl))
        .pipe(
          Effect.onError(() => Effect.sync(() => releaseLater([keyOf(key)], [marker], ttl))),
          Effect.mapError(unavailable),
          Effect.map((existing) => {
            if (existing === null) own(keyOf(key), marker, ttl, options, sentAt)
            return claimOf(existing ?? 0)
          })
        )
    })

  const beginEach = (
    keys: ReadonlyArray<string>,
    inProgressTtlMs: number,
    options?: ClaimOptions
  ): Effect.Effect<ReadonlyArray<Claim>, IdempotencyUnavailable> =>
    keys.length === 0
      ? Effect.succeed([])
      : Effect.suspend(() => {
          const marker = newMarker()
          const ttl = Math.max(1, inProgressTtlMs)
          const redisKeys = keys.map(keyOf)
          const sentAt = Date.now()
          return redis
            .use((c) => (c as RedisWithIdempotency).rfIdemBeginEach(keys.length, ...redisKeys, marker, ttl))
            .pipe(
              Effect.onError(() =>
                Effect.sync(() =>
                  releaseLater(
                    redisKeys,
                    redisKeys.map(() => marker),
                    ttl
                  )
                )
              ),
              Effect.mapError(unavailable),
              Effect.map((values) =>
                values.map((value, i) => {
                  if (value === 0) own(redisKeys[i]!, marker, ttl, options, sentAt)
                  return claimOf(value)
                })
              )
            )
        })

  const complete = (key: string, result: unknown, ttlMs: number): Effect.Effect<void, IdempotencyUnavailable> =>
    Effect.flatMap(
      // A result that cannot be JSON is a programming error, not an outage.
      Effect.sync(() => {
        owned.delete(keyOf(key))
        return JSON.stringify(result ?? null) ?? "null"
      }),
      (json) => redis.use((c) => c.set(keyOf(key), json, "PX", Math.max(1, ttlMs)))
    ).pipe(Effect.mapError(unavailable), Effect.asVoid)

  const releaseEach = (
    keys: ReadonlyArray<string>,
    options?: ClaimOptions
  ): Effect.Effect<void, IdempotencyUnavailable> =>
    keys.length === 0
      ? Effect.void
      : Effect.suspend(() => {
          const now = Date.now()
          // this process' claims exactly (their markers). A key it holds no claim on is left alone: a claim of its
          // that expired (dropped from `owned`) may have been taken since, and the key is then another worker's
          const redisKeys = keys.map(keyOf).filter((k) => ownedBy(k, options) !== undefined)
          if (redisKeys.length === 0) return Effect.void
          const claims = redisKeys.map((k) => owned.get(k)!)
          const markers = claims.map((claim) => claim.marker)
          for (const k of redisKeys) owned.delete(k)
          return redis
            .use((c) => (c as RedisWithIdempotency).rfIdemReleaseClaims(redisKeys.length, ...redisKeys, ...markers))
            .pipe(
              Effect.onError(() =>
                Effect.sync(() => {
                  const mine = claims.flatMap((claim, i) => (claim.expiresAt <= now ? [] : [i]))
                  if (mine.length === 0) return
                  const latest = Math.max(...mine.map((i) => claims[i]!.expiresAt))
                  releaseLater(
                    mine.map((i) => redisKeys[i]!),
                    mine.map((i) => markers[i]!),
                    latest - now
                  )
                })
              ),
              Effect.mapError(unavailable),
              Effect.asVoid
            )
        })

  const release = (key: string, options?: ClaimOptions): Effect.Effect<void, IdempotencyUnavailable> =>
    releaseEach([key], options)

  // no longer extended: the claim lapses after what is left of its TTL (the renewal timer skips it)
  const letLapse = (keys: ReadonlyArray<string>, options?: ClaimOptions): Effect.Effect<void> =>
    Effect.sync(() => {
      for (const key of keys) {
        const entry = ownedBy(keyOf(key), options)
        if (entry?.renew === true) owned.set(keyOf(key), { ...entry, renew: false })
      }
    })

  // held while this process knows it as its own: not completed, released, found taken, or past its expiry here
  const holds = (key: string, options?: ClaimOptions): Effect.Effect<boolean> =>
    Effect.sync(() => {
      const entry = ownedBy(keyOf(key), options)
      return entry !== undefined && entry.expiresAt > Date.now()
    })

  return Idempotency.of({ begin, beginEach, complete, release, releaseEach, letLapse, holds })
})

/** Idempotency on the shared Redis client. */
export const layer: Layer.Layer<Idempotency, never, RedisClient> = Layer.effect(Idempotency, make)

/** Idempotency on a Redis client built from REDIS_URL / REDIS_KEY_PREFIX. */
export const layerConfig: Layer.Layer<Idempotency, RedisUnavailable | ConfigError.ConfigError> = layer.pipe(
  Layer.provide(redisLayerConfig)
)
