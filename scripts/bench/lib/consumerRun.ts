import { join } from "node:path"
import { Queue } from "bullmq"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import type { Redis } from "ioredis"
import type postgres from "postgres"
import * as BullMqQueue from "../../../layers/bullmq/JobQueue.js"
import * as Metrics from "../../../layers/observability/Metrics.js"
import * as Stores from "../../../layers/postgres/stores.js"
import * as RedisClient from "../../../layers/shared/RedisClient.js"
import { LeadInput } from "../../../src/domain/lead.js"
import { acceptLead } from "../../../src/pipeline/accept.js"
import { bullConnection, createSchema, databaseUrl, deletePrefix, dropSchema, redisUrl } from "./env.js"
import { leadBody } from "./leads.js"
import {
  cpuSplitMs,
  programArgs,
  root,
  rssMiB,
  sleep,
  startListening,
  syscalls,
  threadCpuMs
} from "../../lib/processes.js"
import { monotonicUs, type ProfileWindow } from "./cpuprofile.js"
import { type GcSummary, summarizeGc } from "./gcTrace.js"
import { type HeapProfile, INSPECTOR_LINE, startAllocationSampling } from "./heapProfile.js"
import { backgroundRate, commandsBetween, snapshot, watchRoundTrips } from "./redisStats.js"

/** One consumer configuration. */
export interface ConsumerCase {
  readonly concurrency: number
  readonly latencyMs: number
  readonly leads: number
  /**
   * Leads (or raw jobs) processed before the measured interval, then the queue is paused until the worker is idle:
   * what is measured is the steady state, not V8 compiling the program's code on its first few hundred leads.
   */
  readonly warmup?: number
}

/** What one run (ours or raw) measured. */
export interface ConsumerResult {
  readonly leads: number
  /** Leads processed before the measured interval (not in any figure below). */
  readonly warmup: number
  readonly done: number
  readonly seconds: number
  readonly leadsPerSecond: number
  readonly redisCommandsPerLead: number
  /** Commands the programs sent (MONITOR, Lua-internal ones left out); undefined unless asked for. */
  readonly redisRoundTripsPerLead: number | undefined
  readonly topCommands: ReadonlyArray<readonly [string, number]>
  readonly cpuMsPerLead: number
  /** The part of cpuMsPerLead spent in the kernel (system calls: socket reads and writes, epoll, timers). */
  readonly kernelCpuMsPerLead: number
  /** Read and write system calls per lead (/proc/<pid>/io); undefined where it cannot be read. */
  readonly syscallsPerLead: { readonly reads: number; readonly writes: number } | undefined
  readonly crmCallsPerLead: number
  readonly statuses: Readonly<Record<string, number>>
  readonly logLinesPerLead: number
  /** RSS half a second after start-up. */
  readonly rssStarted: number
  /** RSS once settled: after `settleMs` without work (the same as rssStarted without it). */
  readonly rssIdle: number
  readonly rssPeak: number
  readonly loggedErrors: ReadonlyArray<string>
  /** The measured interval on the clock of CPU profiles, to read a profile of the whole run for it alone. */
  readonly interval: ProfileWindow
  /** With `series`: CPU per lead by kind of thread, second by second through the measured interval. */
  readonly series: ReadonlyArray<SeriesPoint> | undefined
  /** With `gcTrace`: V8's collections over the measured interval, per lead (--trace-gc-nvp). */
  readonly gc: GcSummary | undefined
  /** With `allocationSampling`: what the measured interval allocated, by stack (V8's sampling heap profiler). */
  readonly allocations: HeapProfile | undefined
}

/** One second of a measured interval: leads finished by its end, and the CPU per lead it took by kind of thread. */
export interface SeriesPoint {
  readonly done: number
  readonly mainMs: number
  readonly v8Ms: number
  readonly otherMs: number
  /** The process's RSS at the end of the second, MiB. */
  readonly rssMiB: number
}

interface Deps {
  readonly sql: postgres.Sql
  readonly redis: Redis
  readonly tag: string
}

const decodeLead = Schema.decodeUnknownSync(LeadInput)
const TERMINAL = ["SYNCED", "REJECTED", "FAILED"]

