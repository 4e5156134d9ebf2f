#!/usr/bin/env node
// Cold start: ms from spawning a program to its first 200 on /readyz, for each bundle (dist/ingest, dist/consumer),
// run from a copy in an empty temp dir (no node_modules) against the real Postgres (fresh schema) and Redis.
//
//   npm run build && node scripts/bench/coldstart.mjs [--runs 7] [--tsx]
//     --tsx   also time the TypeScript sources through tsx, for comparison
// Env: BENCH_DATABASE_URL (postgres://postgres@127.0.0.1:5432/test), BENCH_REDIS_URL (redis://127.0.0.1:6379)
import { execFileSync, spawn, spawnSync } from "node:child_process"
import { randomBytes } from "node:crypto"
import { cpSync, existsSync, mkdtempSync, rmSync } from "node:fs"
import { createServer } from "node:net"
import { tmpdir } from "node:os"
import { dirname, join, resolve } from "node:path"
import { fileURLToPath } from "node:url"

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..")
const argv = process.argv.slice(2)
const runs = Number(argv[argv.indexOf("--runs") + 1] || 7) || 7
const withTsx = argv.includes("--tsx")
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

/** Spawn, poll /readyz every 2 ms, return ms to the first 200; the process is then SIGTERMed and awaited. */
const timeOnce = async ({ command, args, cwd, readyPort, env }) => {
  const port = await freePort()
  const metricsPort = await freePort()
  const started = performance.now()
  const child = spawn(command, args, {
    cwd,
    stdio: ["ignore", "pipe", "pipe"],
    env: {
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
  let stderr = ""
  // logs go to stdout (JSON) and stderr: both are kept to explain a failed start
  const collect = (chunk) => {
    stderr += chunk
  }
  child.stdout.on("data", collect)
  child.stderr.on("data", collect)
  const exited = new Promise((resolveExit) => child.on("exit", resolveExit))
  const url = `http://127.0.0.1:${readyPort === "metrics" ? metricsPort : port}/readyz`
  try {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`exited ${child.exitCode} before ready:\n${stderr}`)
      if (performance.now() - started > 60_000) throw new Error(`not ready after 60 s:\n${stderr}`)
      const ok = await fetch(url).then(
        (response) => response.status === 200,
        () => false
      )
      if (ok) return performance.now() - started
      await new Promise((r) => setTimeout(r, 2))
    }
  } finally {
    child.kill("SIGTERM")
    await exited
  }
}

const stats = (samples) => {
  const sorted = [...samples].sort((a, b) => a - b)
  const median = sorted[Math.floor(sorted.length / 2)]
  return { min: sorted[0], median, max: sorted.at(-1) }
}

const row = (label, samples) => {
  const { min, median, max } = stats(samples)
  const f = (ms) => `${ms.toFixed(0).padStart(5)} ms`
  console.log(`${label.padEnd(38)} median ${f(median)}   min ${f(min)}   max ${f(max)}   (n=${samples.length})`)
}

const bench = async (label, spec, n = runs) => {
  const samples = []
  for (let i = 0; i < n; i++) samples.push(await timeOnce(spec))
  row(label, samples)
}

try {
  for (const name of ["ingest", "consumer"]) {
    if (!existsSync(join(root, "dist", name, "index.mjs"))) throw new Error(`dist/${name} missing: npm run build`)
    cpSync(join(root, "dist", name), join(work, name), { recursive: true })
  }
  sql(`CREATE SCHEMA "${schema}"`)
  console.log(`node ${execFileSync(node, ["--version"]).toString().trim()}, ${runs} runs each, Postgres + Redis\n`)
  const baseline = []
  for (let i = 0; i < runs; i++) {
    const t = performance.now()
    execFileSync(node, ["-e", "0"])
    baseline.push(performance.now() - t)
  }
  row("node -e 0 (process baseline)", baseline)

  const programs = [
    { name: "ingest", readyPort: "http", source: "src/programs/ingest.ts" },
    { name: "consumer", readyPort: "metrics", source: "src/programs/consumer.ts" }
  ]
  // the first start applies the migrations; it is reported on its own
  await bench(
    "ingest bundle, first (migrations)",
    {
      command: node,
      args: ["index.mjs"],
      cwd: join(work, "ingest"),
      readyPort: "http"
    },
    1
  )
  for (const program of programs) {
    const spec = { command: node, args: ["index.mjs"], cwd: join(work, program.name), readyPort: program.readyPort }
    await bench(`${program.name} bundle`, spec)
    const cache = join(work, `compile-cache-${program.name}`)
    // warmed the way the Dockerfile does: one start that fails config validation at once, so nothing connects
    spawnSync(node, ["index.mjs"], {
      cwd: spec.cwd,
      stdio: "ignore",
      env: { PATH: process.env.PATH, PORT: "invalid", METRICS_PORT: "invalid", NODE_COMPILE_CACHE: cache }
    })
    await bench(`${program.name} bundle + NODE_COMPILE_CACHE`, { ...spec, env: { NODE_COMPILE_CACHE: cache } })
    if (withTsx) {
      await bench(
        `${program.name} source (tsx)`,
        {
          command: node,
          args: [join(root, "node_modules/tsx/dist/cli.mjs"), program.source],
          cwd: root,
          readyPort: program.readyPort
        },
        Math.min(runs, 3)
      )
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
