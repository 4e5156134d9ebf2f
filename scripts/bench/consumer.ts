// Consumer throughput: the consumer program (bundle, else tsx) as a child process, over leads pre-loaded through
// the real ingest path, at several WORKER_CONCURRENCY values and mock-CRM latencies, against a raw BullMQ no-op
// worker in the same run. Rate limits are set to 1,000,000 so the limiter never throttles the benchmark.
//   npm run bench:consumer [-- --short | --smoke | --profile [--concurrency N]] [--round-trips (count them with MONITOR)]
//   npm run bench:consumer -- --series [--concurrency N] [--leads N] [--warmup N]
//   npm run bench:consumer -- --gc [--concurrency N] [--leads N] [--warmup N]
//   npm run bench:consumer -- --alloc [--survivors] [--concurrency N] [--leads N] [--warmup N] [--interval BYTES] [--keep-profile]
// --profile: ours only at concurrency 5 (or N), 0 ms CRM, under --cpu-prof (the bundle when built, its frames mapped to
// source through its source maps), then the top self-time functions of the measured interval (after the warm-up).
// --series: ours only at concurrency 5 (or N), 0 ms CRM, a fresh process with no warm-up over --leads (3000) leads:
// its CPU per lead second by second, on its main thread and on V8's workers (garbage collection, the optimizing
// compilers) — how long a new process takes to reach the steady state the timed cases measure after their warm-up;
// with --warmup N, the leads after an N-lead warm-up and a pause, as a timed case measures them.
// --gc: ours only at concurrency 5 (or N), 0 ms CRM, under --trace-gc-nvp, --leads (3000) leads after a --warmup
// (1500) lead warm-up: V8's collections in the measured interval per lead — bytes allocated, bytes of young objects
// still alive at a scavenge (what a scavenge copies) and promoted, and each kind of collection's time on the main
// thread and on V8's helper threads, beside the process's whole CPU per lead.
// --alloc: the same case with the consumer's inspector open: V8's sampling heap profiler (one sample per --interval
// bytes, 8192 by default; collected objects kept) over the measured interval, so every byte a lead allocates is
// placed: by the function allocating it, by the nearest frame of the project's code on its stack, by package. With
// --survivors, only what no scavenge collected: where the objects that outlive a young-generation collection (what
// `--gc` counts as alive at a scavenge and promoted) are made.
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import { type ConsumerCase, type ConsumerResult, runConsumerCase } from "./lib/consumerRun.js"
import { summarizeProfiles } from "./lib/cpuprofile.js"
import { wholeNumberOption } from "./lib/args.js"
import { reportAllocations } from "./lib/heapProfile.js"
import { admin, benchConnections, redisClient, suffix } from "./lib/env.js"
import { programArgs } from "../lib/processes.js"
import { fmt, ratio, table } from "./lib/table.js"
import { ratioTarget, renderTargets, type Target, valueTarget } from "./lib/targets.js"

/** Which cases to run; leads per case shrink with CRM latency so slow cases stay short. */
export interface ConsumerProfile {
  readonly concurrency: ReadonlyArray<number>
  readonly latencies: ReadonlyArray<number>
  readonly leads: number
  /** With CRM latency, leads per case = min(leads, concurrency * this). */
  readonly leadsPerWorkerWithLatency: number
  /** Leads processed before each measured interval, ours and raw alike; with CRM latency, concurrency * 3 at most. */
  readonly warmup: number
  /** The first case reads the idle RSS after this long without work (0: half a second after start-up). */
  readonly settleSeconds: number
}

/** Every case, and the idle RSS read once settled. */
const allCases = { concurrency: [1, 5, 20], latencies: [0, 50], settleSeconds: 15 }

export const consumerProfiles = {
  // the warm-up: a fresh consumer's CPU per lead falls for its first ~1,500 leads while V8 optimizes the code each lead
  // runs once (`--series` shows it), so fewer would time the compilers, not the program
  full: { ...allCases, leads: 1000, leadsPerWorkerWithLatency: 40, warmup: 2000 },
  short: { ...allCases, leads: 600, leadsPerWorkerWithLatency: 15, warmup: 1500 },
  smoke: { concurrency: [5], latencies: [0], leads: 60, leadsPerWorkerWithLatency: 10, warmup: 20, settleSeconds: 0 }
} satisfies Record<string, ConsumerProfile>

