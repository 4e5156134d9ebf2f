import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import { InvalidConfiguration } from "../../layers/aws/validate.js"
import { checkIngestConfig, checkStoreConfig } from "../../layers/ingestPreset.js"
import { runMigrations } from "../../layers/postgres/index.js"
import { JobQueue } from "../../services/JobQueue.js"
import { LeadStore } from "../../services/LeadStore.js"
import { replayAll, replayLead } from "../pipeline/replay.js"
import { sweepOnce } from "../pipeline/sweeper.js"
import * as Logging from "../../layers/observability/Logger.js"
import { IngestServicesLive } from "./ingestServices.js"

const usage = `Usage: revenueflow <command>    (npm run cli -- <command>)

Works on the backends the environment selects (DATABASE_URL / REDIS_URL). The embedded PGlite database belongs to
one process: stop \`npm start\` before running commands against it.

  migrate                 apply pending database migrations (DATABASE_URL, else the embedded PGlite)
  dead-letters [limit]    list dead-lettered (FAILED) leads with their reasons (default 50)
  replay <leadId>         replay one dead-lettered lead (idempotent)
  replay --all [limit]    replay every dead letter (default 1000)
  sweep                   run the outbox sweep once: enqueue leads stuck in RECEIVED / QUEUED
  stats                   queue counts and leads per status
  mcp                     serve the CRM tools to AI agents over MCP on stdin / stdout (logs on stderr)
`

const [command, ...args] = process.argv.slice(2)

// The commands use the store and the queue only: the CRM, analyser and enrichment settings are not read.
const withServices = <A, E>(effect: Effect.Effect<A, E, LeadStore | JobQueue>) =>
  checkIngestConfig.pipe(Effect.zipRight(Effect.provide(effect, IngestServicesLive)))

const program: Effect.Effect<void, unknown> = (() => {
  switch (command) {
    case "migrate":
      return checkStoreConfig.pipe(Effect.zipRight(runMigrations), Effect.zipRight(Console.log("migrations applied")))
    case "dead-letters":
      // The store is the durable truth: FAILED leads with their reasons, whatever the queue still holds.
      return withServices(
        Effect.gen(function* () {
          const store = yield* LeadStore
          const failed = yield* store.listStuck({ statuses: ["FAILED"], olderThanMs: 0, limit: Number(args[0] ?? 50) })
          if (failed.length === 0) return yield* Console.log("no dead letters")
          for (const lead of failed) {
            yield* Console.log(`${lead.id}  ${lead.updatedAt.toISOString()}  ${lead.error ?? ""}`)
          }
        })
      )
    case "replay":
      return withServices(
        Effect.gen(function* () {
          const results =
            args[0] === "--all"
              ? yield* replayAll(Number(args[1] ?? 1000))
              : args[0]
                ? [yield* replayLead(args[0])]
                : []
          if (results.length === 0) return yield* Console.log(args[0] ? "nothing to replay" : usage)
          for (const r of results)
            yield* Console.log(`${r.leadId}  ${r.replayed ? "replayed" : `not replayed (status ${r.status})`}`)
        })
      )
    case "sweep":
      return withServices(Effect.flatMap(sweepOnce({ minAgeMs: 0 }), (n) => Console.log(`enqueued ${n} lead(s)`)))
    case "stats":
      return withServices(
        Effect.gen(function* () {
          const stats = yield* Effect.flatMap(JobQueue, (q) => q.stats)
          const counts = yield* Effect.flatMap(LeadStore, (s) => s.countByStatus)
          yield* Console.log(JSON.stringify({ queue: stats, leads: counts }, null, 2))
        })
      )
    case "mcp":
      // loaded on demand: the MCP SDK is not worth its load time to the other commands
      return Effect.flatMap(
        Effect.promise(() => import("./mcp.js")),
        (mcp) => mcp.mcpStdioProgram
      )
    default:
      return Console.log(usage)
  }
})()

// on stdio, MCP owns stdout: logs go to stderr
const logs = Logging.layerConfig("pretty", command === "mcp" ? "stderr" : "stdout")
program.pipe(
  Effect.catchIf(
    (error): error is InvalidConfiguration => error instanceof InvalidConfiguration,
    (error) => Console.error(error.message).pipe(Effect.zipRight(Effect.sync(() => (process.exitCode = 1))))
  ),
  Effect.provide(logs),
  NodeRuntime.runMain({ disablePrettyLogger: true })
)
