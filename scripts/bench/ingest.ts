// Ingest throughput: the real ingest program (bundle, else tsx) against a raw node:http + postgres.js + BullMQ
// baseline doing the same work, both on real Postgres (fresh schemas) and Redis (fresh prefixes).
//   npm run bench:ingest [-- --short | --smoke | --profile] [--seconds N] [--warmup N] [--connections 50,200]
//     [--memory-leads N] [--raw]
//   npm run bench:ingest -- --alloc [--survivors] [--connections N] [--seconds N] [--warmup N] [--interval BYTES]
//     [--keep-profile]
// --profile: ours only (--raw: the raw baseline only), under --cpu-prof at 50 connections or the first of
// --connections (the bundle when built, its frames mapped to source through
// its source maps), then the top self-time functions.
// Then the memory phase: a fresh ours and a fresh raw each take exactly --memory-leads new leads (50,000; the smoke
// profile skips it) at 50 connections; RSS is read idle, right after, and after a quiet spell.
// --alloc: ours only, its inspector open, unique leads at 50 connections (or the first of --connections): V8's
// sampling heap profiler (one sample per --interval bytes, 8192 by default, collected objects kept; with
// --survivors only what no scavenge collected) over the measured seconds after the warm-up, per request: by
// function, by the project's nearest frame on the stack, by package.
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import { summarizeProfiles } from "./lib/cpuprofile.js"
import { wholeNumberOption, wholeNumbersOption } from "./lib/args.js"
import { reportAllocations, startAllocationSampling } from "./lib/heapProfile.js"
import { benchConnections, suffix } from "./lib/env.js"
import { type Kind, load, measure, measureDuplicates, QUEUE, type Server, startServer } from "./lib/ingestServers.js"
import { uniqueLeads } from "./lib/leads.js"
import { formatStatuses, type LoadResult } from "./lib/load.js"
import { programArgs, rssMiB, sleep } from "../lib/processes.js"
import { fmt, ratio, table } from "./lib/table.js"
import { ratioTarget, renderTargets, type Target, valueTarget } from "./lib/targets.js"
import { type Verification, verifyAcknowledged } from "./lib/verify.js"

/** How long and how hard to push. */
export interface IngestProfile {
  readonly seconds: number
  readonly warmup: number
  readonly connections: ReadonlyArray<number>
  /** Also measure the raw baseline plus the QUEUED update the real ingest does (like-for-like). */
  readonly likeForLike: boolean
  /** Leads each fresh server takes in the memory phase (0: no memory phase). */
  readonly memoryLeads: number
  /** Seconds without load before the RSS is read again. */
  readonly quietSeconds: number
}

export const ingestProfiles = {
  full: { seconds: 10, warmup: 3, connections: [50, 200], likeForLike: true, memoryLeads: 50_000, quietSeconds: 15 },
  short: { seconds: 5, warmup: 2, connections: [50, 200], likeForLike: true, memoryLeads: 50_000, quietSeconds: 15 },
  smoke: { seconds: 2, warmup: 1, connections: [10], likeForLike: false, memoryLeads: 0, quietSeconds: 0 }
} satisfies Record<string, IngestProfile>

/**
 * One measured row: a mode at a connection count, ours against a raw server. Under --profile one server runs alone:
 * its figures are `ours` (the raw baseline's with --raw, as `IngestReport.profiled` says) and there is no `raw`.
 */
export interface IngestRow {
  readonly mode: "unique" | "duplicate"
  readonly ours: LoadResult & { readonly cpuMsPerRequest: number }
  readonly raw: (LoadResult & { readonly cpuMsPerRequest: number }) | undefined
  readonly rawKind: Kind
}

/** RSS (MiB) of a fresh server: 1 s after start, settled, right after the memory phase's leads, and after the quiet spell. */
export interface MemoryRow {
  readonly kind: Kind
  readonly leads: number
  readonly started: number
  /** After the quiet spell, before any load. */
  readonly idle: number
  readonly afterLoad: number
  readonly afterQuiet: number
  readonly quietSeconds: number
}

/** Everything the ingest benchmark measured. */
export interface IngestReport {
  readonly via: string
  /** The one server that ran under the CPU profiler (--profile): no baseline beside it, no targets judged. */
  readonly profiled: "ours" | "raw" | undefined
  readonly rows: ReadonlyArray<IngestRow>
  readonly memory: ReadonlyArray<MemoryRow>
  /** By server: each measured server, each fresh server of the memory phase (" (memory phase)"). */
  readonly verification: Readonly<Record<string, Verification>>
  readonly rss: {
    readonly idle: number
    readonly peak: number
    readonly rawIdle: number | undefined
    readonly rawPeak: number | undefined
  }
  /** Failures that are errors (lost leads, non-2xx, socket errors), never speed. */
  readonly errors: ReadonlyArray<string>
  /** Error-level lines ours logged (a client that hangs up mid-request is logged as "unhandled request failure"). */
  readonly loggedErrors: ReadonlyArray<string>
}

