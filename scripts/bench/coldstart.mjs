#!/usr/bin/env node
// Cold start: ms from spawning a program to its first 200 on /readyz (the store and the queue answer: it can take
// and process a lead), for each bundle (dist/ingest, dist/consumer), run from a copy in an empty temp dir (no
// node_modules) against the real Postgres (fresh schema) and Redis. Every variant is sampled in turn, run after run
// (interleaved), beside `node -e 0` in the same run; each row gives the wall time, the process's own CPU time until
// that answer (user + system, from /proc: a busy machine stretches the wall time far more than the CPU time) and
// both as a ratio to `node -e 0`.
//
//   npm run build:bundles && node scripts/bench/coldstart.mjs [--runs 7] [--dist <dir>] [--a <dir>] [--tsx]
//     --dist  bench the bundles in <dir> (default dist/), e.g. a build of an older commit for a before/after
//     --a     also start the bundles in <dir> (a build from before a change, e.g. cp -r dist /tmp/before) as the
//             image runs them, in the same rounds: rows "A: <program> bundle + NODE_COMPILE_CACHE"
//     --tsx   also time the TypeScript sources through tsx, for comparison
//     --profile <dir>  after the timed rounds, start each bundle --runs more times under --cpu-prof (compile cache
//             warm, from the same copy as the timed rows): <dir>/<program>/start-<n>.cpuprofile, its frames named as
//             in <dist>/<program> so the bundles' source maps there name the sources, and <dir>/<program>/ready.json,
//             each profile's first 200 on V8's profile clock (CLOCK_MONOTONIC µs), so a profile can be read up to that
//             answer (`npm run bench:startup -- --profile` does, by kind of work)
// Rows: "first start" applies the migrations to the fresh schema; "/healthz" is the first answer at all (liveness,
// for reference); "+ NODE_COMPILE_CACHE" is the image's way of running (its cache warmed as the Dockerfile does).
// Env: BENCH_DATABASE_URL (postgres://postgres@127.0.0.1:5432/test), BENCH_REDIS_URL (redis://127.0.0.1:6379)
import { execFileSync, spawn, spawnSync } from "node:child_process"
import { randomBytes } from "node:crypto"
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from "node:fs"
import { createServer } from "node:net"
import { tmpdir } from "node:os"
import { dirname, join, resolve } from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"
import { runtimeEnv, warmUpEnv } from "../ops/runtimeEnv.mjs"

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..")
const argv = process.argv.slice(2)
/** An option's value: undefined when it is absent; an option given without a value (or with the next option as its
 * value: `--profile --runs 3`) is refused. */
const option = (name) => {
  if (!argv.includes(name)) return undefined
  const value = argv[argv.indexOf(name) + 1]
  if (value === undefined || value.startsWith("--")) throw new Error(`${name} takes a value`)
  return value
}
const runsText = option("--runs")
if (runsText !== undefined && !/^[1-9]\d*$/.test(runsText))
  throw new Error(`--runs takes a whole number >= 1 (got ${runsText})`)
const runs = runsText === undefined ? 7 : Number(runsText)
const dist = resolve(option("--dist") ?? join(root, "dist"))
const before = option("--a") === undefined ? undefined : resolve(option("--a"))
const withTsx = argv.includes("--tsx")
const profileDir = option("--profile") === undefined ? undefined : resolve(option("--profile"))
const databaseUrl = process.env.BENCH_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test"
const redisUrl = process.env.BENCH_REDIS_URL ?? "redis://127.0.0.1:6379"
const node = join(root, "node_modules/.bin/node")
const suffix = randomBytes(4).toString("hex")
const schema = `bench_${suffix}`
const prefix = `rf-bench-${suffix}`
const work = mkdtempSync(join(tmpdir(), "rf-coldstart-"))

const freePort = () =>
  new Promise((resolvePort) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address()
      server.close(() => resolvePort(port))
    })
  })

