// Lambda cold start: ms from spawning a fresh Node 24 process to the first answer of a handler bundle
// (dist/lambda/<name>/index.mjs, copied to an empty temp dir: no node_modules), next to `node -e 0` in the same run;
// and the bundles' sizes. Against the local Postgres (a fresh schema, migrated once beforehand, as `revenueflow
// migrate` does at deploy time) and a fake SQS speaking the AWS JSON protocol (test/fakes/sqs.ts).
//
//   npm run build:bundles && npm run bench:lambda [-- --runs 7] [--dist <dir>] [--a <dir>]
//     --dist  bench the handler bundles in <dir>/lambda (default dist/)
//     --a     also bench those in <dir>/lambda (a build from before a change, e.g. cp -r dist /tmp/before), the two
//             builds taking turns run after run (ABBA), each case's medians side by side
// Each row gives the wall time from spawn to the answer and the process's CPU time by then (user + kernel).
// Env: BENCH_DATABASE_URL (postgres://postgres@127.0.0.1:5432/test)
import { execFileSync } from "node:child_process"
import { randomBytes } from "node:crypto"
import { cpSync, existsSync, mkdtempSync, readdirSync, rmSync, statSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import postgres from "postgres"
import { httpEvent, scheduledEvent, sqsEvent } from "../../test/lambda/events.js"
import { makeFakeSqs } from "../../test/fakes/sqs.js"
import { wholeNumberOption } from "./lib/args.js"
import { type Invocation, invokeBundle, nodeBaseline } from "./lib/lambdaInvoke.js"
import { fmt, ratio, table } from "./lib/table.js"

const root = resolve(fileURLToPath(import.meta.url), "../../..")
const argv = process.argv.slice(2)
const runs = wholeNumberOption(argv, "--runs", 5, 1)
const option = (name: string) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : undefined)
const builds = [
  ...(option("--a") === undefined ? [] : [{ label: "A", dist: resolve(option("--a") ?? "") }]),
  { label: option("--a") === undefined ? "" : "B", dist: resolve(option("--dist") ?? join(root, "dist")) }
]
const node = join(root, "node_modules/node/bin/node")
const databaseUrl = process.env.BENCH_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test"
const names = ["ingest", "consumer", "sweep"] as const

const median = (xs: ReadonlyArray<number>) => {
  const sorted = [...xs].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? (sorted[mid] ?? Number.NaN) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2
}

/** Bytes of the files under `dir` that a deployment ships (no source maps, no esbuild meta). */
const shippedBytes = (dir: string): number =>
  readdirSync(dir, { withFileTypes: true }).reduce((sum, entry) => {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) return sum + shippedBytes(path)
    return entry.name.endsWith(".map") || entry.name === "meta.json" ? sum : sum + statSync(path).size
  }, 0)

