import { randomUUID } from "node:crypto"
import * as Clock from "effect/Clock"
import type * as ConfigError from "effect/ConfigError"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as ScheduleIntervals from "effect/ScheduleIntervals"
import type * as Scope from "effect/Scope"
import type { Redis } from "ioredis"
import { type BreakerState, CircuitBreaker, CircuitOpen } from "../../services/CircuitBreaker.js"
import {
  type BreakerOptions,
  config as breakerConfig,
  countedFailure,
  defaultOptions,
  logClosed,
  logOpened,
  logProbing,
  runProbe
} from "../shared/breaker.js"
import { checkedOr, redisClientConfig } from "../shared/config.js"
import { RedisClient, make as makeRedisClient, layerConfig as redisLayerConfig } from "../shared/RedisClient.js"
import type { RedisUnavailable } from "../shared/RedisUnavailable.js"

/*
 * State lives in Redis so one replica's discovery that a CRM is down opens the breaker for all:
 *   cb:<name>        hash {state: open|half-open, openUntil, openings, consecutive}; absent = closed
 *   cb:<name>:w      hash of per-bucket counters c:<slot> / f:<slot> (a tenth of the window each)
 *   cb:<name>:probe  SET NX PX: the one half-open probe across replicas, valued with its owner's token
 * Time is the caller's Effect Clock (ARGV), as in RateLimiter.ts, so tests drive it with TestClock; only
 * the probe lock's expiry runs on Redis time. The opening delay is computed here by stepping the probe
 * schedule `openings` times (openings as read by admit: one step off at worst if a replica opened in between).
 *
 * A Redis outage makes the breaker fail OPEN (calls go through, a warning is logged): the breaker guards
 * the CRM and must not itself become the outage. All keys of one call must share a slot on Redis Cluster;
 * a single node is assumed.
 */

/** Redis-breaker tuning: the same as the in-process breaker's. */
export type RedisBreakerOptions = BreakerOptions

/** The in-process defaults. */
export const defaultRedisOptions: RedisBreakerOptions = defaultOptions

/**
 * The shared probe lock outlives the probe deadline by this much, so a replica that crashed mid-probe frees it for
 * another one soon after, while a live probe always settles (and releases it) by its deadline, before it expires:
 * a probing call still running past the deadline holds no lock.
 */
const PROBE_LOCK_MARGIN_MS = 5_000

/** Retry-after given to callers turned away while another replica runs the probe. */
const PROBE_BUSY_RETRY_MS = 1_000
/** Wait used when the probe schedule is done (same as the memory breaker). */
const SCHEDULE_DONE_MS = 300_000
/** Openings beyond this step the schedule no further: any sane schedule has hit its cap long before. */
const MAX_SCHEDULE_STEPS = 64
const BUCKETS = 10

// KEYS: state, probe lock. ARGV: now, probeTimeoutMs, token, busyRetryMs.
// Returns {0,0,openings} closed | {1,0,openings} probe granted | {2,retryAfterMs,openings} refused.
const admitLua = `
local state = redis.call("HGET", KEYS[1], "state")
local openings = tonumber(redis.call("HGET", KEYS[1], "openings") or "0")
if not state or state == "closed" then return {0, 0, openings} end
local now = tonumber(ARGV[1])
local openUntil = tonumber(redis.call("HGET", KEYS[1], "openUntil") or "0")
if now < openUntil then return {2, openUntil - now, openings} end
if redis.call("SET", KEYS[2], ARGV[3], "NX", "PX", ARGV[2]) then
  redis.call("HSET", KEYS[1], "state", "half-open")
  return {1, 0, openings}
end
return {2, tonumber(ARGV[4]), openings}
`