/** Leads `from`..`from + leads - 1` accepted through the real ingest path (store + queue, status QUEUED), in-process. */
const preload = async (schema: string, prefix: string, queueName: string, from: number, leads: number, tag: string) => {
  if (leads === 0) return
  const services = Layer.mergeAll(
    Stores.layerPostgres({ url: Redacted.make(databaseUrl), schema }),
    BullMqQueue.layer({ queueName }).pipe(Layer.provide(RedisClient.layer({ url: Redacted.make(redisUrl), prefix }))),
    Metrics.layer
  ).pipe(Layer.provide(Logger.minimumLogLevel(LogLevel.Warning)))
  const runtime = ManagedRuntime.make(services)
  try {
    const all = Array.from({ length: leads }, (_, n) => decodeLead(leadBody(tag, from + n)))
    await runtime.runPromise(Effect.forEach(all, (lead) => acceptLead(lead, "api"), { concurrency: 20, discard: true }))
  } finally {
    await runtime.dispose()
  }
}

/** Wait until `done()` reaches `target` (or `timeoutMs`), polling every 50 ms. */
const until = async (done: () => Promise<number>, target: number, timeoutMs: number) => {
  const deadline = Date.now() + timeoutMs
  let n = await done()
  while (n < target && Date.now() < deadline) {
    await sleep(50)
    n = await done()
  }
  return n
}

