import { spawnSync } from "node:child_process"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, describe, expect, it } from "@effect/vitest"
import { summarizeProfiles } from "../../scripts/bench/lib/cpuprofile.js"
import { startWindowLabel, summarizeStarts } from "../../scripts/bench/startup.js"

// A real Node process under --cpu-prof that spins in `beforeReady`, prints the moment it switches on the clock of
// V8's profiles (CLOCK_MONOTONIC µs, as coldstart.mjs records each start's first 200), then spins in `afterReady`:
// what `npm run bench:startup -- --profile` reads, cut at that moment.
const script = `
function beforeReady() { const end = Date.now() + 150; let x = 0; while (Date.now() < end) for (let i = 0; i < 1e4; i++) x += i % 7; return x }
function afterReady() { const end = Date.now() + 150; let x = 0; while (Date.now() < end) for (let i = 0; i < 1e4; i++) x += i % 7; return x }
beforeReady()
console.log(String(process.hrtime.bigint() / 1000n))
afterReady()
`

const dir = mkdtempSync(join(tmpdir(), "rf-cpuprof-window-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const profiled = (program: string, name: string) => {
  const out = join(dir, program)
  const run = spawnSync(
    process.execPath,
    ["--cpu-prof", `--cpu-prof-dir=${out}`, `--cpu-prof-name=${name}`, "--cpu-prof-interval=500", "-e", script],
    { encoding: "utf8" }
  )
  expect(run.status).toBe(0)
  return { out, switchedUs: Number(run.stdout.trim()) }
}

const msOf = (summary: string, fn: string) =>
  Number(new RegExp(`^${fn}\\s.*?\\s(\\d+)\\s+\\d+\\.\\d%$`, "m").exec(summary)?.[1] ?? 0)

describe("CPU profiles read up to a moment (scripts/bench/lib/cpuprofile.ts, startup.ts)", () => {
  it("counts a profile's samples up to each file's own moment, and the whole of a file without one", () => {
    const first = profiled("window", "a.cpuprofile")
    const second = profiled("window", "b.cpuprofile")
    const whole = summarizeProfiles(first.out, 10)
    expect(msOf(whole, "beforeReady")).toBeGreaterThan(50)
    expect(msOf(whole, "afterReady")).toBeGreaterThan(50)

    const moments: Record<string, number> = { "a.cpuprofile": first.switchedUs, "b.cpuprofile": second.switchedUs }
    const cut = summarizeProfiles(first.out, 10, (file) => ({ fromUs: 0, toUs: moments[file] ?? 0 }), "up to ready")
    expect(cut).toMatch(/^busy CPU sampled up to ready: \d+ ms in 2 profiles, \d+ ms each/)
    // both files' time before their moment, none of the time after it
    expect(msOf(cut, "beforeReady")).toBeGreaterThan(msOf(whole, "beforeReady") * 0.8)
    expect(msOf(cut, "afterReady")).toBe(0)

    const onlyA = summarizeProfiles(first.out, 10, (file) =>
      file === "a.cpuprofile" ? { fromUs: 0, toUs: first.switchedUs } : undefined
    )
    // b.cpuprofile has no moment: counted whole
    expect(msOf(onlyA, "afterReady")).toBeGreaterThan(50)
    expect(msOf(onlyA, "afterReady")).toBeLessThan(msOf(whole, "afterReady") * 0.8)
  })

  it("reads coldstart.mjs's ready.json for a program's starts", () => {
    const start = profiled("consumer", "start-0.cpuprofile")
    writeFileSync(join(start.out, "ready.json"), JSON.stringify({ "start-0.cpuprofile": start.switchedUs }))
    const summary = summarizeStarts(dir, "consumer", 10)
    expect(summary.startsWith(`busy CPU sampled ${startWindowLabel}: `)).toBe(true)
    expect(summary).toMatch(/: \d+ ms in 1 profile \(/)
    expect(msOf(summary, "beforeReady")).toBeGreaterThan(50)
    expect(msOf(summary, "afterReady")).toBe(0)
  })

  it("refuses starts whose profiles and moments do not match: a start that wrote no profile is not read as none", () => {
    const start = profiled("ingest", "start-0.cpuprofile")
    writeFileSync(
      join(start.out, "ready.json"),
      JSON.stringify({ "start-0.cpuprofile": start.switchedUs, "start-1.cpuprofile": start.switchedUs })
    )
    expect(() => summarizeStarts(dir, "ingest", 10)).toThrow(
      /profiles \[start-0.cpuprofile\] but moments for \[start-0.cpuprofile, start-1.cpuprofile\]/
    )
  })
})
