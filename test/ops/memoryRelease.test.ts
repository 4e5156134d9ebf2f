import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { execFileSync } from "node:child_process"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { getHeapStatistics } from "node:v8"
import { buildMallocTrim } from "../../scripts/build/native.mjs"
import * as MemoryRelease from "../../src/programs/memoryRelease.js"
import { makeLogCapture } from "../support/logCapture.js"

const MiB = 1024 * 1024
const quiet = (heapMiB: number) => ({ cpuMs: 5, wallMs: 1000, heapBytes: heapMiB * MiB })
const busy = (heapMiB: number) => ({ cpuMs: 600, wallMs: 1000, heapBytes: heapMiB * MiB })

describe("when a program releases memory", () => {
  it("after quietMs of quiet with a grown heap, once, and again only after the heap grew anew", () => {
    const decider = MemoryRelease.makeDecider({ quietMs: 3000 })
    // start-up: the heap grew from nothing; the release waits for three quiet seconds
    expect([quiet(40), quiet(40)].map(decider.decide)).toEqual([false, false])
    expect(decider.decide(quiet(40))).toBe(true)
    decider.released(20 * MiB)
    // quiet with no growth (a scrape, the timers): nothing to give back
    expect([quiet(22), quiet(22), quiet(22), quiet(30)].map(decider.decide)).toEqual([false, false, false, false])
    // a burst grows the heap; quiet time counts from its end
    expect([busy(120), busy(200), quiet(200), quiet(200)].map(decider.decide)).toEqual([false, false, false, false])
    expect(decider.decide(quiet(200))).toBe(true)
  })

  it("counts as quiet only an interval at or under quietShare of a core", () => {
    const decider = MemoryRelease.makeDecider({ quietMs: 2000, quietShare: 0.03 })
    const light = { cpuMs: 50, wallMs: 1000, heapBytes: 100 * MiB }
    expect([quiet(100), light, quiet(100)].map(decider.decide)).toEqual([false, false, false])
    expect(decider.decide(quiet(100))).toBe(true)
  })

  it("gives the freed heap back: the committed heap shrinks", () => {
    // garbage that survived long enough to be promoted: only a full collection frees it
    let garbage: Array<Array<number>> | undefined = Array.from({ length: 400 }, (_, i) =>
      Array.from({ length: 10_000 }, () => i)
    )
    const grown = getHeapStatistics().total_heap_size
    expect(garbage.length).toBe(400)
    garbage = undefined
    const released = MemoryRelease.releaseMemory()
    expect(released).toBeDefined()
    const [before, after] = released!.heapMiB
    expect(before * MiB).toBeGreaterThanOrEqual(grown * 0.9)
    expect(after).toBeLessThan(before - 20)
    expect(released!.pauseMs).toBeGreaterThanOrEqual(0)
  })

  // malloc_trim is glibc's: elsewhere the addon is not built and the release runs without it (the test below that)
  const glibc =
    process.platform === "linux" &&
    Boolean((process.report.getReport() as { header?: { glibcVersionRuntime?: string } }).header?.glibcVersionRuntime)

  it.runIf(glibc)(
    "with the native addon, also gives back malloc's free pages that a collection leaves",
    {
      timeout: 60_000
    },
    async () => {
      const dir = mkdtempSync(join(tmpdir(), "rf-malloc-trim-"))
      try {
        const built = await buildMallocTrim(join(dir, "native", "mallocTrim.node"))
        // on Linux with glibc the build needs a C compiler (cc, or $CC), as `npm run build:bundles` does for the image
        expect(built).toMatchObject({ built: true })
        const out = execFileSync(
          process.execPath,
          [
            "--import",
            "tsx",
            join("test", "ops", "fixtures", "fragmentedHeap.ts"),
            join(dir, "native", "mallocTrim.node")
          ],
          { env: { ...process.env, MALLOC_ARENA_MAX: "1" }, encoding: "utf8", timeout: 50_000 }
        )
        const result = JSON.parse(out.trim().split("\n").at(-1) ?? "{}")
        expect(result.kept).toBe(188)
        expect(result.trimmedWithout).toBe("undefined")
        expect(result.trimmedWith).toBe("true")
        // the collection freed the buffers but glibc kept their pages (~90 MiB); malloc_trim returned them
        expect(result.afterCollection).toBeGreaterThan(60 * 1024)
        expect(result.afterTrim).toBeLessThan(result.afterCollection - 50 * 1024)
      } finally {
        rmSync(dir, { recursive: true, force: true })
      }
    }
  )

  // on every platform: with glibc the missing compiler is the reason; elsewhere the platform is, before any compiler
  it("without a working C compiler the build says why and builds nothing (the release runs without it)", {
    timeout: 30_000
  }, async () => {
    const dir = mkdtempSync(join(tmpdir(), "rf-malloc-trim-"))
    const cc = process.env.CC
    try {
      process.env.CC = join(dir, "no-such-cc")
      const built = await buildMallocTrim(join(dir, "mallocTrim.node"))
      expect(built).toMatchObject({ built: false })
      expect(built.built ? "" : built.reason).toContain(glibc ? "no-such-cc failed" : "not Linux with glibc")
      expect(MemoryRelease.nativeTrim(join(dir, "mallocTrim.node"))).toBeUndefined()
    } finally {
      if (cc === undefined) delete process.env.CC
      else process.env.CC = cc
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it("finds no addon where there is none, and a file that is not one is none", () => {
    const dir = mkdtempSync(join(tmpdir(), "rf-malloc-trim-"))
    try {
      expect(MemoryRelease.nativeTrim(join(dir, "missing.node"))).toBeUndefined()
      writeFileSync(join(dir, "bad.node"), "not an addon")
      expect(MemoryRelease.nativeTrim(join(dir, "bad.node"))).toBeUndefined()
      // run from source there is none beside the module: the release runs without it
      expect(MemoryRelease.nativeTrim()).toBeUndefined()
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it.live("the layer releases once the process settles, says so at Debug, and stops with its scope", () =>
    Effect.gen(function* () {
      const capture = makeLogCapture()
      const released = () => capture.lines.filter((line) => line.includes("released memory after a quiet spell"))
      // Every interval counts as quiet and any heap as grown here (the decision's thresholds are the tests above):
      // this is the wiring, so it releases every 300 ms while its scope is open.
      let trims = 0
      const layer = MemoryRelease.layer({
        quietMs: 300,
        checkEveryMs: 50,
        quietShare: Number.POSITIVE_INFINITY,
        minGrowthBytes: 0,
        trim: () => ++trims === 1
      })
      yield* Effect.scoped(
        Effect.gen(function* () {
          yield* Layer.build(layer)
          for (let waited = 0; released().length < 2 && waited < 5000; waited += 50) yield* Effect.sleep(50)
        })
      ).pipe(Effect.provide(capture.layer))
      expect(released().length).toBeGreaterThanOrEqual(2)
      expect(released()[0]).toMatch(/level=DEBUG/)
      expect(released()[0]).toMatch(/rssMiB="[\d.]+ -> [\d.]+"/)
      expect(released()[0]).toMatch(/heapMiB="[\d.]+ -> [\d.]+"/)
      expect(released()[0]).toMatch(/pauseMs=[\d.]+/)
      // malloc_trim after each collection, and what it did
      expect(trims).toBe(released().length)
      expect(released()[0]).toMatch(/mallocTrim="returned memory"/)
      expect(released()[1]).toMatch(/mallocTrim="nothing to return"/)
      const count = released().length
      yield* Effect.sleep(800)
      expect(released()).toHaveLength(count)
    })
  )

  it.live("without the addon the layer releases all the same and says there is none", () =>
    Effect.gen(function* () {
      const capture = makeLogCapture()
      const layer = MemoryRelease.layer({
        quietMs: 100,
        checkEveryMs: 20,
        quietShare: Number.POSITIVE_INFINITY,
        minGrowthBytes: 0,
        trim: null
      })
      const released = () => capture.lines.filter((line) => line.includes("released memory after a quiet spell"))
      yield* Effect.scoped(
        Effect.gen(function* () {
          yield* Layer.build(layer)
          for (let waited = 0; released().length < 1 && waited < 5000; waited += 20) yield* Effect.sleep(20)
        })
      ).pipe(Effect.provide(capture.layer))
      expect(released()[0]).toMatch(/mallocTrim="no addon \(native\/mallocTrim.node\)"/)
    })
  )

  it("is off with quietMs 0 (MEMORY_RELEASE_QUIET_MS=0)", () => {
    expect(MemoryRelease.layer({ quietMs: 0 })).toBe(Layer.empty)
  })
})