/** Run ours (the consumer program) or raw (a BullMQ no-op worker) over `c.leads` pre-loaded leads / jobs. */
export const runConsumerCase = async (
  kind: "ours" | "raw",
  c: ConsumerCase,
  deps: Deps,
  options: {
    readonly rawSleepMs?: number
    readonly nodeArgs?: ReadonlyArray<string>
    /** Count the round trips to Redis with MONITOR (it slows Redis a little). */
    readonly roundTrips?: boolean
    /**
     * Read the idle RSS only after this long without work: an idle program's memory, not start-up's garbage (the
     * programs release memory once quiet, MEMORY_RELEASE_QUIET_MS).
     */
    readonly settleMs?: number
    /** The build directory whose consumer bundle runs (default dist/; see programArgs). */
    readonly dist?: string
    /** Sample the CPU per lead by kind of thread every second (how a fresh process's cost settles). */
    readonly series?: boolean
    /** Run ours under --trace-gc-nvp and sum the collections of the measured interval per lead. */
    readonly gcTrace?: boolean
    /**
     * Run ours with its inspector open and sample every allocation of the measured interval, one sample per this
     * many bytes on average (V8's sampling heap profiler, collected objects included).
     */
    readonly allocationSampling?: number
    /** With `allocationSampling`, only the allocations no scavenge collected (see startAllocationSampling). */
    readonly allocationSurvivors?: boolean
  } = {}
): Promise<ConsumerResult> => {
  const schema = `bench_consumer_${deps.tag}`
  const prefix = `rf-bench-${deps.tag}`
  const queueName = "lead-processing"
  // BullMQ never closes a connection it was handed, so the control queue gets options and owns its own
  const control = new Queue(queueName, { connection: bullConnection(), prefix })
  await createSchema(deps.sql, schema, false)
  try {
    // paused while loading and starting, so the measured interval is processing only
    await control.pause()
    const warmup = c.warmup ?? 0
    const load = (from: number, count: number) =>
      kind === "ours"
        ? preload(schema, prefix, queueName, from, count, deps.tag)
        : control.addBulk(
            Array.from({ length: count }, (_, k) => ({
              name: "lead",
              data: { leadId: `raw-${from + k}` },
              opts: { jobId: `raw-${from + k}`, removeOnComplete: { count: 100_000 } }
            }))
          )
    await load(0, warmup)
    const env = {
      DATABASE_URL: databaseUrl,
      DATABASE_SCHEMA: schema,
      REDIS_URL: redisUrl,
      REDIS_KEY_PREFIX: prefix,
      QUEUE_NAME: queueName,
      WORKER_CONCURRENCY: String(c.concurrency),
      MOCK_CRM_LATENCY_MS: String(c.latencyMs),
      SLEEP_MS: String(options.rawSleepMs ?? 0),
      // limits far above what the run can reach: the benchmark measures the pipeline, not the limiter
      RATE_LIMIT_PER_LEAD: "1000000",
      RATE_LIMIT_PER_ACCOUNT: "1000000",
      RATE_LIMIT_CRM: "1000000",
      // no outbox sweep during the run: every lead is already queued
      SWEEP_INTERVAL_MS: "3600000",
      SWEEP_MIN_AGE_MS: "3600000",
      HOST: "127.0.0.1",
      METRICS_PORT: "0"
    }
    const tracing = options.gcTrace === true && kind === "ours"
    const sampling = kind === "ours" ? options.allocationSampling : undefined
    const args =
      kind === "ours"
        ? [
            ...(options.nodeArgs ?? []),
            ...(tracing ? ["--trace-gc-nvp"] : []),
            ...(sampling === undefined ? [] : ["--inspect=127.0.0.1:0"]),
            ...programArgs("consumer", undefined, options.dist).args
          ]
        : [join(root, "scripts/bench/raw/noopWorker.mjs")]
    // the collections printed while the measured leads are processed (V8 prints one line per collection)
    let measuring = false
    const gcLines: Array<string> = []
    let inspectorUrl: string | undefined
    const running = await startListening(
      kind,
      args,
      env,
      60_000,
      kind === "ours" ? undefined : /worker ready()/,
      tracing || sampling !== undefined
        ? (line) => {
            if (tracing && measuring && line.includes(" gc=")) gcLines.push(line)
            inspectorUrl ??= INSPECTOR_LINE.exec(line)?.[1]
          }
        : undefined
    )
    try {
      const countDone =
        kind === "ours"
          ? async () => {
              const [row] = await deps.sql.unsafe<Array<{ n: number }>>(
                `SELECT count(*)::int AS n FROM ${schema}.leads WHERE status = ANY($1::text[])`,
                [TERMINAL]
              )
              return row?.n ?? 0
            }
          : () => control.getCompletedCount()
      await sleep(500) // the worker connects after the metrics server logs
      const rssStarted = rssMiB(running.pid) ?? 0
      const settleMs = options.settleMs ?? 0
      if (settleMs > 0) await sleep(settleMs)
      const rssIdle = settleMs > 0 ? (rssMiB(running.pid) ?? 0) : rssStarted
      if (warmup > 0) {
        await control.resume()
        await until(countDone, warmup, 30_000 + warmup * 2000)
        await control.pause()
      }
      await load(warmup, c.leads)
      await sleep(warmup > 0 ? 500 : 0) // after a warm-up, the worker goes idle
      const background = await backgroundRate(deps.redis, 500)
      const before = await snapshot(deps.redis)
      const cpuBefore = cpuSplitMs(running.pid)
      const callsBefore = syscalls(running.pid)
      const linesBefore = running.outputLines()
      const peak = running.samplePeakRss()
      const trips = options.roundTrips
        ? await watchRoundTrips(deps.redis, prefix, [(await control.client) as unknown as Redis])
        : undefined
      let sampler: Awaited<ReturnType<typeof startAllocationSampling>> | undefined
      if (sampling !== undefined) {
        if (inspectorUrl === undefined) throw new Error(`${kind}: its inspector did not listen`)
        sampler = await startAllocationSampling(inspectorUrl, sampling, options.allocationSurvivors === true)
      }
      const start = Date.now()
      const fromUs = monotonicUs()
      measuring = true
      await control.resume()
      const timeoutMs = 30_000 + c.leads * 2000
      const perSecond = options.series ? sampleSeries(running.pid, countDone, warmup) : undefined
      const done = (await until(countDone, warmup + c.leads, timeoutMs)) - warmup
      measuring = false
      const toUs = monotonicUs()
      const allocations = await sampler?.stop()
      const series = await perSecond?.stop()
      // the moment the last lead / job finished, as each side recorded it (not when the 50 ms poll noticed)
      const end =
        kind === "ours" ? await lastUpdate(deps.sql, schema) : await lastCompletion(deps.redis, prefix, queueName)
      const after = await snapshot(deps.redis)
      const roundTrips = trips?.count()
      trips?.stop()
      const cpuAfter = cpuSplitMs(running.pid)
      const callsAfter = syscalls(running.pid)
      const kernel = cpuAfter.kernel - cpuBefore.kernel
      const cpu = cpuAfter.user - cpuBefore.user + kernel
      const rssPeak = peak()
      const seconds = Math.max(0.001, (end - start) / 1000)
      const commands = commandsBetween(before, after, background)
      const { statuses, crmCalls } =
        kind === "ours" ? await outcomes(deps.sql, schema) : { statuses: { completed: done }, crmCalls: 0 }
      // per-lead figures only when leads were done (a run that did none has no figure, not its whole interval's)
      const leadsDone = done > 0 ? done : Number.NaN
      return {
        leads: c.leads,
        warmup,
        done,
        seconds,
        leadsPerSecond: done / seconds,
        redisCommandsPerLead: commands.total / leadsDone,
        redisRoundTripsPerLead: roundTrips === undefined ? undefined : roundTrips / leadsDone,
        topCommands: commands.top.slice(0, 6).map(([name, n]) => [name, n / leadsDone] as const),
        cpuMsPerLead: cpu / leadsDone,
        kernelCpuMsPerLead: kernel / leadsDone,
        syscallsPerLead:
          callsBefore && callsAfter
            ? {
                reads: (callsAfter.reads - callsBefore.reads) / leadsDone,
                writes: (callsAfter.writes - callsBefore.writes) / leadsDone
              }
            : undefined,
        crmCallsPerLead: crmCalls / Math.max(1, warmup + done),
        statuses,
        // the collections V8 printed under gcTrace are not the program's log
        logLinesPerLead: (running.outputLines() - linesBefore - gcLines.length) / leadsDone,
        rssStarted,
        rssIdle,
        rssPeak,
        loggedErrors: running.errorLines(),
        interval: { fromUs, toUs },
        series,
        gc: tracing ? summarizeGc(gcLines, done) : undefined,
        allocations
      }
    } finally {
      await running.stop()
    }
  } finally {
    await control.close()
    await deletePrefix(deps.redis, prefix)
    await dropSchema(deps.sql, schema)
  }
}

