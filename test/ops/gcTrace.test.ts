import { spawnSync } from "node:child_process"
import { describe, expect, it } from "@effect/vitest"
import { parseNvpLine, summarizeGc } from "../../scripts/bench/lib/gcTrace.js"

// A Node process whose collections are known: ~1 MiB of young objects kept through two scavenges (promoted), then
// garbage only, then a full collection. Its --trace-gc-nvp output is what `npm run bench:consumer -- --gc` reads.
const script = `
const kept = []
for (let i = 0; i < 20000; i++) kept.push({ i, s: "kept " + i })
gc({ type: "minor" })
gc({ type: "minor" })
globalThis.kept = kept
let sink
for (let i = 0; i < 200000; i++) sink = { i, s: "garbage" }
gc({ type: "minor" })
gc()
console.log("done", sink.i, globalThis.kept.length)
`

const traced = () => {
  const run = spawnSync(process.execPath, ["--expose-gc", "--trace-gc-nvp", "-e", script], { encoding: "utf8" })
  expect(run.status).toBe(0)
  return run.stdout.split("\n")
}

describe("--trace-gc-nvp summary (scripts/bench/lib/gcTrace.ts)", () => {
  it("reads each collection of a real Node process: kind, sizes, main and helper-thread time", () => {
    const lines = traced()
    const events = lines.map(parseNvpLine).filter((event) => event !== undefined)
    expect(lines.some((line) => line.startsWith("done 199999 20000"))).toBe(true)
    // the program's own line is not a collection
    expect(parseNvpLine("done 199999 20000")).toBeUndefined()
    expect(events.filter((event) => event.kind === "scavenge").length).toBeGreaterThanOrEqual(3)
    const full = events.filter((event) => event.kind === "mark-compact")
    expect(full.length).toBeGreaterThanOrEqual(1)
    expect(full.every((event) => event.mainMs > 0)).toBe(true)
    // the kept objects: alive at the scavenges and moved to the old generation by the second
    const promoted = events.reduce((sum, event) => sum + event.promoted, 0)
    expect(promoted).toBeGreaterThan(512 * 1024)
  })

  it("sums an interval's collections per unit of work", () => {
    const lines = traced()
    const once = summarizeGc(lines, 1)
    const perTen = summarizeGc(lines, 10)
    expect(once.scavenges).toBeGreaterThanOrEqual(3)
    expect(once.markCompacts).toBeGreaterThanOrEqual(1)
    // 200,000 garbage objects at 16+ bytes each, and the kept ones
    expect(once.allocatedKiB).toBeGreaterThan(3 * 1024)
    expect(once.survivedKiB).toBeGreaterThan(512)
    expect(once.promotedKiB).toBeGreaterThan(512)
    expect(once.markCompactMainMs).toBeGreaterThan(0)
    expect(perTen.allocatedKiB).toBeCloseTo(once.allocatedKiB / 10, 6)
    expect(perTen.scavenges).toBe(once.scavenges)
    expect(summarizeGc(["no collections here"], 5).scavenges).toBe(0)
  })
})