const main = async () => {
  for (const build of builds) {
    for (const name of names) {
      if (!existsSync(join(build.dist, "lambda", name, "index.mjs"))) {
        console.error(`${join(build.dist, "lambda", name)}/index.mjs is missing: run npm run build:bundles first`)
        process.exit(1)
      }
    }
  }
  const work = mkdtempSync(join(tmpdir(), "rf-lambda-cold-"))
  const scope = Effect.runSync(Scope.make())
  const schema = `bench_lambda_${randomBytes(4).toString("hex")}`
  const sql = postgres(databaseUrl, { max: 1, onnotice: () => {} })
  try {
    const dirOf = (build: number, name: string) => join(work, String(build), name)
    builds.forEach((build, b) => {
      for (const name of names) cpSync(join(build.dist, "lambda", name), dirOf(b, name), { recursive: true })
    })
    const fake = await Effect.runPromise(Scope.extend(makeFakeSqs, scope))
    const { url, dlqUrl } = fake.createQueue("bench-leads", { deadLetter: { name: "bench-dlq", maxReceiveCount: 3 } })
    await sql.unsafe(`CREATE SCHEMA ${schema}`)
    const env = {
      DATABASE_URL: databaseUrl,
      DATABASE_SCHEMA: schema,
      SQS_QUEUE_URL: url,
      SQS_DLQ_URL: dlqUrl ?? "",
      AWS_REGION: "eu-west-1",
      AWS_ACCESS_KEY_ID: "AKIAFAKEBENCH",
      AWS_SECRET_ACCESS_KEY: "fake-secret",
      AWS_ENDPOINT_URL_SQS: fake.url,
      LOG_LEVEL: "WARN"
    }
    const invoke = (build: number, name: string, event: unknown, extra: Record<string, string> = {}) =>
      invokeBundle({ node, dir: dirOf(build, name), event, env: { ...env, ...extra } })
    // the deploy step: migrations once (the handlers default MIGRATE_ON_START to false)
    await invoke(builds.length - 1, "sweep", scheduledEvent(), { MIGRATE_ON_START: "true" })

    const postLead = (i: number) =>
      httpEvent("http-api-v2", {
        method: "POST",
        path: "/leads",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          email: `cold.${i}.${randomBytes(3).toString("hex")}@globex.com`,
          campaignId: "lambda-bench",
          firstName: "Ada",
          company: "Globex"
        })
      })
    const labels = [
      "ingest GET /healthz",
      "ingest POST /leads",
      "consumer (1 SQS record -> SYNCED)",
      "sweep (scheduled event)"
    ]
    // samples[build][case]
    const samples = builds.map(() => labels.map((): Array<Invocation> => []))
    const baseline: Array<number> = []
    const expectAnswer = (got: Invocation, check: (result: never) => boolean, what: string) => {
      if (!check(got.result as never)) throw new Error(`${what}: unexpected answer ${JSON.stringify(got.result)}`)
      return got
    }
    /** One cold start of each handler of one build: a lead posted, then consumed, then the sweep. */
    const coldStarts = async (b: number, run: number) => {
      const at = samples[b] ?? []
      const health = await invoke(b, "ingest", httpEvent("http-api-v2", { method: "GET", path: "/healthz" }))
      at[0]?.push(expectAnswer(health, (r: { statusCode: number }) => r.statusCode === 200, "healthz"))
      fake.purge("bench-leads")
      const posted = await invoke(b, "ingest", postLead(run * builds.length + b))
      at[1]?.push(expectAnswer(posted, (r: { statusCode: number }) => r.statusCode === 202, "POST /leads"))
      const [message] = fake.messages("bench-leads")
      if (message === undefined) throw new Error("POST /leads enqueued nothing")
      const consumed = await invoke(
        b,
        "consumer",
        sqsEvent([{ messageId: message.id, receiptHandle: "bench", body: message.body, receiveCount: 1 }])
      )
      at[2]?.push(
        expectAnswer(
          consumed,
          (r: { batchItemFailures: Array<unknown> }) => r.batchItemFailures.length === 0,
          "consumer"
        )
      )
      const swept = await invoke(b, "sweep", scheduledEvent())
      at[3]?.push(expectAnswer(swept, (r: { enqueued: number }) => typeof r.enqueued === "number", "sweep"))
    }
    for (let run = 0; run < runs; run++) {
      baseline.push(await nodeBaseline(node))
      // the builds take turns, ABBA, so the machine's drift falls on both
      const order = builds.map((_, b) => b)
      if (run % 2 === 1) order.reverse()
      for (const b of order) await coldStarts(b, run)
    }
    const synced = await sql.unsafe(`SELECT count(*)::int AS n FROM ${schema}.leads WHERE status = 'SYNCED'`)
    const floor = median(baseline)
    const wall = (b: number, c: number) => median((samples[b]?.[c] ?? []).map((i) => i.ms))
    const cpu = (b: number, c: number) => median((samples[b]?.[c] ?? []).map((i) => i.cpuMs))
    const change = (before: number, after: number) =>
      `${after >= before ? "+" : ""}${(((after - before) / before) * 100).toFixed(1)} %`
    console.log(
      `Lambda cold start: node ${execFileSync(node, ["--version"]).toString().trim()}, ${runs} runs each, spawn -> first handler answer (ms; CPU: the process's by then)\n`
    )
    if (builds.length === 1) {
      console.log(
        table(
          ["case", "median", "min", "max", "vs node -e 0", "cpu"],
          [
            ["node -e 0", floor, Math.min(...baseline), Math.max(...baseline), "1.00x", "-"],
            ...labels.map((label, c) => {
              const walls = (samples[0]?.[c] ?? []).map((i) => i.ms)
              return [
                label,
                median(walls),
                Math.min(...walls),
                Math.max(...walls),
                ratio(median(walls), floor),
                cpu(0, c)
              ]
            })
          ]
        )
      )
    } else {
      console.log(`A = ${builds[0]?.dist}, B = ${builds[1]?.dist}; the builds in turns (ABBA), medians of ${runs}\n`)
      console.log(
        table(
          ["case", "A wall", "B wall", "wall B vs A", "A cpu", "B cpu", "cpu B vs A"],
          labels.map((label, c) => [
            label,
            wall(0, c),
            wall(1, c),
            change(wall(0, c), wall(1, c)),
            cpu(0, c),
            cpu(1, c),
            change(cpu(0, c), cpu(1, c))
          ])
        )
      )
      console.log(`\nnode -e 0: ${fmt(floor)} ms (median)`)
    }
    console.log(`\nleads SYNCED by the consumer runs: ${synced[0]?.n ?? 0} of ${runs * builds.length}\n`)
    console.log(
      table(
        ["bundle", "index.mjs KiB", "shipped KiB (chunks, assets; no maps)"],
        names.map((name) => [
          `${builds.length > 1 ? "B " : ""}lambda/${name}`,
          statSync(join(dirOf(builds.length - 1, name), "index.mjs")).size / 1024,
          shippedBytes(dirOf(builds.length - 1, name)) / 1024
        ])
      )
    )
    console.log(`\n${fmt(floor)} ms is the floor: a Node process that does nothing.`)
  } finally {
    await sql.unsafe(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => undefined)
    await sql.end()
    await Effect.runPromise(Scope.close(scope, Exit.void))
    rmSync(work, { recursive: true, force: true })
  }
}

await main()