/** Every second: the leads finished since the last sample and the CPU each kind of thread used meanwhile, per lead. */
const sampleSeries = (pid: number, countDone: () => Promise<number>, warmup: number) => {
  const points: Array<SeriesPoint> = []
  let last = { done: warmup, cpu: threadCpuMs(pid) }
  let busy: Promise<void> = Promise.resolve()
  const sample = async () => {
    const done = await countDone()
    const cpu = threadCpuMs(pid)
    const leads = done - last.done
    if (leads > 0)
      points.push({
        done: done - warmup,
        mainMs: (cpu.main - last.cpu.main) / leads,
        v8Ms: (cpu.v8 - last.cpu.v8) / leads,
        otherMs: (cpu.other - last.cpu.other) / leads,
        rssMiB: rssMiB(pid) ?? 0
      })
    last = { done, cpu }
  }
  const timer = setInterval(() => {
    busy = busy.then(sample)
  }, 1000)
  return {
    stop: async () => {
      clearInterval(timer)
      await busy
      return points
    }
  }
}

/** When the last lead reached its terminal state (the database clock is this machine's clock). */
/** When BullMQ's last job finished: the completed set is scored by each job's finishedOn (ms). */
const lastCompletion = async (redis: Redis, prefix: string, queueName: string) => {
  const [, score] = await redis.zrevrange(`${prefix}:${queueName}:completed`, 0, 0, "WITHSCORES")
  return score === undefined ? Date.now() : Number(score)
}

const lastUpdate = async (sql: postgres.Sql, schema: string) => {
  const [row] = await sql.unsafe<Array<{ t: Date }>>(`SELECT max(updated_at) AS t FROM ${schema}.leads`)
  return row?.t.getTime() ?? Date.now()
}

const outcomes = async (sql: postgres.Sql, schema: string) => {
  const rows = await sql.unsafe<Array<{ status: string; n: number }>>(
    `SELECT status, count(*)::int AS n FROM ${schema}.leads GROUP BY status`
  )
  const [calls] = await sql.unsafe<Array<{ n: number }>>(`SELECT count(*)::int AS n FROM ${schema}.crm_actions`)
  return { statuses: Object.fromEntries(rows.map((r) => [r.status, r.n])), crmCalls: calls?.n ?? 0 }
}