/** One case: ours and the raw worker on the same number of leads (no raw worker under --cpu-prof). */
export interface ConsumerRow {
  readonly case: ConsumerCase
  readonly ours: ConsumerResult
  readonly raw: ConsumerResult | undefined
}

/** Everything the consumer benchmark measured. */
export interface ConsumerReport {
  readonly via: string
  readonly rows: ReadonlyArray<ConsumerRow>
  /** Ours ran under the CPU profiler (--profile): its speed and CPU are not the targets' figures. */
  readonly profiled: boolean
  /** Seconds the first case waited idle before its idle RSS reading. */
  readonly settleSeconds: number
  /** Errors only (leads not finished, FAILED leads), never speed. */
  readonly errors: ReadonlyArray<string>
}

/** Run every case; with `cpuProfileDir`, only ours at `profileConcurrency`, 0 ms, under --cpu-prof. */
export const runConsumerBench = async (
  profile: ConsumerProfile,
  cpuProfileDir?: string,
  roundTrips = false,
  profileConcurrency = 5
): Promise<ConsumerReport> => {
  const sql = admin()
  const redis = redisClient()
  const rows: Array<ConsumerRow> = []
  const errors: Array<string> = []
  try {
    const cases = profile.latencies.flatMap((latencyMs) =>
      profile.concurrency.map((concurrency) => ({
        concurrency,
        latencyMs,
        leads: latencyMs > 0 ? Math.min(profile.leads, concurrency * profile.leadsPerWorkerWithLatency) : profile.leads,
        warmup: latencyMs > 0 ? Math.min(profile.warmup, concurrency * 3) : profile.warmup
      }))
    )
    for (const c of cpuProfileDir
      ? [{ concurrency: profileConcurrency, latencyMs: 0, leads: profile.leads, warmup: profile.warmup }]
      : cases) {
      const nodeArgs = cpuProfileDir ? ["--cpu-prof", `--cpu-prof-dir=${cpuProfileDir}`] : []
      // the first case also reads the settled idle RSS (the target's figure)
      const settleMs = rows.length === 0 && !cpuProfileDir ? profile.settleSeconds * 1000 : 0
      const ours = await runConsumerCase(
        "ours",
        c,
        { sql, redis, tag: `${suffix()}_o` },
        { nodeArgs, roundTrips, settleMs }
      )
      // the raw worker waits what the CRM would have: calls per lead x latency, in one sleep
      const rawSleepMs = Math.round(c.latencyMs * ours.crmCallsPerLead)
      const raw = cpuProfileDir
        ? undefined
        : await runConsumerCase("raw", c, { sql, redis, tag: `${suffix()}_r` }, { rawSleepMs, roundTrips })
      rows.push({ case: c, ours, raw })
      const label = `c=${c.concurrency} crm=${c.latencyMs}ms`
      if (ours.done < c.leads) errors.push(`ours ${label}: only ${ours.done}/${c.leads} leads finished`)
      if ((ours.statuses.FAILED ?? 0) > 0) errors.push(`ours ${label}: ${ours.statuses.FAILED} lead(s) FAILED`)
      if (raw !== undefined && raw.done < c.leads)
        errors.push(`raw ${label}: only ${raw.done}/${c.leads} jobs completed`)
    }
    const via = programArgs("consumer").via
    return {
      via: cpuProfileDir ? `${via} (--cpu-prof)` : via,
      rows,
      profiled: cpuProfileDir !== undefined,
      settleSeconds: cpuProfileDir ? 0 : profile.settleSeconds,
      errors
    }
  } finally {
    redis.disconnect()
    await sql.end({ timeout: 5 })
  }
}

