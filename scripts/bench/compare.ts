// Before / after: two builds of the programs measured in turns on this machine, as README "Performance" compares a
// change — CPU per lead / per request (the process's own, every thread) beside throughput, the two builds
// alternating ABBA round after round so the machine's drift falls on both, with every round's figures shown: a
// difference inside either side's spread is noise (the same build varies by ±15 % between back-to-back runs).
//
//   npm run bench:compare -- --base <git rev>   A: that commit's bundles (built in a temporary git worktree)
//   npm run bench:compare -- --a <dist dir>     A: a build directory made before (e.g. cp -r dist /tmp/before)
//     [--b <dist dir>]      B: this build directory; default this checkout's dist/, built first
//     [--rounds 3] [--consumer 5,20] [--leads 800] [--ingest 50] [--seconds 8] [--warmup 3] [--fresh]
//     (--consumer none / --ingest none skips that program; --fresh starts a new ingest for every measurement, as
//     `npm run bench` measures its first phase, instead of one per build for the whole run)
// The consumer cases run 0 ms CRM, --leads leads after a 1,500-lead warm-up; the ingest cases post unique leads at
// that many connections, --warmup seconds then --seconds measured. Postgres and Redis as the other benchmarks
// (BENCH_DATABASE_URL, BENCH_REDIS_URL); every schema and key prefix it makes is removed, the worktree too.
import { execFileSync } from "node:child_process"
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"
import { root } from "../lib/processes.js"
import { wholeNumberOption, wholeNumbersOption } from "./lib/args.js"
import { runConsumerCase } from "./lib/consumerRun.js"
import { admin, cleanups, redisClient, suffix } from "./lib/env.js"
import { measure, type Server, startServer } from "./lib/ingestServers.js"
import { uniqueLeads } from "./lib/leads.js"
import { fmt, table } from "./lib/table.js"

const argv = process.argv.slice(2)
const option = (name: string) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : undefined)
// "none" skips that program; anything else must be whole numbers (a typo stops the run instead of measuring NaN)
const numbers = (name: string, fallback: ReadonlyArray<number>) =>
  option(name) === "none" ? [] : wholeNumbersOption(argv, name, fallback, 1)
const rounds = wholeNumberOption(argv, "--rounds", 3, 1)
const concurrencies = numbers("--consumer", [5, 20])
const connections = numbers("--ingest", [50])
const leads = wholeNumberOption(argv, "--leads", 800, 1)
const seconds = wholeNumberOption(argv, "--seconds", 8, 1)
const warmup = wholeNumberOption(argv, "--warmup", 3, 0)
const fresh = argv.includes("--fresh")
const base = option("--base")

const run = (command: string, args: ReadonlyArray<string>, cwd: string) =>
  execFileSync(command, args, { cwd, stdio: ["ignore", "inherit", "inherit"] })

/** A commit's bundles, built in a temporary worktree (the checkout's node_modules when the lockfiles agree). */
const buildCommit = (rev: string) => {
  const dir = mkdtempSync(join(tmpdir(), "rf-compare-"))
  rmSync(dir, { recursive: true })
  run("git", ["worktree", "add", "--detach", dir, rev], root)
  const remove = () => {
    run("git", ["worktree", "remove", "--force", dir], root)
    rmSync(dir, { recursive: true, force: true })
  }
  try {
    const lock = (at: string) => readFileSync(join(at, "package-lock.json"), "utf8")
    if (lock(dir) === lock(root)) symlinkSync(join(root, "node_modules"), join(dir, "node_modules"), "dir")
    else run("npm", ["ci", "--no-audit", "--no-fund"], dir)
    run("npm", ["run", "build:bundles"], dir)
  } catch (error) {
    remove()
    throw error
  }
  return { dist: join(dir, "dist"), remove }
}

if (base === undefined && option("--a") === undefined) {
  console.error("say what to compare against: --base <git rev> or --a <dist dir> (see the header of this file)")
  process.exit(2)
}
const bDist = option("--b") === undefined ? join(root, "dist") : resolve(option("--b")!)
if (option("--b") === undefined) run("npm", ["run", "build:bundles"], root)
const built = base === undefined ? undefined : buildCommit(base)
const aDist = built?.dist ?? resolve(option("--a")!)
for (const dist of [aDist, bDist]) if (!existsSync(dist)) throw new Error(`no build directory ${dist}`)
const label = { a: base ?? aDist, b: option("--b") === undefined ? "this checkout" : bDist }

