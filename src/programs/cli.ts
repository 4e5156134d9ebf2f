import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as SecretsConfig from "../../layers/aws/SecretsConfig.js"
import { checkIngestConfig, checkStoreConfig } from "../../layers/ingestPreset.js"
import { runMigrations } from "../../layers/postgres/index.js"
import { JobQueue } from "../../services/JobQueue.js"
import { LeadNotFound, LeadStore } from "../../services/LeadStore.js"
import { replayAll, replayLead } from "../pipeline/replay.js"
import { sweepOnce } from "../pipeline/sweeper.js"
import * as Option from "effect/Option"
import * as ConfigLayer from "../../layers/config.js"
import { AppConfig } from "../../services/AppConfig.js"
import { isInUse, NothingDone, positiveArg, replayThroughServer, runCli, UsageError, whenItRuns } from "./cliOutcome.js"
import { IngestServicesLive } from "./ingestServices.js"

const usage = `Usage: revenueflow <command>    (npm run cli -- <command>)

Works on the backends the environment selects (DATABASE_URL / REDIS_URL). The embedded PGlite database belongs to
one process: while \`npm start\` holds it, commands against it are refused (exit 4), except \`replay <leadId>\`,
which is handed to that server (POST /leads/:id/replay on PORT). Its console is at /console.

  migrate                 apply pending database migrations (DATABASE_URL, else the embedded PGlite)
  dead-letters [limit]    list dead-lettered (FAILED) leads with their reasons (default 50)
  replay <leadId>         replay one dead-lettered lead (idempotent); says when it will run
  replay --all [limit]    replay every dead letter (default 1000)
  sweep                   run the outbox sweep once: enqueue leads stuck in RECEIVED / QUEUED
  stats                   queue counts and leads per status
  mcp                     serve the CRM tools to AI agents over MCP on stdin / stdout (logs on stderr)

Exit codes: 0 done, 1 failed (store or queue unavailable), 2 bad command line, 3 no such lead,
4 embedded database in use by another process, 5 nothing to do (e.g. the lead is not FAILED).
`

const [command, ...args] = process.argv.slice(2)

/** Lead ids are UUIDs; anything else is no lead (Postgres would refuse the cast as a store error). */
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

// The commands use the store and the queue only: the CRM, analyser and enrichment settings are not read.
const withServices = <A, E>(effect: Effect.Effect<A, E, LeadStore | JobQueue | AppConfig>) =>
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
          const limit = yield* positiveArg("limit", args[0], 50)
          const failed = yield* store.listByStatus({ statuses: ["FAILED"], olderThanMs: 0, limit })
          if (failed.length === 0) return yield* Console.log("no dead letters")
          for (const lead of failed) {
            yield* Console.log(`${lead.id}  ${lead.updatedAt.toISOString()}  ${lead.error ?? ""}`)
          }
        })
      )
    case "replay":
      // while npm start holds the embedded database, one lead is handed to it rather than refused
      return withServices(
        Effect.gen(function* () {
          if (args[0] === undefined) return yield* new UsageError({ message: "replay needs a lead id or --all" })
          const results =
            args[0] === "--all"
              ? yield* replayAll(yield* positiveArg("limit", args[1], 1000))
              : UUID.test(args[0])
                ? [yield* replayLead(args[0])]
                : yield* new LeadNotFound({ leadId: args[0] })
          if (results.length === 0) return yield* Console.log("no dead letters to replay")
          for (const r of results)
            yield* Console.log(`${r.leadId}  ${r.replayed ? "replayed: QUEUED" : `not replayed: it is ${r.status}`}`)
          const replayed = results.filter((r) => r.replayed).length
          if (replayed > 0) return yield* Console.log(`${replayed} lead(s) queued; ${yield* whenItRuns}`)
          return yield* new NothingDone({ message: "nothing replayed: only FAILED leads are replayed" })
        })
      ).pipe(
        Effect.catchIf(
          (error) => isInUse(error) && args[0] !== undefined && args[0] !== "--all",
          () => replayThroughServer(args[0] as string).pipe(Effect.provide(ConfigLayer.layer))
        )
      )
    case "sweep":
      return withServices(
        Effect.gen(function* () {
          const n = yield* sweepOnce({ minAgeMs: 0 })
          yield* Console.log(
            n === 0 ? "no stuck leads: nothing enqueued" : `enqueued ${n} lead(s); ${yield* whenItRuns}`
          )
        })
      )
    case "stats":
      return withServices(
        Effect.gen(function* () {
          const config = yield* AppConfig
          // the embedded queue is in the server's memory: this process's own would always say 0
          const stats = Option.isNone(config.redisUrl)
            ? "in-memory queue: its counts live in the server process (GET /ops/state or /console)"
            : yield* Effect.flatMap(JobQueue, (q) => q.stats)
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
    case undefined:
    case "help":
    case "--help":
      return Console.log(usage)
    default:
      return Console.log(usage).pipe(
        Effect.zipRight(new UsageError({ message: `unknown command ${JSON.stringify(command)}` }))
      )
  }
})()

// Settings as the programs read them: with AWS_SECRETS_IDS, Secrets Manager's JSON secrets over the environment (a
// `migrate` at deploy time finds DATABASE_URL where the programs do). `mcp` reads them itself, for its whole session.
// on stdio, MCP owns stdout: logs go to stderr
runCli(
  command === "mcp" ? program : Effect.provide(program, SecretsConfig.layer),
  command === "mcp" ? "stderr" : "stdout"
)