/**
 * Issue #16's consumer targets, as this run measured them. A run that counted round trips (--round-trips) gives only
 * that target: MONITOR slows Redis, so its speed and CPU are not the timed cases' figures. A run under the CPU
 * profiler (--profile) gives none: the profiler slows the program, and no raw worker ran to compare with.
 */
export const consumerTargets = (report: ConsumerReport): Array<Target> => {
  const targets: Array<Target> = []
  if (report.profiled) return targets
  const counted = report.rows.some((row) => row.ours.redisRoundTripsPerLead !== undefined)
  for (const { case: c, ours, raw } of report.rows) {
    const at = `c=${c.concurrency} crm=${c.latencyMs}ms`
    if (raw === undefined) continue
    const vsRaw = ours.leadsPerSecond / raw.leadsPerSecond
    if (counted) {
      if (c.latencyMs === 0 && ours.redisRoundTripsPerLead !== undefined)
        targets.push(
          valueTarget(`consumer Redis round trips per lead, ${at}`, ours.redisRoundTripsPerLead, "", "<=", 8)
        )
    } else if (c.latencyMs === 0) {
      targets.push(valueTarget(`consumer CPU per lead, ${at}`, ours.cpuMsPerLead, "ms", "<=", 3))
      targets.push(ratioTarget(`consumer leads/s vs raw worker, ${at}`, vsRaw, ">=", 0.25))
    } else targets.push(ratioTarget(`consumer leads/s vs raw worker, ${at}`, vsRaw, ">=", 0.8))
  }
  // only a settled reading is the target's figure (without a quiet spell it is read half a second after start-up)
  const first = report.rows[0]
  if (first && report.settleSeconds > 0)
    targets.push(valueTarget("consumer idle RSS (settled)", first.ours.rssIdle, "MiB", "<=", 80))
  return targets
}

/** The report as text. */
export const renderConsumer = (report: ConsumerReport) => {
  const rows = report.rows.map(({ case: c, ours, raw }) => [
    c.concurrency,
    c.latencyMs,
    c.leads,
    ours.leadsPerSecond,
    raw?.leadsPerSecond ?? "-",
    raw === undefined ? "-" : ratio(ours.leadsPerSecond, raw.leadsPerSecond),
    ours.redisCommandsPerLead,
    raw?.redisCommandsPerLead ?? "-",
    ours.redisRoundTripsPerLead ?? "-",
    raw?.redisRoundTripsPerLead ?? "-",
    ours.cpuMsPerLead,
    raw?.cpuMsPerLead ?? "-",
    ours.crmCallsPerLead,
    ours.logLinesPerLead,
    ours.rssPeak,
    Object.entries(ours.statuses)
      .map(([s, n]) => `${s}:${n}`)
      .join(" ")
  ])
  const headers = [
    "conc",
    "crm ms",
    "leads",
    "ours leads/s",
    "raw leads/s",
    "ours/raw",
    "ours redis cmds/lead",
    "raw redis cmds/lead",
    "ours redis round trips/lead",
    "raw redis round trips/lead",
    "ours cpu ms/lead",
    "raw cpu ms/lead",
    "crm calls/lead",
    "log lines/lead",
    "ours peak RSS MiB",
    "ours statuses (warm-up too)"
  ]
  const kernelRows = report.rows.map(({ case: c, ours, raw }) => [
    c.concurrency,
    c.latencyMs,
    ours.kernelCpuMsPerLead,
    raw?.kernelCpuMsPerLead ?? "-",
    ours.syscallsPerLead?.writes ?? "-",
    raw?.syscallsPerLead?.writes ?? "-",
    ours.syscallsPerLead?.reads ?? "-",
    raw?.syscallsPerLead?.reads ?? "-"
  ])
  const kernelHeaders = [
    "conc",
    "crm ms",
    "ours kernel cpu ms/lead",
    "raw kernel cpu ms/lead",
    "ours write syscalls/lead",
    "raw write syscalls/lead",
    "ours read syscalls/lead",
    "raw read syscalls/lead"
  ]
  const sample = report.rows.find((row) => row.case.latencyMs === 0) ?? report.rows[0]
  const commands = sample
    ? `redis commands per lead, ours at c=${sample.case.concurrency} crm=${sample.case.latencyMs}ms: ${sample.ours.topCommands.map(([n, v]) => `${n} ${fmt(v)}`).join(", ")}`
    : ""
  const logged = report.rows.flatMap((row) => row.ours.loggedErrors)
  return [
    report.profiled
      ? `consumer program run via: ${report.via}; no raw worker (the profiler slows ours: no targets judged)`
      : `consumer program run via: ${report.via}; the raw worker sleeps crm calls/lead x crm ms per job`,
    table(headers, rows),
    "",
    "of the cpu ms/lead above, the kernel's part, and the process's system calls (/proc/<pid>/stat and io):",
    table(kernelHeaders, kernelRows),
    "",
    commands,
    report.rows[0]
      ? `ours RSS (first case): ${fmt(report.rows[0].ours.rssStarted)} MiB half a second after start-up${
          report.settleSeconds > 0
            ? `, ${fmt(report.rows[0].ours.rssIdle)} MiB settled (after ${report.settleSeconds} s idle)`
            : ""
        }`
      : "",
    "redis counts are server-wide (INFO commandstats): the total less the background rate measured just before each run, the per-command list as counted.",
    "",
    ...(report.profiled ? [] : [renderTargets(consumerTargets(report))]),
    logged.length === 0
      ? "ours logged no errors"
      : `ours logged ${logged.length} error line(s), first: ${logged[0]?.slice(0, 300)}`,
    report.errors.length === 0 ? "errors: none" : `ERRORS:\n  ${report.errors.join("\n  ")}`
  ].join("\n")
}