/**
 * Run the ingest benchmark; with `cpuProfileDir`, only one server runs (under --cpu-prof) at the first connection
 * count: ours, or the raw baseline (`profiled`), to set their profiles side by side.
 */
export const runIngestBench = async (
  profile: IngestProfile,
  cpuProfileDir?: string,
  profiled: "ours" | "raw" = "ours"
): Promise<IngestReport> => {
  const sfx = suffix()
  const { sql, redis, cleanup } = benchConnections()
  const deps = { sql, redis, cleanup, sfx, cpuProfileDir }
  const { seconds, warmup } = profile
  try {
    const ours = cpuProfileDir ? await startServer(profiled, deps) : await startServer("ours", deps)
    const raw = cpuProfileDir ? undefined : await startServer("raw", deps)
    await sleep(1000)
    const idle = rssMiB(ours.running.pid) ?? 0
    const rawIdle = raw === undefined ? undefined : (rssMiB(raw.running.pid) ?? 0)
    const peakOurs = ours.running.samplePeakRss()
    const peakRaw = raw?.running.samplePeakRss()
    const rows: Array<IngestRow> = []
    const connections = cpuProfileDir ? profile.connections.slice(0, 1) : profile.connections
    // ours and raw alternate at each connection count, so drift (table growth, other load) hits both alike
    for (const c of connections) {
      const o = await measure(ours, c, warmup, seconds, uniqueLeads(`${sfx}o${c}`))
      const r = raw === undefined ? undefined : await measure(raw, c, warmup, seconds, uniqueLeads(`${sfx}r${c}`))
      rows.push({ mode: "unique", ours: o, raw: r, rawKind: "raw" })
    }
    // each server's acknowledged leads are verified under its own label, the memory phase's too
    const servers: Array<{ readonly label: string; readonly server: Server }> = [
      { label: profiled === "raw" && cpuProfileDir ? "raw" : "ours", server: ours }
    ]
    if (raw !== undefined) {
      servers.push({ label: "raw", server: raw })
      const c = connections.includes(50) ? 50 : (connections[0] ?? 10)
      const o = await measureDuplicates(ours, c, warmup, seconds)
      rows.push({ mode: "duplicate", ours: o, raw: await measureDuplicates(raw, c, warmup, seconds), rawKind: "raw" })
      const unique = rows.find((row) => row.mode === "unique" && row.ours.connections === c)
      if (profile.likeForLike && unique) {
        const queued = await startServer("raw+queued", deps)
        servers.push({ label: "raw+queued", server: queued })
        const r = await measure(queued, c, warmup, seconds, uniqueLeads(`${sfx}q${c}`))
        rows.push({ mode: "unique", ours: unique.ours, raw: r, rawKind: "raw+queued" })
      }
    }
    const rss = { idle, peak: peakOurs(), rawIdle, rawPeak: peakRaw?.() }
    const memory: Array<MemoryRow> = []
    if (!cpuProfileDir && profile.memoryLeads > 0) {
      // the measured servers stop first, so the memory phase has the machine to itself
      for (const { server } of servers) await server.running.stop()
      for (const kind of ["ours", "raw"] as const) {
        const { server, row } = await memoryPhase(kind, deps, profile)
        servers.push({ label: `${kind} (memory phase)`, server })
        memory.push(row)
      }
    }
    const verification: Record<string, Verification> = {}
    for (const { label, server } of servers) {
      verification[label] = await verifyAcknowledged(sql, redis, {
        schema: server.schema,
        prefix: server.prefix,
        queue: QUEUE,
        ids: server.ids,
        expectStatus: server.kind === "raw" ? "RECEIVED" : "QUEUED"
      })
    }
    return {
      via: cpuProfileDir
        ? `${profiled === "raw" ? "the raw baseline" : programArgs("ingest").via} (--cpu-prof)`
        : programArgs("ingest").via,
      profiled: cpuProfileDir ? profiled : undefined,
      rows,
      memory,
      verification,
      rss,
      errors: errorsOf(rows, verification),
      loggedErrors: ours.running.errorLines()
    }
  } finally {
    await cleanup.run()
  }
}

/**
 * A fresh server's RSS 1 s after start and settled (after the quiet spell with no load: start-up's garbage is not idle
 * memory, and the programs release it once quiet), then it takes `profile.memoryLeads` new leads at 50 connections:
 * its RSS right after them and after the same quiet spell.
 */