// KEYS: state, window, probe lock. ARGV: now, outcome (ok|fail|none), probe (1: a probe's outcome, 0: an everyday
// call's, 2: a probe's success after its deadline had decided it), token, openDelayMs (with 2: the openUntil that
// deadline set), consecutiveFailures, failureRatio, minimumCalls, bucketMs, buckets. Returns what it did.
const settleLua = `
local now = tonumber(ARGV[1])
local outcome = ARGV[2]
local function open()
  redis.call("HSET", KEYS[1], "state", "open", "openUntil", now + tonumber(ARGV[5]))
  redis.call("HINCRBY", KEYS[1], "openings", 1)
  redis.call("HDEL", KEYS[1], "consecutive")
  redis.call("DEL", KEYS[2])
  return "opened"
end
local state = redis.call("HGET", KEYS[1], "state")
if ARGV[3] == "2" then
  -- the CRM answered, if slower than the probe deadline: close, unless anything came after the opening that deadline
  -- made (another probe taken or settled, a reopening, a close), which is newer news than this answer
  if state ~= "open" or tonumber(redis.call("HGET", KEYS[1], "openUntil") or "0") ~= tonumber(ARGV[5]) then
    return "ignored"
  end
  if redis.call("EXISTS", KEYS[3]) == 1 then return "ignored" end
  redis.call("DEL", KEYS[1], KEYS[2])
  return "closed"
end
if ARGV[3] == "1" then
  local holder = redis.call("GET", KEYS[3])
  -- a probe whose lock expired and was retaken (or already decided) no longer speaks for the breaker
  if holder ~= ARGV[4] and (holder or state ~= "half-open") then return "stale" end
  if holder then redis.call("DEL", KEYS[3]) end
  if outcome == "none" then
    redis.call("HSET", KEYS[1], "state", "open")
    return "released"
  end
  if outcome == "ok" then
    redis.call("DEL", KEYS[1], KEYS[2])
    return "closed"
  end
  return open()
end
if (state and state ~= "closed") or outcome == "none" then return "ignored" end
local bucketMs = tonumber(ARGV[9])
local slot = math.floor(now / bucketMs)
local consecutive = 0
redis.call("HINCRBY", KEYS[2], "c:" .. slot, 1)
if outcome == "fail" then
  redis.call("HINCRBY", KEYS[2], "f:" .. slot, 1)
  consecutive = redis.call("HINCRBY", KEYS[1], "consecutive", 1)
else
  redis.call("HDEL", KEYS[1], "consecutive")
end
redis.call("PEXPIRE", KEYS[2], bucketMs * (tonumber(ARGV[10]) + 1))
local calls, failures = 0, 0
local fields = redis.call("HGETALL", KEYS[2])
for i = 1, #fields, 2 do
  local s = tonumber(string.sub(fields[i], 3))
  if s <= slot - tonumber(ARGV[10]) then
    redis.call("HDEL", KEYS[2], fields[i])
  elseif string.sub(fields[i], 1, 1) == "c" then
    calls = calls + tonumber(fields[i + 1])
  else
    failures = failures + tonumber(fields[i + 1])
  end
end
if consecutive >= tonumber(ARGV[6]) or (calls >= tonumber(ARGV[8]) and failures / calls >= tonumber(ARGV[7])) then
  return open()
end
return "counted"
`

/** The hash holding a breaker's state (see the key layout above). */
const stateKey = (redis: RedisClient.Service, name: string) => redis.key("cb", name)

/** A stored state field as a breaker state: absent (or "closed") is closed. */
const asState = (value: string | null): BreakerState => (value === "open" || value === "half-open" ? value : "closed")

interface RedisWithBreaker extends Redis {
  rfBreakerAdmit(
    numberOfKeys: number,
    ...keysAndArgs: ReadonlyArray<string | number>
  ): Promise<[number, number, number]>
  rfBreakerSettle(numberOfKeys: number, ...keysAndArgs: ReadonlyArray<string | number>): Promise<string>
}

interface Admission {
  readonly code: 0 | 1 | 2
  readonly retryAfterMs: number
  readonly openings: number
  readonly token: string
}