/** One case of ours alone, with its own connections for the schema and queue it sets up. */
const oneCase = async (c: ConsumerCase, tag: string, options: Parameters<typeof runConsumerCase>[3]) => {
  const { sql, redis, cleanup } = benchConnections()
  try {
    return await runConsumerCase("ours", c, { sql, redis, tag: `${suffix()}_${tag}` }, options)
  } finally {
    await cleanup.run()
  }
}

/**
 * `--series`: a fresh consumer at `concurrency`, 0 ms CRM, over `leads` leads; CPU per lead by second. With a
 * `warmup`, the series is of the leads after it, measured as the timed cases measure them (paused, then resumed).
 */
export const runSeries = async (concurrency: number, leads: number, warmup = 0) => {
  const result = await oneCase({ concurrency, latencyMs: 0, leads, warmup }, "s", { series: true })
  const rows = (result.series ?? []).map((p) => [
    p.done,
    p.mainMs + p.v8Ms + p.otherMs,
    p.mainMs,
    p.v8Ms,
    p.otherMs,
    p.rssMiB
  ])
  return [
    `a fresh consumer (${programArgs("consumer").via}), c=${concurrency}, 0 ms CRM, ${warmup > 0 ? `after a ${warmup}-lead warm-up` : "no warm-up"}: CPU ms per lead, each second`,
    table(["leads done", "cpu ms/lead", "main thread", "V8 workers (GC, compilers)", "other threads", "RSS MiB"], rows),
    `over all ${result.done} leads: ${fmt(result.cpuMsPerLead)} ms/lead, ${fmt(result.leadsPerSecond)} leads/s`
  ].join("\n")
}

