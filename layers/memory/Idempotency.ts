import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Ref from "effect/Ref"
import { type Claim, type ClaimOptions, Idempotency } from "../../services/Idempotency.js"

type Entry =
  | { readonly _tag: "InProgress"; readonly expiresAt: number; readonly ttlMs: number; readonly owner?: object }
  | { readonly _tag: "Completed"; readonly json: string; readonly expiresAt: number }

const SWEEP_EVERY = 1000

/** In-process idempotency keys with the Redis layer's semantics, expiring on the Effect Clock. */
export const make = Effect.gen(function* () {
  const entries = yield* Ref.make(new Map<string, Entry>())

  // Expired keys are dropped when touched, and all of them every SWEEP_EVERY writes so the map cannot grow forever.
  let writes = 0
  const sweep = (map: Map<string, Entry>, now: number) => {
    if (++writes % SWEEP_EVERY !== 0) return
    for (const [key, entry] of map) if (entry.expiresAt <= now) map.delete(key)
  }

  /** The key's in-progress claim, the caller's own when it names itself (`options.owner`). */
  const claimOf = (map: Map<string, Entry>, key: string, now: number, options: ClaimOptions | undefined) => {
    const entry = live(map, key, now)
    return entry?._tag === "InProgress" && (options?.owner === undefined || entry.owner === options.owner)
      ? entry
      : undefined
  }

  const live = (map: Map<string, Entry>, key: string, now: number): Entry | undefined => {
    const entry = map.get(key)
    if (entry && entry.expiresAt <= now) {
      map.delete(key)
      return undefined
    }
    return entry
  }

  // a claim held while its holder works (`renew`) lasts until it is completed or released: this process is its holder
  const expiryOf = (inProgressTtlMs: number, now: number, options: ClaimOptions | undefined) =>
    options?.renew === true ? Number.POSITIVE_INFINITY : now + Math.max(1, inProgressTtlMs)

  const claim = (
    map: Map<string, Entry>,
    key: string,
    inProgressTtlMs: number,
    now: number,
    options: ClaimOptions | undefined
  ): Claim => {
    const entry = live(map, key, now)
    if (entry?._tag === "InProgress") return { _tag: "InProgress" }
    // Round-trip through JSON so callers see exactly what the Redis layer would give back.
    if (entry?._tag === "Completed") return { _tag: "Completed", result: JSON.parse(entry.json) }
    sweep(map, now)
    map.set(key, {
      _tag: "InProgress",
      expiresAt: expiryOf(inProgressTtlMs, now, options),
      ttlMs: inProgressTtlMs,
      ...(options?.owner === undefined ? {} : { owner: options.owner })
    })
    return { _tag: "Acquired" }
  }

  const begin = (key: string, inProgressTtlMs: number, options?: ClaimOptions): Effect.Effect<Claim> =>
    Effect.flatMap(Clock.currentTimeMillis, (now) =>
      Ref.modify(entries, (map): [Claim, Map<string, Entry>] => [claim(map, key, inProgressTtlMs, now, options), map])
    )

  const beginEach = (
    keys: ReadonlyArray<string>,
    inProgressTtlMs: number,
    options?: ClaimOptions
  ): Effect.Effect<ReadonlyArray<Claim>> =>
    Effect.flatMap(Clock.currentTimeMillis, (now) =>
      Ref.modify(entries, (map): [ReadonlyArray<Claim>, Map<string, Entry>] => [
        keys.map((key) => claim(map, key, inProgressTtlMs, now, options)),
        map
      ])
    )

  const complete = (key: string, result: unknown, ttlMs: number): Effect.Effect<void> =>
    Effect.flatMap(Clock.currentTimeMillis, (now) =>
      Ref.update(entries, (map) => {
        const json = JSON.stringify(result ?? null) ?? "null"
        sweep(map, now)
        return map.set(key, { _tag: "Completed", json, expiresAt: now + Math.max(1, ttlMs) })
      })
    )

  const releaseEach = (keys: ReadonlyArray<string>, options?: ClaimOptions): Effect.Effect<void> =>
    Effect.flatMap(Clock.currentTimeMillis, (now) =>
      Ref.update(entries, (map) => {
        for (const key of keys) if (claimOf(map, key, now, options) !== undefined) map.delete(key)
        return map
      })
    )

  const release = (key: string, options?: ClaimOptions): Effect.Effect<void> => releaseEach([key], options)

  // a held claim (no expiry) is given its TTL from now
  const letLapse = (keys: ReadonlyArray<string>, options?: ClaimOptions): Effect.Effect<void> =>
    Effect.flatMap(Clock.currentTimeMillis, (now) =>
      Ref.update(entries, (map) => {
        for (const key of keys) {
          const entry = claimOf(map, key, now, options)
          if (entry !== undefined && entry.expiresAt === Number.POSITIVE_INFINITY) {
            map.set(key, { ...entry, expiresAt: now + Math.max(1, entry.ttlMs) })
          }
        }
        return map
      })
    )

  // held while its key is in progress (a renewed claim cannot run out), by the caller when it names itself
  const holds = (key: string, options?: ClaimOptions): Effect.Effect<boolean> =>
    Effect.flatMap(Clock.currentTimeMillis, (now) =>
      Effect.map(Ref.get(entries), (map) => claimOf(map, key, now, options) !== undefined)
    )

  return Idempotency.of({ begin, beginEach, complete, release, releaseEach, letLapse, holds })
})

/** Idempotency kept in this process (embedded mode and tests). */
export const layer: Layer.Layer<Idempotency> = Layer.effect(Idempotency, make)