const sql = (statement) => execFileSync("psql", [databaseUrl, "-qAt", "-c", statement], { stdio: "pipe" })

// CPU times in /proc are in clock ticks (USER_HZ, 100 on Linux); undefined where there is no /proc
const tickMs = 1000 / Number(spawnSync("getconf", ["CLK_TCK"]).stdout?.toString().trim() || 100)
const statFields = (pid) => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
    return stat
      .slice(stat.lastIndexOf(")") + 2)
      .split(" ")
      .map(Number)
  } catch {
    return undefined
  }
}
/** A running process's user + system CPU so far, in ms. */
const cpuOf = (pid) => {
  const f = statFields(pid)
  return f === undefined ? undefined : (f[11] + f[12]) * tickMs
}
/** The CPU of this process's waited-for children so far, in ms. */
const childrenCpu = () => {
  const f = statFields("self")
  return f === undefined ? undefined : (f[13] + f[14]) * tickMs
}

/** `node -e 0`: wall and CPU. */
const baselineOnce = () => {
  const cpu = childrenCpu()
  const started = performance.now()
  execFileSync(node, ["-e", "0"])
  const wall = performance.now() - started
  const after = childrenCpu()
  return { wall, cpu: cpu === undefined || after === undefined ? undefined : after - cpu }
}

/**
 * Spawn, poll `path` every 2 ms, return the wall ms to the first 200 and the program's CPU ms at that moment; the
 * process is then SIGTERMed and awaited (SIGKILLed after 15 s), and how it ended is returned too.
 */
const timeOnce = async ({ command, args, cwd, readyPort, path = "/readyz", env }) => {
  const port = await freePort()
  const metricsPort = await freePort()
  const started = performance.now()
  const child = spawn(command, args, {
    cwd,
    stdio: ["ignore", "pipe", "pipe"],
    env: {
      ...runtimeEnv,
      PATH: process.env.PATH,
      HOME: work,
      DATABASE_URL: databaseUrl,
      DATABASE_SCHEMA: schema,
      REDIS_URL: redisUrl,
      REDIS_KEY_PREFIX: prefix,
      HOST: "127.0.0.1",
      PORT: String(port),
      METRICS_PORT: String(metricsPort),
      LOG_LEVEL: "warn",
      ...env
    }
  })
  let output = ""
  // logs go to stdout (JSON) and stderr: both are kept to explain a failed start
  const collect = (chunk) => {
    output += chunk
  }
  child.stdout.on("data", collect)
  child.stderr.on("data", collect)
  // "close": the process has ended and its output is all read
  const exited = new Promise((resolveExit) => child.on("close", (code, signal) => resolveExit({ code, signal })))
  const url = `http://127.0.0.1:${readyPort === "metrics" ? metricsPort : port}${path}`
  let ready
  try {
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null)
        throw new Error(`ended (${child.signalCode ?? `exit code ${child.exitCode}`}) before ready:\n${output}`)
      if (performance.now() - started > 60_000) throw new Error(`not ready after 60 s:\n${output}`)
      const ok = await fetch(url).then(
        (response) => response.status === 200,
        () => false
      )
      // readyUs: on the clock of V8's CPU profiles (CLOCK_MONOTONIC, µs), to read a profile up to this answer
      if (ok) {
        ready = {
          wall: performance.now() - started,
          cpu: cpuOf(child.pid),
          readyUs: Number(process.hrtime.bigint() / 1000n)
        }
        break
      }
      await new Promise((r) => setTimeout(r, 2))
    }
  } finally {
    child.kill("SIGTERM")
    const killer = setTimeout(() => child.kill("SIGKILL"), 15_000)
    ready = { ...ready, ...(await exited), output }
    clearTimeout(killer)
  }
  return ready
}

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  // an even count: the mean of the two middle values
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
}

