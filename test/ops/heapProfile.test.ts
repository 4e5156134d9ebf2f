import { type ChildProcess, spawn } from "node:child_process"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { allocationTotals, INSPECTOR_LINE, startAllocationSampling } from "../../scripts/bench/lib/heapProfile.js"

// A real Node process with its inspector open, whose allocations are known: `throwAway` makes 3x the garbage
// `throwAwayLess` makes, and `keep` makes objects that stay reachable, so a scavenge never collects them.
const program = `
const kept = []
function throwAway(n) { let last; for (let i = 0; i < n; i++) last = { a: i, b: [i, i, i, i] }; return last }
function throwAwayLess(n) { let last; for (let i = 0; i < n; i++) last = { a: i, b: [i, i, i, i] }; return last }
function keep(n) { for (let i = 0; i < n; i++) kept.push({ a: i, b: [i, i, i, i] }) }
process.stdin.on("data", (chunk) => {
  if (String(chunk).includes("go")) {
    throwAway(300000)
    throwAwayLess(100000)
    keep(50000)
    process.stdout.write("done\\n")
  }
})
`

const start = (file: string) =>
  new Promise<{ child: ChildProcess; url: string }>((resolve, reject) => {
    const child = spawn(process.execPath, ["--inspect=127.0.0.1:0", file], { stdio: ["pipe", "pipe", "pipe"] })
    let text = ""
    child.stderr?.on("data", (chunk: Buffer) => {
      text += chunk.toString()
      const url = INSPECTOR_LINE.exec(text)?.[1]
      if (url !== undefined) resolve({ child, url })
    })
    child.once("exit", (code) => reject(new Error(`exited ${code} before its inspector listened: ${text}`)))
  })

const run = async (survivors: boolean) => {
  const dir = mkdtempSync(join(tmpdir(), "rf-heapprof-test-"))
  const file = join(dir, "allocates.cjs")
  writeFileSync(file, program)
  const { child, url } = await start(file)
  try {
    const sampling = await startAllocationSampling(url, 1024, survivors)
    const done = new Promise<void>((resolve) =>
      child.stdout?.on("data", (chunk: Buffer) => chunk.includes("done") && resolve())
    )
    child.stdin?.write("go\n")
    await done
    const totals = allocationTotals(await sampling.stop())
    const of = (name: string) =>
      [...totals.byFunction].filter(([key]) => key.startsWith(`${name}  `)).reduce((sum, [, bytes]) => sum + bytes, 0)
    return { total: totals.total, throwAway: of("throwAway"), throwAwayLess: of("throwAwayLess"), keep: of("keep") }
  } finally {
    child.kill()
    rmSync(dir, { recursive: true, force: true })
  }
}

describe("the allocation sampler (bench:consumer / bench:ingest -- --alloc)", () => {
  it("counts what is allocated and collected, by the function allocating it", async () => {
    const seen = await run(false)
    // garbage is counted, in the proportions the program allocated it (`keep` also grows its array)
    expect(seen.throwAway + seen.throwAwayLess + seen.keep).toBeGreaterThan(0.8 * seen.total)
    expect(seen.throwAway / seen.throwAwayLess).toBeGreaterThan(2.4)
    expect(seen.throwAway / seen.throwAwayLess).toBeLessThan(3.6)
    expect(seen.throwAway / seen.keep).toBeGreaterThan(4)
    expect(seen.throwAway / seen.keep).toBeLessThan(7.5)
  }, 30_000)

  it("with survivors, counts only what no scavenge collected", async () => {
    const seen = await run(true)
    // everything `keep` made is still reachable; of the garbage, at most what was young when sampling stopped
    expect(seen.keep).toBeGreaterThan(0)
    expect(seen.throwAway + seen.throwAwayLess).toBeLessThan(0.05 * seen.keep)
  }, 30_000)
})
