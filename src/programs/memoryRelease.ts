import { existsSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { getHeapStatistics, setFlagsFromString } from "node:v8"
import { runInNewContext } from "node:vm"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schedule from "effect/Schedule"
import { AppConfig } from "../../services/AppConfig.js"

/**
 * Giving memory back once a burst is over.
 *
 * Under load V8 grows the young generation to its maximum (two 64 MiB semi-spaces on a machine with plenty of memory)
 * and the old generation with it; when the load stops nothing shrinks them. V8's own memory reducer should, but it
 * waits for a low allocation rate, and on a server whose timers still run it kept judging the rate high: measured
 * here, the ingest stayed at 289–345 MiB for minutes after 50,000 leads, against 93 MiB before them (README
 * "Performance"). So the programs do it themselves: once the process has been quiet for `quietMs` with a heap grown
 * since the last release, one full collection that gives back what it frees (V8's "last resort" flavour: it shrinks
 * the young generation and returns pooled pages) brings the RSS back near where it started. It pauses the process for
 * tens of milliseconds (~200 ms for a 200 MiB heap), taken only after `quietMs` with nothing to do.
 *
 * The collection frees what V8 held; what Node's C++ side and V8's compilers allocated with malloc during the burst
 * stays in glibc's heap, whose free() returns only the heap's top: measured here, the ingest's `[heap]` mapping held
 * 28 MiB after 50,000 leads and a release, against 5.5 MiB idle. So the release then calls glibc's `malloc_trim(0)`,
 * which also returns the free pages between blocks still in use, through the programs' one native addon
 * (native/mallocTrim.c, built beside each bundle by scripts/build/native.mjs): 28 → 7 MiB there. Where the addon is
 * not built (not glibc, no C compiler at build time, a run from source) the release runs without it.
 */

const MiB = 1024 * 1024

/** V8's gc() options (its gc extension). */
interface CollectOptions {
  readonly type: "major" | "minor"
  readonly execution: "sync" | "async"
  readonly flavor: "regular" | "last-resort"
}
type Collect = (options?: CollectOptions) => void
/** glibc's malloc_trim(0): true when it returned memory to the system. */
export type Trim = () => boolean

/** When to release. */
export interface MemoryReleaseOptions {
  /** Quiet time before releasing; 0: never. */
  readonly quietMs: number
  /** How often the process's CPU use and heap size are sampled. */
  readonly checkEveryMs?: number | undefined
  /** An interval at or below this share of a core is quiet (a program's idle timers use about 1 %). */
  readonly quietShare?: number | undefined
  /** Release only when the V8 heap has grown by this much since the last release (start-up: since nothing). */
  readonly minGrowthBytes?: number | undefined
  /** malloc_trim after each collection (default: the addon beside this module, if any; null: none). */
  readonly trim?: Trim | null | undefined
}

/** One check's interval: the process's CPU time (all threads), the wall time it spans, and the V8 heap at its end. */
export interface Interval {
  readonly cpuMs: number
  readonly wallMs: number
  /** V8's committed heap (total_heap_size). */
  readonly heapBytes: number
}

/**
 * The decision, interval by interval: true once the process has been quiet for `quietMs` and its heap has grown
 * since the last release (`released` records the heap after it). Start-up's garbage counts as growth, so it is
 * released once the program settles; a scrape or a timer between bursts grows nothing and releases nothing.
 */
export const makeDecider = (options: MemoryReleaseOptions) => {
  const quietShare = options.quietShare ?? 0.03
  const minGrowthBytes = options.minGrowthBytes ?? 16 * MiB
  let baselineBytes = 0
  let quietForMs = 0
  return {
    decide: (interval: Interval): boolean => {
      const share = interval.wallMs > 0 ? interval.cpuMs / interval.wallMs : 0
      if (share > quietShare) {
        quietForMs = 0
        return false
      }
      quietForMs += interval.wallMs
      return quietForMs >= options.quietMs && interval.heapBytes >= baselineBytes + minGrowthBytes
    },
    released: (heapBytes: number) => {
      baselineBytes = heapBytes
      quietForMs = 0
    }
  }
}

/**
 * V8's gc(): the global one when the process was started with --expose-gc, else exposed now, the way Jest's
 * --logHeapUsage gets it (the flag, then a context created after it, which has the function). Undefined where the
 * runtime refuses.
 */
const collector = (): Collect | undefined => {
  const global = (globalThis as { readonly gc?: unknown }).gc
  if (typeof global === "function") return global as Collect
  try {
    setFlagsFromString("--expose-gc")
    const gc: unknown = runInNewContext("gc")
    return typeof gc === "function" ? (gc as Collect) : undefined
  } catch {
    return undefined
  }
}

const here = dirname(fileURLToPath(import.meta.url))

/**
 * The addon's trim(), loaded from `file` or from beside this module (the bundle, or its chunk one level down);
 * undefined where there is no addon or it does not load.
 */
export const nativeTrim = (file?: string): Trim | undefined => {
  const candidates =
    file !== undefined
      ? [file]
      : [join(here, "native"), join(here, "..", "native")].map((dir) => join(dir, "mallocTrim.node"))
  for (const candidate of candidates) {
    if (!existsSync(candidate)) continue
    try {
      const module = { exports: {} as { readonly trim?: unknown } }
      process.dlopen(module, candidate)
      const trim = module.exports.trim
      if (typeof trim === "function") return trim as Trim
    } catch {
      // a file that does not load (another platform's build) is no addon
    }
  }
  return undefined
}

const round = (n: number) => Math.round(n * 10) / 10

/**
 * What one release did: resident and V8 heap (committed) sizes before and after, in MiB, its pause, and whether
 * malloc_trim returned memory (undefined: no addon).
 */
export interface Released {
  readonly rssMiB: readonly [number, number]
  readonly heapMiB: readonly [number, number]
  readonly pauseMs: number
  readonly trimmed: boolean | undefined
}

/** One full collection with `collect` that returns what it frees to the system, then malloc_trim when there is one. */
const releaseWith = (collect: Collect, trim: Trim | undefined): Released => {
  const rss = process.memoryUsage.rss()
  const heap = getHeapStatistics().total_heap_size
  const started = performance.now()
  collect({ type: "major", execution: "sync", flavor: "last-resort" })
  const trimmed = trim?.()
  const pauseMs = performance.now() - started
  return {
    rssMiB: [round(rss / MiB), round(process.memoryUsage.rss() / MiB)],
    heapMiB: [round(heap / MiB), round(getHeapStatistics().total_heap_size / MiB)],
    pauseMs: round(pauseMs),
    trimmed
  }
}

/**
 * One full collection that returns what it frees to the system, then `trim` (default: the addon beside this module,
 * if any; null: none); undefined when gc() cannot be had.
 */
export const releaseMemory = (trim: Trim | null = nativeTrim() ?? null): Released | undefined => {
  const collect = collector()
  return collect === undefined ? undefined : releaseWith(collect, trim ?? undefined)
}

/** Checks every `checkEveryMs` for as long as the scope is open, releasing memory when the decider says so. */
export const layer = (options: MemoryReleaseOptions): Layer.Layer<never> =>
  options.quietMs <= 0
    ? Layer.empty
    : Layer.scopedDiscard(
        Effect.gen(function* () {
          // gc() is had (a V8 context made for it: a few ms) and the addon loaded when first wanted, not while the
          // program starts
          let collect: Collect | undefined
          let trim: Trim | null | undefined
          const decider = makeDecider(options)
          let cpu = process.cpuUsage()
          let at = performance.now()
          const check = Effect.suspend(() => {
            const nowCpu = process.cpuUsage()
            const now = performance.now()
            const interval = {
              cpuMs: (nowCpu.user - cpu.user + nowCpu.system - cpu.system) / 1000,
              wallMs: now - at,
              heapBytes: getHeapStatistics().total_heap_size
            }
            cpu = nowCpu
            at = now
            if (!decider.decide(interval)) return Effect.succeed(true)
            collect ??= collector()
            // no gc() here: said once, and the checks stop
            if (collect === undefined) {
              return Effect.as(Effect.logDebug("memory release off: this runtime does not expose gc()"), false)
            }
            if (trim === undefined) {
              trim = options.trim === undefined ? (nativeTrim() ?? null) : options.trim
            }
            const released = releaseWith(collect, trim ?? undefined)
            decider.released(getHeapStatistics().total_heap_size)
            // the collection's own CPU is not the next interval's activity
            cpu = process.cpuUsage()
            at = performance.now()
            return Effect.logDebug("released memory after a quiet spell").pipe(
              Effect.annotateLogs({
                rssMiB: `${released.rssMiB[0]} -> ${released.rssMiB[1]}`,
                heapMiB: `${released.heapMiB[0]} -> ${released.heapMiB[1]}`,
                pauseMs: released.pauseMs,
                mallocTrim:
                  released.trimmed === undefined
                    ? "no addon (native/mallocTrim.node)"
                    : released.trimmed
                      ? "returned memory"
                      : "nothing to return"
              }),
              Effect.as(true)
            )
          })
          yield* Effect.forkScoped(
            Effect.repeat(check, { schedule: Schedule.spaced(options.checkEveryMs ?? 1000), while: (more) => more })
          )
        })
      )

/** The memory release after AppConfig's MEMORY_RELEASE_QUIET_MS (default 5000; 0: never). */
export const layerFromAppConfig: Layer.Layer<never, never, AppConfig> = Layer.unwrapEffect(
  Effect.map(AppConfig, (config) => layer({ quietMs: config.memoryReleaseQuietMs }))
)