let baselineMedian = { wall: undefined, cpu: undefined }
const row = (label, samples) => {
  const walls = samples.map((s) => s.wall)
  const cpus = samples.map((s) => s.cpu).filter((c) => c !== undefined)
  const wall = median(walls)
  const cpu = cpus.length > 0 ? median(cpus) : undefined
  const f = (ms) => `${ms.toFixed(0).padStart(5)} ms`
  const ratio = (value, base) =>
    value === undefined || base === undefined || base === 0 ? "    -" : `${(value / base).toFixed(1).padStart(4)}x`
  console.log(
    `${label.padEnd(42)} median ${f(wall)}  min ${f(Math.min(...walls))}  max ${f(Math.max(...walls))}` +
      `  cpu ${cpu === undefined ? "    -   " : f(cpu)}  ${ratio(wall, baselineMedian.wall)} / ${ratio(cpu, baselineMedian.cpu)}` +
      `  (n=${samples.length})`
  )
}

/** Sample every variant in turn, `n` times; print one row each, in order. */
const interleaved = async (variants, n = runs) => {
  const samples = variants.map(() => [])
  for (let i = 0; i < n; i++) {
    for (const [index, variant] of variants.entries()) samples[index].push(await variant.sample())
  }
  return samples
}

/** Warm a compile cache the way the Dockerfile does: one start against a Postgres and a Redis that refuse (port 9). */
const warmCompileCache = (cwd, cache) =>
  spawnSync(node, ["index.mjs"], {
    cwd,
    stdio: "ignore",
    timeout: 60_000,
    env: {
      ...runtimeEnv,
      PATH: process.env.PATH,
      HOME: work,
      ...warmUpEnv,
      NODE_COMPILE_CACHE: cache
    }
  })