/** The Redis breaker: admit and settle are one Lua round trip each; state is shared by every replica. */
export const make = (options: Partial<RedisBreakerOptions> = {}) =>
  Effect.gen(function* () {
    const config: RedisBreakerOptions = { ...defaultRedisOptions, ...options }
    const bucketMs = Math.max(1, Math.floor(config.windowMs / BUCKETS))
    const redis = yield* RedisClient
    const client = redis.client as RedisWithBreaker
    if (typeof client.rfBreakerAdmit !== "function") {
      client.defineCommand("rfBreakerAdmit", { lua: admitLua })
      client.defineCommand("rfBreakerSettle", { lua: settleLua })
    }
    const keys = (name: string) => [stateKey(redis, name), redis.key("cb", name, "w"), redis.key("cb", name, "probe")]

    // Said once when Redis stops answering and once when it answers again, not on every call meanwhile.
    let unavailable = false
    const failOpen = (name: string, error: RedisUnavailable) =>
      Effect.suspend(() => {
        if (unavailable) return Effect.void
        unavailable = true
        return Effect.logWarning("circuit breaker state unavailable in Redis; letting calls through").pipe(
          Effect.annotateLogs({ breaker: name, error: error.message })
        )
      })
    const answered = Effect.suspend(() => {
      if (!unavailable) return Effect.void
      unavailable = false
      return Effect.logInfo("circuit breaker state available in Redis again")
    })

    /** How long the next opening lasts: the schedule stepped once per opening so far, plus this one. */
    const openDelay = (openings: number, now: number) =>
      Effect.gen(function* () {
        let state = config.probeSchedule.initial
        let delay = SCHEDULE_DONE_MS
        for (let i = 0; i <= Math.min(openings, MAX_SCHEDULE_STEPS); i++) {
          const [next, , decision] = yield* config.probeSchedule.step(now, undefined, state)
          if (decision._tag === "Done") return SCHEDULE_DONE_MS
          delay = ScheduleIntervals.start(decision.intervals) - now
          state = next
        }
        return Math.max(1, Math.ceil(delay))
      })

    /** undefined when Redis could not answer: the caller then runs unguarded. */
    const admit = (name: string): Effect.Effect<Admission | undefined> =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => {
        const [state, , probe] = keys(name)
        const token = randomUUID()
        return redis
          .use((c) =>
            (c as RedisWithBreaker).rfBreakerAdmit(
              2,
              state!,
              probe!,
              now,
              config.probeTimeoutMs + PROBE_LOCK_MARGIN_MS,
              token,
              PROBE_BUSY_RETRY_MS
            )
          )
          .pipe(
            Effect.map(([code, retryAfterMs, openings]): Admission | undefined => ({
              code: code as Admission["code"],
              retryAfterMs,
              openings,
              token
            })),
            Effect.tap(() => answered),
            Effect.catchAll((error) => Effect.as(failOpen(name, error), undefined))
          )
      })

    /**
     * Record an outcome (`failed` undefined: the call was interrupted and proves nothing) and log the state change
     * this replica made. Returns until when the breaker is now open when this call opened it, else undefined.
     */
    const settle = (name: string, admission: Admission, failed: boolean | undefined, timedOut = false) =>
      Effect.gen(function* () {
        const probe = admission.code === 1
        if (failed === undefined && !probe) return undefined
        const now = yield* Clock.currentTimeMillis
        const delay = failed === true ? yield* openDelay(admission.openings, now) : 0
        const outcome = failed === undefined ? "none" : failed ? "fail" : "ok"
        const result = yield* redis
          .use((c) =>
            (c as RedisWithBreaker).rfBreakerSettle(
              3,
              ...keys(name),
              now,
              outcome,
              probe ? 1 : 0,
              admission.token,
              delay,
              config.consecutiveFailures,
              config.failureRatio,
              config.minimumCalls,
              bucketMs,
              BUCKETS
            )
          )
          .pipe(Effect.catchAll((error) => Effect.as(failOpen(name, error), "unknown")))
        if (result === "opened") {
          const reason = !probe
            ? "failures crossed the threshold (consecutive or ratio)"
            : timedOut
              ? `the half-open probe got no answer within ${config.probeTimeoutMs} ms`
              : "the half-open probe failed"
          yield* logOpened(name, reason, delay)
          return now + delay
        }
        if (result === "closed") yield* logClosed(name, undefined)
        return undefined
      })

    /**
     * A probe's call succeeded after its deadline reopened the breaker (until `openUntil`): the CRM answers, so close
     * it, if it is still in that opening (see the script).
     */
    const closeLate = (name: string, openUntil: number | undefined) =>
      Effect.gen(function* () {
        if (openUntil === undefined) return
        const now = yield* Clock.currentTimeMillis
        const result = yield* redis
          .use((c) =>
            (c as RedisWithBreaker).rfBreakerSettle(
              3,
              ...keys(name),
              now,
              "ok",
              2,
              "",
              openUntil,
              0,
              0,
              0,
              bucketMs,
              BUCKETS
            )
          )
          .pipe(Effect.catchAll((error) => Effect.as(failOpen(name, error), "unknown")))
        if (result === "closed") yield* logClosed(name, undefined, true)
      })

    const protect = <A, E, R>(
      name: string,
      effect: Effect.Effect<A, E, R>,
      isFailure: (error: E) => boolean = () => true
    ): Effect.Effect<A, E | CircuitOpen, R> =>
      Effect.uninterruptibleMask((restore) =>
        Effect.gen(function* () {
          const admission = yield* admit(name)
          if (admission === undefined) return yield* restore(effect)
          if (admission.code === 2) {
            return yield* new CircuitOpen({ name, retryAfterMs: Math.max(1, Math.ceil(admission.retryAfterMs)) })
          }
          if (admission.code === 0) {
            const exit = yield* Effect.exit(restore(effect))
            yield* settle(name, admission, countedFailure(exit, isFailure))
            return yield* exit
          }
          yield* logProbing(name)
          // decided (and its lock released) at the probe deadline at the latest; the call itself is never cut
          return yield* runProbe(restore(effect), {
            probeTimeoutMs: config.probeTimeoutMs,
            isFailure,
            settle: (failed, timedOut) => settle(name, admission, failed, timedOut),
            settleLate: (openUntil) => closeLate(name, openUntil)
          })
        })
      )

    /** "closed" when Redis cannot answer, since calls then go through. */
    const state = (name: string): Effect.Effect<BreakerState> =>
      redis
        .use((c) => c.hget(keys(name)[0]!, "state"))
        .pipe(
          Effect.map(asState),
          Effect.catchAll((error) => Effect.as(failOpen(name, error), "closed" as const))
        )

    return CircuitBreaker.of({ protect, state })
  })