/** One case's figures, per round, for each build. */
interface Series {
  readonly name: string
  readonly unit: string
  readonly cpu: { a: Array<number>; b: Array<number> }
  readonly rate: { a: Array<number>; b: Array<number> }
  /** Latency at the 99th percentile, ms (the ingest only). */
  readonly p99: { a: Array<number>; b: Array<number> }
}
const series: Array<Series> = []
/** A case's (empty) figures, listed in the report. */
const newSeries = (name: string, unit: string): Series => {
  const s: Series = { name, unit, cpu: { a: [], b: [] }, rate: { a: [], b: [] }, p99: { a: [], b: [] } }
  series.push(s)
  return s
}
const sql = admin()
const redis = redisClient()
const cleanup = cleanups()
const builds = [
  ["a", aDist],
  ["b", bDist]
] as const
/** ABBA: the first build of each round alternates. */
const order = (round: number) => (round % 2 === 0 ? builds : [builds[1], builds[0]])
const mean = (xs: ReadonlyArray<number>) => xs.reduce((s, x) => s + x, 0) / Math.max(1, xs.length)

try {
  for (const concurrency of concurrencies) {
    const s = newSeries(`consumer c=${concurrency}`, "ms/lead")
    for (let round = 0; round < rounds; round++) {
      for (const [side, dist] of order(round)) {
        const result = await runConsumerCase(
          "ours",
          { concurrency, latencyMs: 0, leads, warmup: 1500 },
          { sql, redis, tag: `cmp_${suffix()}` },
          { dist }
        )
        if (result.done < leads) throw new Error(`${s.name} (${side}): only ${result.done}/${leads} leads finished`)
        s.cpu[side].push(result.cpuMsPerLead)
        s.rate[side].push(result.leadsPerSecond)
        console.log(
          `${s.name} round ${round + 1} ${side}: ${fmt(result.cpuMsPerLead)} ms/lead, ${fmt(result.leadsPerSecond)} leads/s`
        )
      }
    }
  }
  if (connections.length > 0) {
    // one server per build for every round, or (--fresh) a new one for each measurement, as `npm run bench` measures
    const kept: Partial<Record<"a" | "b", Server>> = {}
    const serverFor = async (side: "a" | "b", dist: string, own: ReturnType<typeof cleanups>) => {
      if (fresh) return startServer("ours", { sql, redis, cleanup: own, sfx: `cmp${side}${suffix()}`, dist })
      const server =
        kept[side] ?? (await startServer("ours", { sql, redis, cleanup, sfx: `cmp${side}${suffix()}`, dist }))
      kept[side] = server
      return server
    }
    for (const c of connections) {
      const s = newSeries(`ingest ${c} conns`, "ms/req")
      for (let round = 0; round < rounds; round++) {
        for (const [side, dist] of order(round)) {
          const own = cleanups()
          try {
            const server = await serverFor(side, dist, own)
            const result = await measure(server, c, warmup, seconds, uniqueLeads(`cmp${side}${round}${c}${suffix()}`))
            const refused = result.requests - (result.statuses["202"] ?? 0)
            if (refused > 0 || result.errors > 0) {
              throw new Error(`${s.name} (${side}): ${refused} answers not 202, ${result.errors} without an answer`)
            }
            s.cpu[side].push(result.cpuMsPerRequest)
            s.rate[side].push(result.rps)
            s.p99[side].push(result.p99)
            console.log(
              `${s.name} round ${round + 1} ${side}: ${fmt(result.cpuMsPerRequest)} ms/req, ${fmt(result.rps)} req/s, p99 ${result.p99} ms`
            )
          } finally {
            await own.run()
          }
        }
      }
    }
  }
} finally {
  await cleanup.run()
  redis.disconnect()
  await sql.end({ timeout: 5 })
  built?.remove()
}

const spread = (xs: ReadonlyArray<number>) => xs.map((x) => fmt(x)).join(" / ")
const change = (a: number, b: number) => `${b >= a ? "+" : ""}${(((b - a) / a) * 100).toFixed(1)} %`
console.log(`\nA = ${label.a}, B = ${label.b}; ${rounds} rounds, ABBA\n`)
console.log(
  table(
    ["case", "A CPU (rounds)", "B CPU (rounds)", "CPU B vs A", "A rate", "B rate", "rate B vs A", "p99 A / B"],
    series.map((s) => [
      `${s.name}, ${s.unit}`,
      spread(s.cpu.a),
      spread(s.cpu.b),
      change(mean(s.cpu.a), mean(s.cpu.b)),
      fmt(mean(s.rate.a)),
      fmt(mean(s.rate.b)),
      change(mean(s.rate.a), mean(s.rate.b)),
      s.p99.a.length === 0 ? "-" : `${fmt(mean(s.p99.a))} / ${fmt(mean(s.p99.b))} ms`
    ])
  )
)