try {
  for (const name of ["ingest", "consumer"]) {
    if (!existsSync(join(dist, name, "index.mjs"))) throw new Error(`${dist}/${name} missing: npm run build:bundles`)
    cpSync(join(dist, name), join(work, name), { recursive: true })
    if (before !== undefined) {
      if (!existsSync(join(before, name, "index.mjs"))) throw new Error(`${before}/${name} missing (--a)`)
      cpSync(join(before, name), join(work, "a", name), { recursive: true })
    }
  }
  sql(`CREATE SCHEMA "${schema}"`)
  console.log(
    `node ${execFileSync(node, ["--version"]).toString().trim()}, ${runs} runs of each row, interleaved; Postgres + Redis; ` +
      `bundles from ${dist}${before === undefined ? "" : `, A: ${before}`}\ncolumns: wall ms (spawn -> first 200), the program's CPU ms until then, ` +
      "then wall / cpu as a multiple of node -e 0's\n"
  )

  const programs = [
    { name: "ingest", readyPort: "http", source: "src/programs/ingest.ts" },
    { name: "consumer", readyPort: "metrics", source: "src/programs/consumer.ts" }
  ]
  const specOf = (program) => ({
    command: node,
    args: ["index.mjs"],
    cwd: join(work, program.name),
    readyPort: program.readyPort
  })
  // the first start applies the migrations (timed on its own, before the baseline is known: ratios come later)
  const first = await timeOnce(specOf(programs[0]))

  for (const program of programs) warmCompileCache(specOf(program).cwd, join(work, `compile-cache-${program.name}`))
  const specOfA = (program) => ({ ...specOf(program), cwd: join(work, "a", program.name) })
  if (before !== undefined)
    for (const program of programs)
      warmCompileCache(specOfA(program).cwd, join(work, `compile-cache-a-${program.name}`))
  const variants = [
    { label: "node -e 0 (process baseline)", sample: async () => baselineOnce() },
    ...programs.flatMap((program) => [
      { label: `${program.name} bundle`, sample: () => timeOnce(specOf(program)) },
      {
        label: `${program.name} bundle + NODE_COMPILE_CACHE`,
        sample: () =>
          timeOnce({ ...specOf(program), env: { NODE_COMPILE_CACHE: join(work, `compile-cache-${program.name}`) } })
      },
      {
        label: `${program.name} bundle, first /healthz`,
        sample: () => timeOnce({ ...specOf(program), path: "/healthz" })
      },
      ...(before === undefined
        ? []
        : [
            {
              label: `A: ${program.name} bundle + NODE_COMPILE_CACHE`,
              sample: () =>
                timeOnce({
                  ...specOfA(program),
                  env: { NODE_COMPILE_CACHE: join(work, `compile-cache-a-${program.name}`) }
                })
            }
          ])
    ])
  ]
  const samples = await interleaved(variants)
  baselineMedian = { wall: median(samples[0].map((s) => s.wall)), cpu: median(samples[0].map((s) => s.cpu)) }
  row(variants[0].label, samples[0])
  row("ingest bundle, first start (migrations)", [first])
  for (const [index, variant] of variants.entries()) if (index > 0) row(variant.label, samples[index])

  if (profileDir !== undefined) {
    for (const program of programs) {
      // from the timed rows' copy (no node_modules around it, as in the image), its frames then renamed to the build
      // folder's files, whose source maps name the sources when the profiles are read
      const cwd = specOf(program).cwd
      const cache = join(work, `compile-cache-${program.name}`)
      // V8 names a module by its real path
      const copied = `${pathToFileURL(realpathSync(cwd)).href}/`
      const built = `${pathToFileURL(join(dist, program.name)).href}/`
      const out = join(profileDir, program.name)
      mkdirSync(out, { recursive: true })
      const ready = {}
      for (let i = 0; i < runs; i++) {
        const name = `start-${i}.cpuprofile`
        const sample = await timeOnce({
          ...specOf(program),
          args: [
            "--cpu-prof",
            `--cpu-prof-dir=${out}`,
            `--cpu-prof-name=${name}`,
            "--cpu-prof-interval=100",
            "index.mjs"
          ],
          cwd,
          env: { NODE_COMPILE_CACHE: cache }
        })
        const file = join(out, name)
        // a profile is written as the process exits: a start that did not end cleanly has none, or a cut one
        if (sample.code !== 0 || !existsSync(file))
          throw new Error(
            `profiled start ${i + 1} of ${program.name} ended with ${sample.signal ?? `exit code ${sample.code}`}` +
              `${existsSync(file) ? "" : `, no ${file}`}:\n${sample.output}`
          )
        const renamed = readFileSync(file, "utf8").replaceAll(copied, built)
        if (!renamed.includes(built)) throw new Error(`${file}: no frame of ${copied} to name as ${built}`)
        writeFileSync(file, renamed)
        ready[name] = sample.readyUs
      }
      writeFileSync(join(out, "ready.json"), `${JSON.stringify(ready, null, 2)}\n`)
    }
    console.log(`\nCPU profiles of ${runs} starts of each bundle (compile cache warm) in ${profileDir}`)
  }

  if (withTsx) {
    for (const program of programs) {
      const tsx = { ...specOf(program), args: [join(root, "node_modules/tsx/dist/cli.mjs"), program.source], cwd: root }
      const [tsxSamples] = await interleaved([{ sample: () => timeOnce(tsx) }], Math.min(runs, 3))
      row(`${program.name} source (tsx)`, tsxSamples)
    }
  }
} catch (error) {
  console.error(`coldstart failed: ${error instanceof Error ? error.message : String(error)}`)
  process.exitCode = 1
} finally {
  try {
    sql(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
  } catch {}
  try {
    const keys = execFileSync("redis-cli", ["-u", redisUrl, "--scan", "--pattern", `${prefix}:*`])
      .toString()
      .split("\n")
    for (let i = 0; i < keys.length; i += 500) {
      const batch = keys.slice(i, i + 500).filter(Boolean)
      if (batch.length > 0) execFileSync("redis-cli", ["-u", redisUrl, "DEL", ...batch], { stdio: "ignore" })
    }
  } catch {}
  rmSync(work, { recursive: true, force: true })
}
