// Bundle sizes (dist/*) and each program's RSS after start (the ingest 1 s after its first answer, the consumer 0.5 s after it is ready) and under load, sampled from /proc/<pid>/status
// (VmRSS), beside an idle `node` process's (the floor every program starts from). The ingest's RSS is also split into
// anonymous memory (the V8 heap, malloc) and file-backed pages (mostly the node binary's own code and data, shared
// and clean).
//   npm run bench:size [-- --smoke]
import { spawn } from "node:child_process"
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs"
import { join, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import { runConsumerCase } from "./lib/consumerRun.js"
import { benchConnections, suffix } from "./lib/env.js"
import { measure, startServer } from "./lib/ingestServers.js"
import { uniqueLeads } from "./lib/leads.js"
import { nodeBin, programArgs, root, rssMiB, sleep } from "../lib/processes.js"
import { fmt, table } from "./lib/table.js"
import { runtimeEnv } from "../ops/runtimeEnv.mjs"

/** Sizes in MiB and RSS figures. */
export interface SizeReport {
  readonly bundles: ReadonlyArray<{
    readonly name: string
    readonly entryMib: number
    readonly mib: number
    readonly mapMib: number
  }>
  readonly rss: ReadonlyArray<{
    readonly program: string
    readonly via: string
    readonly idle: number
    readonly peak: number
    readonly load: string
  }>
  /** The ingest's idle RSS split from /proc/<pid>/status: RssAnon and RssFile, MiB. */
  readonly ingestIdleSplit?: { readonly anon: number; readonly file: number } | undefined
}

/** RssAnon and RssFile of a process in MiB, from /proc/<pid>/status. */
const rssSplit = (pid: number) => {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8")
    const kib = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+)\\s+kB`).exec(status)?.[1] ?? Number.NaN)
    return { anon: kib("RssAnon") / 1024, file: kib("RssFile") / 1024 }
  } catch {
    return undefined
  }
}

/** RSS of an idle `node` (the same binary as the programs) 1 s after its start: the floor of any program. */
const nodeIdleRss = async () => {
  const child = spawn(nodeBin, ["-e", "setTimeout(() => {}, 5000)"], {
    stdio: "ignore",
    env: { ...runtimeEnv, ...process.env }
  })
  await sleep(1000)
  const rss = rssMiB(child.pid ?? -1) ?? 0
  child.kill()
  return rss
}

const mib = (path: string) => (existsSync(path) ? statSync(path).size / 1024 / 1024 : Number.NaN)

/** dist/<name>/index.mjs for every built program. */
export const bundleSizes = () => {
  const dist = join(root, "dist")
  if (!existsSync(dist)) return []
  // the entry file is small: most of a bundle is in the chunks it loads (at start or on first use)
  const chunks = (name: string, maps: boolean) => {
    const dir = join(dist, name, "chunks")
    if (!existsSync(dir)) return 0
    return readdirSync(dir)
      .filter((file) => (maps ? file.endsWith(".mjs.map") : file.endsWith(".mjs")))
      .reduce((sum, file) => sum + mib(join(dir, file)), 0)
  }
  return readdirSync(dist)
    .filter((name) => existsSync(join(dist, name, "index.mjs")))
    .map((name) => ({
      name,
      entryMib: mib(join(dist, name, "index.mjs")),
      mib: mib(join(dist, name, "index.mjs")) + chunks(name, false),
      mapMib: mib(join(dist, name, "index.mjs.map")) + chunks(name, true)
    }))
}

/** Measure bundle sizes and RSS: ingest under 50 connections, consumer over pre-loaded leads at concurrency 5. */
export const runSize = async (options: { readonly seconds: number; readonly leads: number }): Promise<SizeReport> => {
  const { sql, redis, cleanup } = benchConnections()
  try {
    const ingest = await startServer("ours", { sql, redis, cleanup, sfx: suffix() })
    await sleep(1000)
    const idle = rssMiB(ingest.running.pid) ?? 0
    const ingestIdleSplit = rssSplit(ingest.running.pid)
    const peak = ingest.running.samplePeakRss()
    await measure(ingest, 50, 1, options.seconds, uniqueLeads(suffix()))
    const ingestRow = {
      program: "ingest",
      via: programArgs("ingest").via,
      idle,
      peak: peak(),
      load: `${options.seconds}s at 50 conns`
    }
    await ingest.running.stop()
    const consumer = await runConsumerCase(
      "ours",
      { concurrency: 5, latencyMs: 0, leads: options.leads },
      { sql, redis, tag: `${suffix()}_s` }
    )
    const consumerRow = {
      program: "consumer",
      via: programArgs("consumer").via,
      idle: consumer.rssIdle,
      peak: consumer.rssPeak,
      load: `${options.leads} leads at concurrency 5`
    }
    const nodeRow = { program: "node (idle)", via: "node -e", idle: await nodeIdleRss(), peak: Number.NaN, load: "-" }
    return { bundles: bundleSizes(), rss: [nodeRow, ingestRow, consumerRow], ingestIdleSplit }
  } finally {
    await cleanup.run()
  }
}

/** The report as text. */
export const renderSize = (report: SizeReport) =>
  [
    report.bundles.length === 0
      ? "no bundles in dist/ (npm run build)"
      : table(
          ["bundle", "index.mjs MiB", "with its chunks MiB", "source maps MiB"],
          report.bundles.map((b) => [b.name, b.entryMib, b.mib, b.mapMib])
        ),
    "",
    table(
      ["program", "run via", "RSS after start MiB", "RSS peak MiB", "load"],
      report.rss.map((r) => [r.program, r.via, r.idle, r.peak, r.load])
    ),
    `(RSS after start: the ingest's 1 s after it answered, the consumer's 0.5 s after it was ready; after start-up, before load and before the programs release start-up's garbage; ${fmt(0)} means the process could not be read)`,
    ...(report.ingestIdleSplit === undefined
      ? []
      : [
          `ingest 1 s after start: ${fmt(report.ingestIdleSplit.anon)} MiB anonymous (V8 heap, malloc) + ` +
            `${fmt(report.ingestIdleSplit.file)} MiB file-backed (the node binary's pages, mostly)`
        ])
  ].join("\n")

if (fileURLToPath(import.meta.url) === resolve(process.argv[1] ?? "")) {
  const smoke = process.argv.includes("--smoke")
  console.log(renderSize(await runSize({ seconds: smoke ? 2 : 5, leads: smoke ? 50 : 300 })))
}
