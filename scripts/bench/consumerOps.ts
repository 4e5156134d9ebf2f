// Effect operations per lead in the consumer's pipeline, counted with a Supervisor (RuntimeFlags.OpSupervision), by
// the kind of operation and by the function it runs: where the runtime's share of a lead's CPU comes from. The
// program's own services (ServicesLive from the environment: Postgres on a fresh schema, Redis on a fresh prefix,
// the mock CRM at 0 ms) process leads accepted just before, one at a time, in-process.
//   npx tsx scripts/bench/consumerOps.ts [--n 200] [--top 40]
import * as Effect from "effect/Effect"
import type * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as RuntimeFlags from "effect/RuntimeFlags"
import * as RuntimeFlagsPatch from "effect/RuntimeFlagsPatch"
import * as Supervisor from "effect/Supervisor"
import { admin, createSchema, databaseUrl, deletePrefix, dropSchema, redisClient, redisUrl, suffix } from "./lib/env.js"
import { leadBody } from "./lib/leads.js"
import { table } from "./lib/table.js"

const argv = process.argv.slice(2)
const option = (name: string, fallback: number) =>
  argv.includes(name) ? Number(argv[argv.indexOf(name) + 1]) : fallback
const n = option("--n", 200)
const top = option("--top", 40)
const tag = suffix()
const schema = `bench_ops_${tag}`
const prefix = `rf-bench-${tag}-ops`

Object.assign(process.env, {
  DATABASE_URL: databaseUrl,
  DATABASE_SCHEMA: schema,
  DATABASE_POOL_SIZE: "2",
  REDIS_URL: redisUrl,
  REDIS_KEY_PREFIX: prefix,
  MOCK_CRM_LATENCY_MS: "0",
  RATE_LIMIT_PER_LEAD: "1000000",
  RATE_LIMIT_PER_ACCOUNT: "1000000",
  RATE_LIMIT_CRM: "1000000",
  LOG_LEVEL: "Warning"
})
const { ServicesLive } = await import("../../src/programs/services.js")
const { acceptLead } = await import("../../src/pipeline/accept.js")
const { processLead } = await import("../../src/pipeline/process.js")
const { LeadInput, strictParseOptions } = await import("../../src/domain/lead.js")
const Schema = await import("effect/Schema")

/** Counts each operation by its kind and the function it carries (its name, else the start of its source). */
class Counter extends Supervisor.AbstractSupervisor<void> {
  readonly byOp = new Map<string, number>()
  readonly byFunction = new Map<string, number>()
  total = 0
  get value() {
    return Effect.void
  }
  override onEffect<A, E>(_fiber: Fiber.RuntimeFiber<A, E>, effect: Effect.Effect<unknown, unknown, unknown>) {
    const op = (effect as unknown as { _op: string })._op
    this.total++
    this.byOp.set(op, (this.byOp.get(op) ?? 0) + 1)
    const carried = effect as unknown as {
      effect_instruction_i0?: unknown
      effect_instruction_i1?: unknown
      effect_instruction_i2?: unknown
    }
    // a match's success handler names its call site better than its failure handler (often a shared `onFailure`)
    const candidates = op === "OnSuccessAndFailure" ? [carried.effect_instruction_i2] : []
    candidates.push(carried.effect_instruction_i1, carried.effect_instruction_i0)
    const fn = candidates.find((x) => typeof x === "function") as ((...args: Array<unknown>) => unknown) | undefined
    const label = fn === undefined ? `${op}` : `${op} ${fn.name || fn.toString().replace(/\s+/g, " ").slice(0, 90)}`
    this.byFunction.set(label, (this.byFunction.get(label) ?? 0) + 1)
  }
}

const sql = admin()
const redis = redisClient()
await createSchema(sql, schema, false)
const runtime = ManagedRuntime.make(ServicesLive.pipe(Layer.provide(Logger.minimumLogLevel(LogLevel.Warning))))
try {
  const decode = Schema.decodeUnknownSync(LeadInput)
  const accepted: Array<string> = []
  for (let k = 0; k < n + 50; k++) {
    const body: unknown = leadBody(tag, k)
    const result = await runtime.runPromise(acceptLead(decode(body, strictParseOptions), "api"))
    accepted.push((result as { lead: { id: string } }).lead.id)
  }
  const job = (leadId: string) => ({ leadId, attemptsMade: 0, maxAttempts: 5 }) as never
  // warm-up: V8 compiles, the pools connect
  for (const leadId of accepted.slice(0, 50)) await runtime.runPromise(processLead(job(leadId)))
  const counter = new Counter()
  const supervised = (leadId: string) =>
    processLead(job(leadId)).pipe(
      Effect.supervised(counter),
      Effect.withRuntimeFlagsPatch(RuntimeFlagsPatch.enable(RuntimeFlags.OpSupervision))
    )
  for (const leadId of accepted.slice(50)) await runtime.runPromise(supervised(leadId))
  const rows = (map: Map<string, number>) =>
    [...map.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, count]) => [name, (count / n).toFixed(1)])
  console.log(`Effect operations per lead (processLead, ${n} leads, one at a time): ${(counter.total / n).toFixed(1)}`)
  console.log(table(["operation", "per lead"], rows(counter.byOp)))
  console.log()
  console.log(table(["operation and the function it runs", "per lead"], rows(counter.byFunction)))
} finally {
  await runtime.dispose()
  await dropSchema(sql, schema)
  await deletePrefix(redis, prefix)
  await sql.end()
  redis.disconnect()
}
