import * as Effect from "effect/Effect"
import type { CrmProxy } from "../lib/crmProxy.js"
import { terminateSessions } from "../lib/db.js"
import { deletePrefixKeys, type Isolation } from "../lib/isolation.js"
import type { Program } from "../lib/processes.js"

/** What a fault may touch: the run's stores, the CRM proxy, and the consumers (which it may replace). */
export interface ChaosContext {
  readonly iso: Isolation
  readonly crm: CrmProxy
  readonly consumers: Array<Program>
  /** Start a fresh consumer (it lives until the run ends). */
  readonly startConsumer: (name: string) => Effect.Effect<Program, unknown>
  /** Names of the consumers SIGKILLed: a resend of what one sent is explained (see crmLedger's explainedByKill). */
  readonly killed: Array<string>
}

/** A fault: `inject` when the lead stream is a third through, `heal` at two thirds. */
export interface Scenario {
  readonly name: string
  readonly description: string
  readonly inject: (ctx: ChaosContext) => Effect.Effect<string, unknown>
  readonly heal: (ctx: ChaosContext) => Effect.Effect<string, unknown>
}

const note = (text: string) => Effect.succeed(text)

/** Every fault the chaos run injects, in order. */
export const scenarios: ReadonlyArray<Scenario> = [
  {
    name: "sigkill-consumer",
    description: "SIGKILL one of the two consumers mid-stream, start a replacement later",
    inject: (ctx) =>
      Effect.gen(function* () {
        const victim = ctx.consumers.shift()
        if (victim === undefined) return "no consumer to kill"
        victim.signal("SIGKILL")
        ctx.killed.push(victim.name)
        yield* victim.waitExit(5000)
        return `killed ${victim.name} (pid ${victim.pid})`
      }),
    heal: (ctx) =>
      Effect.gen(function* () {
        const fresh = yield* ctx.startConsumer(`consumer-${Date.now() % 100_000}`)
        ctx.consumers.push(fresh)
        return `started ${fresh.name}`
      })
  },
  {
    name: "redis-data-loss",
    description: "delete every Redis key of the run (FLUSHALL, limited to this run's prefix on a shared Redis)",
    inject: (ctx) => Effect.map(deletePrefixKeys(ctx.iso.redis, ctx.iso.prefix), (n) => `deleted ${n} keys`),
    heal: () => note("nothing to do: the outbox sweeper re-enqueues")
  },
  {
    name: "postgres-restart",
    description:
      "pg_terminate_backend on every session of the run (a private Postgres restart would be too heavy; " +
      "from the programs' side it is the same: every connection drops at once)",
    inject: (ctx) => Effect.map(terminateSessions(ctx.iso.sql, ctx.iso.schema), (n) => `terminated ${n} sessions`),
    heal: () => note("nothing to do: the pools reconnect on the next query")
  },
  {
    name: "crm-429-then-503",
    description: "the CRM answers 429 (Retry-After: 1) for a while, then 503",
    inject: (ctx) =>
      Effect.gen(function* () {
        ctx.crm.setMode({ _tag: "Fail", status: 429, retryAfterS: 1 })
        yield* Effect.sleep("1500 millis")
        ctx.crm.setMode({ _tag: "Fail", status: 503 })
        return "429 for 1.5 s, then 503"
      }),
    heal: (ctx) => Effect.sync(() => ctx.crm.setMode({ _tag: "Pass" })).pipe(Effect.as("CRM healthy"))
  },
  {
    name: "slow-crm",
    description: "every CRM request takes 800 ms",
    inject: (ctx) => Effect.sync(() => ctx.crm.setMode({ _tag: "Slow", ms: 800 })).pipe(Effect.as("CRM slow")),
    heal: (ctx) => Effect.sync(() => ctx.crm.setMode({ _tag: "Pass" })).pipe(Effect.as("CRM fast again"))
  }
]