/**
 * The shared breaker's state as Redis holds it, read only: no script, no write, and no failing open (a Redis that does
 * not answer is an error here, not "closed"). For a process that shows the breaker without calling through it: the
 * ingest's console, while the consumers run the calls.
 */
export const readState = (redis: RedisClient.Service, name: string): Effect.Effect<BreakerState, RedisUnavailable> =>
  Effect.map(
    redis.use((c) => c.hget(stateKey(redis, name), "state")),
    asState
  )

/** `readState` on a client of its own from REDIS_URL / REDIS_KEY_PREFIX, connected for as long as the scope. */
export const stateReaderConfig: Effect.Effect<
  (name: string) => Effect.Effect<BreakerState, RedisUnavailable>,
  RedisUnavailable | ConfigError.ConfigError,
  Scope.Scope
> = Effect.map(
  Effect.flatMap(checkedOr(redisClientConfig), makeRedisClient),
  (redis) => (name: string) => readState(redis, name)
)

/** Shared breaker on the RedisClient with the default thresholds and probe schedule. */
export const layer: Layer.Layer<CircuitBreaker, never, RedisClient> = Layer.effect(CircuitBreaker, make())

/** Shared breaker with custom thresholds / schedule (tests, tuning). */
export const layerWith = (options: Partial<RedisBreakerOptions>): Layer.Layer<CircuitBreaker, never, RedisClient> =>
  Layer.effect(CircuitBreaker, make(options))

/** Shared breaker on a Redis client built from REDIS_URL / REDIS_KEY_PREFIX, tuned by CIRCUIT_BREAKER_*. */
export const layerConfig: Layer.Layer<CircuitBreaker, RedisUnavailable | ConfigError.ConfigError> = Layer.effect(
  CircuitBreaker,
  Effect.flatMap(breakerConfig, make)
).pipe(Layer.provide(redisLayerConfig))
