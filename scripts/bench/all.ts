// Every benchmark with a short profile, then one summary table and issue #16's targets as this run measured them.
//   npm run bench            short profile (about 6 minutes)
//   npm run bench -- --smoke very short (< 1 min) for CI: exits 1 only on errors (lost leads, failed leads,
//                            non-2xx answers), never on speed
import { consumerProfiles, consumerTargets, renderConsumer, runConsumerBench } from "./consumer.js"
import { ingestProfiles, ingestTargets, renderIngest, runIngestBench } from "./ingest.js"
import { renderSize, runSize } from "./size.js"
import { runStartup, startupTargets } from "./startup.js"
import { fmt, ratio, table } from "./lib/table.js"
import { renderTargets } from "./lib/targets.js"

const smoke = process.argv.includes("--smoke")
const started = Date.now()

const ingest = await runIngestBench(smoke ? ingestProfiles.smoke : ingestProfiles.short)
console.log(`== ingest ==\n${renderIngest(ingest)}\n`)
const consumer = await runConsumerBench(smoke ? consumerProfiles.smoke : consumerProfiles.short)
console.log(`== consumer ==\n${renderConsumer(consumer)}\n`)
// round trips are counted on their own run: MONITOR slows Redis, so the timed cases above run without it
const trips = smoke
  ? undefined
  : await runConsumerBench(
      { concurrency: [5], latencies: [0], leads: 200, leadsPerWorkerWithLatency: 0, warmup: 50, settleSeconds: 0 },
      undefined,
      true
    )
if (trips) console.log(`== consumer, Redis round trips counted (MONITOR) ==\n${renderConsumer(trips)}\n`)
const startup = smoke ? undefined : runStartup(5)
if (startup) console.log(`== start-up ==\n${startup.text}\n`)
const size = smoke ? undefined : await runSize({ seconds: 5, leads: 300 })
if (size) console.log(`== size ==\n${renderSize(size)}\n`)

const rows: Array<Array<string | number>> = []
for (const row of ingest.rows) {
  rows.push([
    `ingest ${row.mode} vs ${row.rawKind}`,
    `${row.ours.connections} conns`,
    `${fmt(row.ours.rps)} req/s`,
    row.raw === undefined ? "-" : `${fmt(row.raw.rps)} req/s`,
    row.raw === undefined ? "-" : ratio(row.ours.rps, row.raw.rps),
    `p50 ${fmt(row.ours.p50)} / p99 ${fmt(row.ours.p99)} ms`
  ])
}
for (const row of consumer.rows) {
  rows.push([
    "consumer",
    `c=${row.case.concurrency} crm=${row.case.latencyMs}ms`,
    `${fmt(row.ours.leadsPerSecond)} leads/s`,
    row.raw === undefined ? "-" : `${fmt(row.raw.leadsPerSecond)} leads/s`,
    row.raw === undefined ? "-" : ratio(row.ours.leadsPerSecond, row.raw.leadsPerSecond),
    `${fmt(row.ours.redisCommandsPerLead)} redis cmds/lead`
  ])
}
for (const r of size?.rss ?? [])
  rows.push([`RSS ${r.program}`, r.load, `started ${fmt(r.idle)} MiB`, "", "", `peak ${fmt(r.peak)} MiB`])
for (const b of size?.bundles ?? []) rows.push([`bundle ${b.name}`, "", `${fmt(b.mib)} MiB`, "", "", ""])
console.log(`== summary (${smoke ? "smoke" : "short"} profile, ${Math.round((Date.now() - started) / 1000)} s) ==`)
console.log(table(["what", "case", "ours", "raw", "ours/raw", "detail"], rows))
const verification = Object.entries(ingest.verification).map(
  ([kind, v]) => `${kind}: ${v.acknowledged} acknowledged, ${v.lost} missing`
)
console.log(`ingest verification: ${verification.join("; ")}`)
const targets = [
  ...ingestTargets(ingest),
  ...consumerTargets(consumer),
  ...(trips ? consumerTargets(trips) : []),
  ...(startup ? startupTargets(startup) : [])
]
console.log(`\n${renderTargets(targets)}`)
const errors = [...ingest.errors, ...consumer.errors, ...(trips?.errors ?? [])]
console.log(errors.length === 0 ? "errors: none" : `ERRORS:\n  ${errors.join("\n  ")}`)
process.exitCode = errors.length > 0 ? 1 : 0
