// Ingest throughput: the real ingest program (bundle, else tsx) against a raw node:http + postgres.js + BullMQ
// baseline doing the same work, both on real Postgres (fresh schemas) and Redis (fresh prefixes).
//   npm run bench:ingest [-- --short | --smoke | --profile] [--seconds N] [--connections 10,50,100]
// --profile: ours only, through tsx under --cpu-prof at 50 connections, then the top self-time functions.
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import { summarizeProfiles } from "./lib/cpuprofile.js"
import { admin, cleanups, redisClient, suffix } from "./lib/env.js"
import { type Kind, measure, measureDuplicates, QUEUE, type Server, startServer } from "./lib/ingestServers.js"
import { uniqueLeads } from "./lib/leads.js"
import { formatStatuses, type LoadResult } from "./lib/load.js"
import { programArgs, rssMiB, sleep } from "../lib/processes.js"
import { fmt, ratio, table } from "./lib/table.js"
import { type Verification, verifyAcknowledged } from "./lib/verify.js"

/** How long and how hard to push. */
export interface IngestProfile {
  readonly seconds: number
  readonly warmup: number
  readonly connections: ReadonlyArray<number>
  /** Also measure the raw baseline plus the QUEUED update the real ingest does (like-for-like). */
  readonly likeForLike: boolean
}

export const ingestProfiles = {
  full: { seconds: 10, warmup: 3, connections: [10, 50, 100], likeForLike: true },
  short: { seconds: 5, warmup: 2, connections: [10, 50, 100], likeForLike: true },
  smoke: { seconds: 2, warmup: 1, connections: [10], likeForLike: false }
} satisfies Record<string, IngestProfile>

/** One measured row: a mode at a connection count, ours against a raw server. */
export interface IngestRow {
  readonly mode: "unique" | "duplicate"
  readonly ours: LoadResult & { readonly cpuMsPerRequest: number }
  readonly raw: LoadResult & { readonly cpuMsPerRequest: number }
  readonly rawKind: Kind
}

/** Everything the ingest benchmark measured. */
export interface IngestReport {
  readonly via: string
  readonly rows: ReadonlyArray<IngestRow>
  readonly verification: Readonly<Record<string, Verification>>
  readonly rss: { readonly idle: number; readonly peak: number; readonly rawIdle: number; readonly rawPeak: number }
  /** Failures that are errors (lost leads, non-2xx, socket errors), never speed. */
  readonly errors: ReadonlyArray<string>
  /** Error-level lines ours logged (a client that hangs up mid-request is logged as "unhandled request failure"). */
  readonly loggedErrors: ReadonlyArray<string>
}

/** Run the ingest benchmark; with `cpuProfileDir`, only ours runs (tsx, --cpu-prof) at 50 connections. */
export const runIngestBench = async (profile: IngestProfile, cpuProfileDir?: string): Promise<IngestReport> => {
  const sfx = suffix()
  const sql = admin()
  const redis = redisClient()
  const cleanup = cleanups()
  cleanup.add(() => sql.end({ timeout: 5 }))
  cleanup.add(async () => redis.disconnect())
  const deps = { sql, redis, cleanup, sfx, cpuProfileDir }
  const { seconds, warmup } = profile
  try {
    const ours = await startServer("ours", deps)
    const raw = cpuProfileDir ? ours : await startServer("raw", deps)
    await sleep(1000)
    const idle = rssMiB(ours.running.pid) ?? 0
    const rawIdle = rssMiB(raw.running.pid) ?? 0
    const peakOurs = ours.running.samplePeakRss()
    const peakRaw = raw.running.samplePeakRss()
    const rows: Array<IngestRow> = []
    const connections = cpuProfileDir ? [50] : profile.connections
    // ours and raw alternate at each connection count, so drift (table growth, other load) hits both alike
    for (const c of connections) {
      const o = await measure(ours, c, warmup, seconds, uniqueLeads(`${sfx}o${c}`))
      const r = cpuProfileDir ? o : await measure(raw, c, warmup, seconds, uniqueLeads(`${sfx}r${c}`))
      rows.push({ mode: "unique", ours: o, raw: r, rawKind: "raw" })
    }
    const servers: Array<Server> = cpuProfileDir ? [ours] : [ours, raw]
    if (!cpuProfileDir) {
      const c = connections.includes(50) ? 50 : (connections[0] ?? 10)
      const o = await measureDuplicates(ours, c, warmup, seconds)
      rows.push({ mode: "duplicate", ours: o, raw: await measureDuplicates(raw, c, warmup, seconds), rawKind: "raw" })
      const unique = rows.find((row) => row.mode === "unique" && row.ours.connections === c)
      if (profile.likeForLike && unique) {
        const queued = await startServer("raw+queued", deps)
        servers.push(queued)
        const r = await measure(queued, c, warmup, seconds, uniqueLeads(`${sfx}q${c}`))
        rows.push({ mode: "unique", ours: unique.ours, raw: r, rawKind: "raw+queued" })
      }
    }
    const rss = { idle, peak: peakOurs(), rawIdle, rawPeak: peakRaw() }
    const verification: Record<string, Verification> = {}
    for (const server of servers) {
      verification[server.kind] = await verifyAcknowledged(sql, redis, {
        schema: server.schema,
        prefix: server.prefix,
        queue: QUEUE,
        ids: server.ids,
        expectStatus: server.kind === "raw" ? "RECEIVED" : "QUEUED"
      })
    }
    return {
      via: cpuProfileDir ? "tsx (--cpu-prof)" : programArgs("ingest").via,
      rows,
      verification,
      rss,
      errors: errorsOf(rows, verification),
      loggedErrors: ours.running.errorLines()
    }
  } finally {
    await cleanup.run()
  }
}