const memoryPhase = async (kind: "ours" | "raw", deps: Parameters<typeof startServer>[1], profile: IngestProfile) => {
  // its own schema and prefix (the measured servers of the same kind used deps.sfx)
  const server = await startServer(kind, { ...deps, sfx: `${deps.sfx}m` })
  await sleep(1000)
  const started = rssMiB(server.running.pid) ?? 0
  await sleep(profile.quietSeconds * 1000)
  const idle = rssMiB(server.running.pid) ?? 0
  await load(server, 50, 0, uniqueLeads(`${deps.sfx}m${kind}`), profile.memoryLeads)
  const afterLoad = rssMiB(server.running.pid) ?? 0
  await sleep(profile.quietSeconds * 1000)
  const afterQuiet = rssMiB(server.running.pid) ?? 0
  await server.running.stop()
  const row: MemoryRow = {
    kind,
    leads: profile.memoryLeads,
    started,
    idle,
    afterLoad,
    afterQuiet,
    quietSeconds: profile.quietSeconds
  }
  return { server, row }
}

const errorsOf = (rows: ReadonlyArray<IngestRow>, verification: Record<string, Verification>) => {
  const errors: Array<string> = []
  for (const [label, v] of Object.entries(verification))
    if (v.lost > 0) errors.push(`${label}: ${v.lost} acknowledged lead(s) missing from Postgres or the queue`)
  for (const row of rows)
    for (const [kind, result] of [
      ["ours", row.ours],
      [row.rawKind, row.raw]
    ] as const) {
      if (result === undefined) continue
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
    row.raw === undefined ? "-" : row.rawKind,
    row.ours.connections,
    row.ours.rps,
    row.raw?.rps ?? "-",
    row.raw === undefined ? "-" : ratio(row.ours.rps, row.raw.rps),
    row.ours.p50,
    row.ours.p99,
    row.raw?.p50 ?? "-",
    row.raw?.p99 ?? "-",
    row.ours.cpuMsPerRequest,
    row.raw?.cpuMsPerRequest ?? "-",
    formatStatuses(row.ours.statuses),
    row.raw === undefined ? "-" : formatStatuses(row.raw.statuses)
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
  const verification = Object.entries(report.verification).map(([label, v]) => [
    label,
    v.acknowledged,
    v.rows,
    v.storedOfAcknowledged,
    v.queuedOfAcknowledged,
    v.waitingJobs,
    v.notQueuedStatus,
    v.lost
  ])
  const profiledAlone =
    report.profiled === undefined
      ? []
      : [
          `one server under the profiler, its figures in the "ours" columns (${report.profiled === "raw" ? "the raw baseline" : "the ingest program"}); no baseline beside it, no targets judged`
        ]
  return [
    `ingest program run via: ${report.via}; latencies in ms`,
    ...profiledAlone,
    table(headers, rows),
    "",
    table(["verify", "202s", "rows", "stored", "queued", "waiting jobs", "status mismatch", "missing"], verification),
    "",
    `RSS MiB: ours 1 s after start ${fmt(report.rss.idle)}, peak under load ${fmt(report.rss.peak)}${
      report.rss.rawIdle === undefined || report.rss.rawPeak === undefined
        ? ""
        : `; raw 1 s after start ${fmt(report.rss.rawIdle)}, peak ${fmt(report.rss.rawPeak)}`
    }`,
    ...(report.memory.length === 0
      ? []
      : [
          "",
          table(
            [
              "memory phase (fresh servers)",
              "leads at 50 conns",
              "RSS 1 s after start MiB",
              "RSS idle (settled) MiB",
              "RSS after MiB",
              "RSS after quiet MiB"
            ],
            report.memory.map((m) => [
              m.kind,
              m.leads,
              m.started,
              `${fmt(m.idle)} (${m.quietSeconds} s)`,
              m.afterLoad,
              `${fmt(m.afterQuiet)} (${m.quietSeconds} s)`
            ])
          )
        ]),
    "",
    ...(report.profiled === undefined ? [renderTargets(ingestTargets(report))] : []),
    "202s < rows: requests in flight when a phase ended were stored (and queued) but their answer was not counted.",
    report.loggedErrors.length === 0
      ? "ours logged no errors"
      : `ours logged ${report.loggedErrors.length} error line(s), first: ${report.loggedErrors[0]?.slice(0, 300)}`,
    report.errors.length === 0 ? "errors: none" : `ERRORS:\n  ${report.errors.join("\n  ")}`
  ].join("\n")
}

/** How far RSS may stay above idle once the load has stopped and been quiet: "back near idle". */
export const NEAR_IDLE = 1.25

/** Issue #16's ingest targets, as this run measured them (none from a run under the profiler). */
export const ingestTargets = (report: IngestReport): Array<Target> => {
  const targets: Array<Target> = []
  if (report.profiled !== undefined) return targets
  for (const row of report.rows) {
    const raw = row.raw
    if (row.rawKind !== "raw" || raw === undefined) continue
    const at = `${row.mode} @${row.ours.connections} conns`
    targets.push(
      ratioTarget(`ingest CPU per request vs raw, ${at}`, row.ours.cpuMsPerRequest / raw.cpuMsPerRequest, "<=", 1.3)
    )
    if (row.mode !== "unique") continue
    targets.push(ratioTarget(`ingest req/s vs raw, ${at}`, row.ours.rps / raw.rps, ">=", 0.95))
    targets.push(ratioTarget(`ingest p99 vs raw, ${at}`, row.ours.p99 / raw.p99, "<=", 1.25))
  }
  const ours = report.memory.find((m) => m.kind === "ours")
  const raw = report.memory.find((m) => m.kind === "raw")
  if (ours && raw) {
    targets.push(ratioTarget(`ingest RSS after ${ours.leads} leads vs raw`, ours.afterLoad / raw.afterLoad, "<=", 1.3))
    targets.push(
      ratioTarget(
        `ingest RSS ${ours.quietSeconds} s after the load vs its settled idle`,
        ours.afterQuiet / ours.idle,
        "<=",
        NEAR_IDLE
      )
    )
    targets.push(valueTarget(`ingest idle RSS (settled ${ours.quietSeconds} s)`, ours.idle, "MiB", "<=", 80))
  }
  return targets
}

/** --short / --smoke / --profile, --seconds N, --warmup N (seconds), --connections a,b,c, --memory-leads N. */
export const profileFromArgs = (argv: ReadonlyArray<string>): IngestProfile => {
  const base = argv.includes("--smoke")
    ? ingestProfiles.smoke
    : argv.includes("--short")
      ? ingestProfiles.short
      : ingestProfiles.full
  const seconds = wholeNumberOption(argv, "--seconds", base.seconds, 1)
  const warmup = wholeNumberOption(argv, "--warmup", base.warmup, 0)
  const connections = wholeNumbersOption(
    argv,
    "--connections",
    argv.includes("--profile") || argv.includes("--alloc") ? [50] : base.connections,
    1
  )
  const memoryLeads = wholeNumberOption(argv, "--memory-leads", base.memoryLeads, 0)
  return { ...base, seconds, warmup, connections, memoryLeads }
}

/** `--alloc`: what the ingest allocates per request of unique leads, sampled after a warm-up (see above). */
export const runIngestAllocations = async (
  profile: IngestProfile,
  options: { readonly intervalBytes: number; readonly survivors: boolean; readonly keep: boolean }
) => {
  const sfx = suffix()
  const { sql, redis, cleanup } = benchConnections()
  try {
    const server = await startServer("ours", { sql, redis, cleanup, sfx, inspect: true })
    if (server.inspectorUrl === undefined) throw new Error("the ingest's inspector did not listen")
    const connections = profile.connections[0] ?? 50
    const body = uniqueLeads(`${sfx}a`)
    await load(server, connections, profile.warmup, body)
    const sampling = await startAllocationSampling(server.inspectorUrl, options.intervalBytes, options.survivors)
    const result = await load(server, connections, profile.seconds, body)
    return reportAllocations(await sampling.stop(), {
      heading: `the ingest (${programArgs("ingest").via}, --inspect), unique leads at ${connections} connections, ${result.requests} requests in ${profile.seconds} s after a ${profile.warmup} s warm-up, one sample per ${options.intervalBytes} bytes allocated:`,
      units: result.requests,
      unit: "request",
      survivors: options.survivors,
      keepAs: options.keep ? "ingest" : undefined
    })
  } finally {
    await cleanup.run()
  }
}

if (fileURLToPath(import.meta.url) === resolve(process.argv[1] ?? "")) {
  const argv = process.argv.slice(2)
  if (argv.includes("--alloc")) {
    console.log(
      await runIngestAllocations(profileFromArgs(argv), {
        intervalBytes: wholeNumberOption(argv, "--interval", 8192, 64),
        survivors: argv.includes("--survivors"),
        keep: argv.includes("--keep-profile")
      })
    )
  } else {
    const profileDir = argv.includes("--profile") ? mkdtempSync(join(tmpdir(), "rf-cpuprof-")) : undefined
    const report = await runIngestBench(profileFromArgs(argv), profileDir, argv.includes("--raw") ? "raw" : "ours")
    console.log(renderIngest(report))
    if (profileDir) {
      const which = argv.includes("--raw") ? "the raw baseline" : "the ingest program"
      console.log(`\nCPU profile of ${which} (${profileDir}):\n${summarizeProfiles(profileDir)}`)
      if (!argv.includes("--keep-profile")) rmSync(profileDir, { recursive: true, force: true })
    }
    process.exitCode = report.errors.length > 0 ? 1 : 0
  }
}
