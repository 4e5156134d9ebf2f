import { join } from "node:path"
import { createSchema, databaseUrl, deletePrefix, dropSchema, redisUrl } from "./env.js"
import { INSPECTOR_LINE } from "./heapProfile.js"
import type { cleanups } from "./env.js"
import { postLeads } from "./load.js"
import { cpuMs, programArgs, root, type Running, startListening } from "../../lib/processes.js"
import type { Redis } from "ioredis"
import type postgres from "postgres"

/** ours: the ingest program; raw: the no-framework baseline; raw+queued: the baseline plus the QUEUED update. */
export type Kind = "ours" | "raw" | "raw+queued"

/** The BullMQ queue name every benchmark server uses. */
export const QUEUE = "lead-processing"

/** A started server, its isolated schema / key prefix, and the ids of every lead it acknowledged with 202. */
export interface Server {
  readonly kind: Kind
  readonly schema: string
  readonly prefix: string
  readonly running: Running
  readonly ids: Array<string>
  /** The inspector's WebSocket URL, when started with `inspect`. */
  readonly inspectorUrl: string | undefined
}

/** Start one server of `kind` on a fresh schema and prefix; everything it made is removed by `cleanup`. */
export const startServer = async (
  kind: Kind,
  deps: {
    readonly sql: postgres.Sql
    readonly redis: Redis
    readonly cleanup: ReturnType<typeof cleanups>
    readonly sfx: string
    readonly cpuProfileDir?: string | undefined
    /** The build directory whose ingest bundle runs (default dist/; see programArgs). */
    readonly dist?: string | undefined
    /** Open the server's inspector (a free port), e.g. to sample its allocations. */
    readonly inspect?: boolean | undefined
  }
): Promise<Server> => {
  const tag = kind.replace("+", "_")
  const schema = `bench_ingest_${tag}_${deps.sfx}`
  const prefix = `rf-bench-${deps.sfx}-${tag}`
  // the program applies its own migrations; the raw servers get the same tables up front
  await createSchema(deps.sql, schema, kind !== "ours")
  deps.cleanup.add(() => dropSchema(deps.sql, schema))
  deps.cleanup.add(() => deletePrefix(deps.redis, prefix))
  const env = {
    DATABASE_URL: databaseUrl,
    DATABASE_SCHEMA: schema,
    REDIS_URL: redisUrl,
    REDIS_KEY_PREFIX: prefix,
    QUEUE_NAME: QUEUE,
    HOST: "127.0.0.1",
    PORT: "0",
    RAW_TRANSITION: kind === "raw+queued" ? "1" : "0"
  }
  const profiling = deps.cpuProfileDir !== undefined ? ["--cpu-prof", `--cpu-prof-dir=${deps.cpuProfileDir}`] : []
  const args = [
    ...profiling,
    ...(deps.inspect === true ? ["--inspect=127.0.0.1:0"] : []),
    ...(kind === "ours"
      ? programArgs("ingest", undefined, deps.dist).args
      : [join(root, "scripts/bench/raw/ingestServer.mjs")])
  ]
  let inspectorUrl: string | undefined
  const running = await startListening(kind, args, env, 60_000, undefined, (line) => {
    inspectorUrl ??= INSPECTOR_LINE.exec(line)?.[1]
  })
  deps.cleanup.add(() => running.stop())
  return { kind, schema, prefix, running, ids: [], inspectorUrl }
}

/** Load `server` for `seconds` (or with exactly `amount` requests), remembering the ids it acknowledged. */
export const load = async (
  server: Server,
  connections: number,
  seconds: number,
  body: () => string,
  amount?: number
) => {
  const cpuBefore = cpuMs(server.running.pid)
  const result = await postLeads({ port: server.running.port, connections, seconds, body, amount })
  server.ids.push(...result.createdIds)
  // the server's own CPU per answered request: what the framework costs, independent of the 2-core contention
  return { ...result, cpuMsPerRequest: (cpuMs(server.running.pid) - cpuBefore) / Math.max(1, result.requests) }
}

/** A warm-up phase (not reported), then the measured one. */
export const measure = async (
  server: Server,
  connections: number,
  warmup: number,
  seconds: number,
  body: () => string
) => {
  await load(server, connections, warmup, body)
  return load(server, connections, seconds, body)
}

/** Seed 100 leads, then post only those again: every measured answer should be 200 (duplicate). */
export const measureDuplicates = async (server: Server, connections: number, warmup: number, seconds: number) => {
  const seeds = Array.from({ length: 100 }, (_, n) => JSON.stringify({ email: `dup.${n}@acme.com`, campaignId: "dup" }))
  for (const body of seeds) {
    const response = await fetch(`http://127.0.0.1:${server.running.port}/leads`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body
    })
    const id = /"id":"([^"]+)"/.exec(await response.text())?.[1]
    if (response.status === 202 && id !== undefined) server.ids.push(id)
  }
  let i = 0
  return measure(server, connections, warmup, seconds, () => seeds[i++ % seeds.length] ?? "")
}