const errorsOf = (rows: ReadonlyArray<IngestRow>, verification: Record<string, Verification>) => {
  const errors: Array<string> = []
  for (const [kind, v] of Object.entries(verification))
    if (v.lost > 0) errors.push(`${kind}: ${v.lost} acknowledged lead(s) missing from Postgres or the queue`)
  for (const row of rows)
    for (const [kind, result] of [
      ["ours", row.ours],
      [row.rawKind, row.raw]
    ] as const) {
      const bad = Object.keys(result.statuses).some((status) => !status.startsWith("2"))
      if (bad || result.errors > 0)
        errors.push(
          `${kind} ${row.mode}@${result.connections}: ${formatStatuses(result.statuses)} errors:${result.errors}`
        )
    }
  return errors
}

/** The report as text: throughput table, verification, memory and the targets. */
export const renderIngest = (report: IngestReport) => {
  const rows = report.rows.map((row) => [
    row.mode,
    row.rawKind,
    row.ours.connections,
    row.ours.rps,
    row.raw.rps,
    ratio(row.ours.rps, row.raw.rps),
    row.ours.p50,
    row.ours.p99,
    row.raw.p50,
    row.raw.p99,
    row.ours.cpuMsPerRequest,
    row.raw.cpuMsPerRequest,
    formatStatuses(row.ours.statuses),
    formatStatuses(row.raw.statuses)
  ])
  const headers = [
    "mode",
    "baseline",
    "conns",
    "ours req/s",
    "raw req/s",
    "ours/raw",
    "ours p50",
    "ours p99",
    "raw p50",
    "raw p99",
    "ours cpu/req",
    "raw cpu/req",
    "ours statuses",
    "raw statuses"
  ]
  const verification = Object.entries(report.verification).map(([kind, v]) => [
    kind,
    v.acknowledged,
    v.rows,
    v.storedOfAcknowledged,
    v.queuedOfAcknowledged,
    v.waitingJobs,
    v.notQueuedStatus,
    v.lost
  ])
  const at50 = report.rows.find((row) => row.mode === "unique" && row.rawKind === "raw" && row.ours.connections === 50)
  const targets = at50
    ? [
        `target ingest >= 0.8x raw at 50 conns: ${ratio(at50.ours.rps, at50.raw.rps)} -> ${at50.ours.rps >= 0.8 * at50.raw.rps ? "MET" : "MISSED"}`,
        `target p99 < 25 ms at 50 conns: ${fmt(at50.ours.p99)} ms -> ${at50.ours.p99 < 25 ? "MET" : "MISSED"}`
      ]
    : []
  return [
    `ingest program run via: ${report.via}; latencies in ms`,
    table(headers, rows),
    "",
    table(["verify", "202s", "rows", "stored", "queued", "waiting jobs", "status mismatch", "missing"], verification),
    "",
    `RSS MiB: ours idle ${fmt(report.rss.idle)}, peak under load ${fmt(report.rss.peak)}; raw idle ${fmt(report.rss.rawIdle)}, peak ${fmt(report.rss.rawPeak)}`,
    ...targets,
    "202s < rows: requests in flight when a phase ended were stored (and queued) but their answer was not counted.",
    report.loggedErrors.length === 0
      ? "ours logged no errors"
      : `ours logged ${report.loggedErrors.length} error line(s), first: ${report.loggedErrors[0]?.slice(0, 300)}`,
    report.errors.length === 0 ? "errors: none" : `ERRORS:\n  ${report.errors.join("\n  ")}`
  ].join("\n")
}

/** --short / --smoke / --profile, --seconds N, --connections a,b,c. */
export const profileFromArgs = (argv: ReadonlyArray<string>): IngestProfile => {
  const base = argv.includes("--smoke")
    ? ingestProfiles.smoke
    : argv.includes("--short")
      ? ingestProfiles.short
      : ingestProfiles.full
  const value = (flag: string) => (argv.includes(flag) ? argv[argv.indexOf(flag) + 1] : undefined)
  const seconds = Number(value("--seconds") ?? base.seconds)
  const connections = value("--connections")?.split(",").map(Number) ?? base.connections
  return { ...base, seconds, connections }
}

if (fileURLToPath(import.meta.url) === resolve(process.argv[1] ?? "")) {
  const argv = process.argv.slice(2)
  const profileDir = argv.includes("--profile") ? mkdtempSync(join(tmpdir(), "rf-cpuprof-")) : undefined
  const report = await runIngestBench(profileFromArgs(argv), profileDir)
  console.log(renderIngest(report))
  if (profileDir) {
    console.log(`\nCPU profile of the ingest program (${profileDir}):\n${summarizeProfiles(profileDir)}`)
    if (!argv.includes("--keep-profile")) rmSync(profileDir, { recursive: true, force: true })
  }
  process.exitCode = report.errors.length > 0 ? 1 : 0
}