/** The consumer under --trace-gc-nvp (see --gc above): its collections per lead, after a warm-up. */
export const runGc = async (concurrency: number, leads: number, warmup: number) => {
  const result = await oneCase({ concurrency, latencyMs: 0, leads, warmup }, "g", { gcTrace: true })
  const gc = result.gc
  if (gc === undefined) throw new Error("no collections traced")
  const gcMs = gc.scavengeMainMs + gc.scavengeBackgroundMs + gc.markCompactMainMs + gc.markCompactBackgroundMs
  return [
    `the consumer (${programArgs("consumer").via}, --trace-gc-nvp), c=${concurrency}, 0 ms CRM, ${result.done} leads after a ${warmup}-lead warm-up: V8's collections per lead`,
    table(
      ["per lead", "value"],
      [
        ["KiB allocated", gc.allocatedKiB],
        ["KiB of young objects alive at a scavenge (copied or promoted)", gc.survivedKiB],
        ["KiB promoted to the old generation", gc.promotedKiB],
        ["scavenge ms, main thread / helper threads", `${fmt(gc.scavengeMainMs)} / ${fmt(gc.scavengeBackgroundMs)}`],
        [
          "mark-compact ms, main thread / helper threads",
          `${fmt(gc.markCompactMainMs)} / ${fmt(gc.markCompactBackgroundMs)}`
        ],
        ["collections' ms in all", gcMs],
        ["the process's CPU ms (every thread)", result.cpuMsPerLead]
      ]
    ),
    `${gc.scavenges} scavenges and ${gc.markCompacts} mark-compacts in the interval; ${fmt(result.leadsPerSecond)} leads/s; collections ${((100 * gcMs) / Math.max(0.001, result.cpuMsPerLead)).toFixed(0)} % of the CPU per lead`
  ].join("\n")
}

/** The consumer with its inspector open (see --alloc above): what a lead allocates, by where, after a warm-up. */
export const runAllocations = async (
  concurrency: number,
  leads: number,
  warmup: number,
  intervalBytes: number,
  keep: boolean,
  survivors = false
) => {
  const result = await oneCase({ concurrency, latencyMs: 0, leads, warmup }, "a", {
    allocationSampling: intervalBytes,
    allocationSurvivors: survivors
  })
  if (result.allocations === undefined) throw new Error("no allocation profile taken")
  return reportAllocations(result.allocations, {
    heading: `the consumer (${programArgs("consumer").via}, --inspect), c=${concurrency}, 0 ms CRM, ${result.done} leads after a ${warmup}-lead warm-up, one sample per ${intervalBytes} bytes allocated:`,
    units: result.done,
    unit: "lead",
    survivors,
    keepAs: keep ? "consumer" : undefined
  })
}

if (fileURLToPath(import.meta.url) === resolve(process.argv[1] ?? "")) {
  const argv = process.argv.slice(2)
  const profile = argv.includes("--smoke")
    ? consumerProfiles.smoke
    : argv.includes("--short")
      ? consumerProfiles.short
      : consumerProfiles.full
  const profileDir = argv.includes("--profile") ? mkdtempSync(join(tmpdir(), "rf-cpuprof-")) : undefined
  const wholeNumber = (name: string, fallback: number, min: number) => wholeNumberOption(argv, name, fallback, min)
  const profileConcurrency = wholeNumber("--concurrency", 5, 1)
  if (argv.includes("--series")) {
    console.log(await runSeries(profileConcurrency, wholeNumber("--leads", 3000, 1), wholeNumber("--warmup", 0, 0)))
  } else if (argv.includes("--alloc")) {
    console.log(
      await runAllocations(
        profileConcurrency,
        wholeNumber("--leads", 3000, 1),
        wholeNumber("--warmup", 1500, 0),
        wholeNumber("--interval", 8192, 64),
        argv.includes("--keep-profile"),
        argv.includes("--survivors")
      )
    )
  } else if (argv.includes("--gc")) {
    console.log(await runGc(profileConcurrency, wholeNumber("--leads", 3000, 1), wholeNumber("--warmup", 1500, 0)))
  } else {
    const report = await runConsumerBench(profile, profileDir, argv.includes("--round-trips"), profileConcurrency)
    console.log(renderConsumer(report))
    if (profileDir) {
      const measured = report.rows[0]?.ours.interval
      console.log(
        `\nCPU profile of the consumer program over the measured interval, after its warm-up (${profileDir}):\n${summarizeProfiles(profileDir, 25, measured)}`
      )
      if (!argv.includes("--keep-profile")) rmSync(profileDir, { recursive: true, force: true })
    }
    process.exitCode = report.errors.length > 0 ? 1 : 0
  }
}
