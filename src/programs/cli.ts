import * as Console from "effect/Console"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as SecretsConfig from "../../layers/aws/SecretsConfig.js"
import * as ConfigLayer from "../../layers/config.js"
import { checkIngestConfig, checkStoreConfig } from "../../layers/ingestPreset.js"
import { runMigrations } from "../../layers/postgres/index.js"
import { AppConfig } from "../../services/AppConfig.js"
import { JobQueue } from "../../services/JobQueue.js"
import { LeadNotFound, LeadStore } from "../../services/LeadStore.js"
import { type ReplayOutcome, replayAll, replayLead } from "../pipeline/replay.js"
import { sweepOnce } from "../pipeline/sweeper.js"
import {
  cliQueue,
  isInUse,
  limitArg,
  MAX_LIMIT,
  NothingDone,
  PartlyFailed,
  replayLine,
  replayThroughServer,
  runCli,
  UsageError,
  whenItRuns
} from "./cliOutcome.js"
import { IngestServicesLive } from "./ingestServices.js"

const usage = `Usage: revenueflow <command>    (in RevenueFlow's own repository: npm run --silent cli -- <command>)

Works on the backends the environment selects (DATABASE_URL, REDIS_URL, QUEUE_BACKEND). The embedded PGlite
database belongs to one process: while a server holds it (\`npm start\` in the repository, an app embedding it),
commands against it are refused (exit 4), except \`replay <leadId>\`, which is handed to that server (POST
/leads/:id/replay on PORT). Its console is at /console.

  migrate                 apply pending database migrations (DATABASE_URL, else the embedded PGlite)
  dead-letters [limit]    list dead-lettered (FAILED) leads with their reasons (default 50)
  replay <leadId>         replay one dead-lettered lead (idempotent); says when it will run
  replay --all [limit]    replay every dead letter (default 1000), oldest first, a line per lead as it goes;
                          a lead that fails is named with why and the rest are still tried (exit 1 if any failed)
  sweep                   run the outbox sweep once: enqueue leads stuck in RECEIVED / QUEUED
  stats                   queue counts and leads per status (JSON)
  mcp                     serve the CRM tools to AI agents over MCP on stdin / stdout
  help, -h, --help        show this

A limit is a whole number from 1 to ${MAX_LIMIT}. Only the command's result is written to stdout; logs and errors
go to stderr. Exit codes: 0 done, 1 failed (store or queue unavailable; for replay --all, any lead failed),
2 bad command line, 3 no such lead, 4 embedded database in use by another process, 5 nothing to do (e.g. the lead
is not FAILED, or another replay got there first).
`

/** What the command line asks for, checked before any service is built. */
type Command = Data.TaggedEnum<{
  Help: {}
  Migrate: {}
  DeadLetters: { readonly limit: number }
  Replay: { readonly leadId: string }
  ReplayAll: { readonly limit: number }
  Sweep: {}
  Stats: {}
  Mcp: {}
}>
const Command = Data.taggedEnum<Command>()

/** The command line as a Command, or the usage error that names what is wrong with it. */
const parseCommand = (argv: ReadonlyArray<string>): Either.Either<Command, UsageError> => {
  const [name, ...args] = argv
  if (name === undefined || ["help", "-h", "--help"].includes(name) || args.some((a) => a === "-h" || a === "--help"))
    return Either.right(Command.Help())
  // at most `max` arguments after the command, none of them an option it does not know
  const taking = (max: number, command: Command): Either.Either<Command, UsageError> => {
    const extra = args.find((a, i) => i >= max || (a.startsWith("-") && !(i === 0 && a === "--all")))
    return extra === undefined
      ? Either.right(command)
      : Either.left(new UsageError({ message: `unexpected argument ${JSON.stringify(extra)} to ${name}` }))
  }
  switch (name) {
    case "migrate":
      return taking(0, Command.Migrate())
    case "dead-letters":
      return Either.flatMap(limitArg(args[0], 50), (limit) => taking(1, Command.DeadLetters({ limit })))
    case "replay":
      if (args[0] === undefined) return Either.left(new UsageError({ message: "replay needs a lead id or --all" }))
      return args[0] === "--all"
        ? Either.flatMap(limitArg(args[1], 1000), (limit) => taking(2, Command.ReplayAll({ limit })))
        : taking(1, Command.Replay({ leadId: args[0] }))
    case "sweep":
      return taking(0, Command.Sweep())
    case "stats":
      return taking(0, Command.Stats())
    case "mcp":
      return taking(0, Command.Mcp())
    default:
      return Either.left(new UsageError({ message: `unknown command ${JSON.stringify(name)}`, usage }))
  }
}

/** Lead ids are UUIDs; anything else is no lead (Postgres would refuse the cast as a store error). */
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

// The commands use the store and the queue only: the CRM, analyser and enrichment settings are not read.
const withServices = <A, E>(effect: Effect.Effect<A, E, LeadStore | JobQueue | AppConfig>) =>
  checkIngestConfig.pipe(Effect.zipRight(Effect.provide(effect, IngestServicesLive)))

/**
 * Replays one lead or every dead letter, a line per lead as it is done (replayed; not replayed and why; failed and why)
 * then a summary. Each lead of --all is tried whatever became of the one before; exit 1 if any failed, 5 if none was
 * replayable. One lead's replay that the store or queue fails ends as that error (exit 1; 3 for no such lead).
 */
const replay = (leadIds: "all" | string, limit: number) =>
  withServices(
    Effect.gen(function* () {
      const counted = { replayed: 0, notReplayed: 0, failed: 0 }
      const report = (outcome: ReplayOutcome) => {
        const { kind, line } = replayLine(outcome)
        counted[kind]++
        return Console.log(line)
      }
      if (leadIds === "all") {
        const outcomes = yield* replayAll(limit, report)
        if (outcomes.length === 0) return yield* Console.log("no dead letters to replay")
      } else {
        const outcome = yield* replayLead(leadIds).pipe(Effect.either)
        // a replay elsewhere between this one's read and write (StaleTransition) is "not replayed", as for any lead
        // that is not FAILED; the store or queue failing is the command failing
        if (Either.isLeft(outcome) && outcome.left._tag !== "StaleTransition") return yield* outcome.left
        yield* report({ leadId: leadIds, outcome })
      }
      const { replayed, notReplayed, failed } = counted
      const others = [
        notReplayed > 0 ? `${notReplayed} not replayed` : "",
        failed > 0 ? `${failed} failed` : ""
      ].filter((part) => part !== "")
      if (replayed > 0 || failed > 0) {
        const queued = `${replayed} lead(s) queued${others.length > 0 ? ` (${others.join(", ")})` : ""}`
        yield* Console.log(replayed > 0 ? `${queued}; ${whenItRuns(yield* cliQueue)}` : queued)
      }
      if (failed > 0)
        return yield* new PartlyFailed({
          message:
            `${failed} of ${replayed + notReplayed + failed} lead(s) could not be replayed (each is named above, ` +
            "with why): run `replay --all` again once the store and the queue answer"
        })
      if (replayed === 0) return yield* new NothingDone({ message: "nothing replayed: only FAILED leads are replayed" })
    })
  )

const run = Command.$match({
  Help: () => Console.log(usage),
  Migrate: () =>
    checkStoreConfig.pipe(Effect.zipRight(runMigrations), Effect.zipRight(Console.log("migrations applied"))),
  // The store is the durable truth: FAILED leads with their reasons, whatever the queue still holds.
  DeadLetters: ({ limit }) =>
    withServices(
      Effect.gen(function* () {
        const failed = yield* Effect.flatMap(LeadStore, (store) =>
          store.listByStatus({ statuses: ["FAILED"], olderThanMs: 0, limit })
        )
        if (failed.length === 0) return yield* Console.log("no dead letters")
        for (const lead of failed) {
          yield* Console.log(`${lead.id}  ${lead.updatedAt.toISOString()}  ${lead.error ?? ""}`)
        }
      })
    ),
  // While npm start holds the embedded database, one lead is handed to it rather than refused.
  Replay: ({ leadId }) =>
    UUID.test(leadId)
      ? replay(leadId, 1).pipe(
          Effect.catchIf(isInUse, () => replayThroughServer(leadId).pipe(Effect.provide(ConfigLayer.layer)))
        )
      : Effect.fail(new LeadNotFound({ leadId })),
  ReplayAll: ({ limit }) => replay("all", limit),
  Sweep: () =>
    withServices(
      Effect.gen(function* () {
        // every lead left waiting now, but with the ages the consumers' sweeps use before they look at a PROCESSING
        // lead or send a QUEUED one again (SQS delivers a second copy: a lead still in its first would run twice)
        const config = yield* AppConfig
        const n = yield* sweepOnce({
          minAgeMs: 0,
          processingMinAgeMs: config.sweepProcessingMinAgeMs,
          resendMinAgeMs: config.sweepResendMinAgeMs
        })
        yield* Console.log(
          n === 0 ? "no stuck leads: nothing enqueued" : `enqueued ${n} lead(s); ${whenItRuns(yield* cliQueue)}`
        )
      })
    ),
  Stats: () =>
    withServices(
      Effect.gen(function* () {
        const queue = yield* cliQueue
        // the embedded queue is in the server's memory: this process's own would always say 0
        const stats =
          queue.backend === "MEMORY"
            ? "in-memory queue: its counts live in the server process (GET /ops/state or /console)"
            : yield* Effect.flatMap(JobQueue, (q) => q.stats)
        const counts = yield* Effect.flatMap(LeadStore, (s) => s.countByStatus)
        yield* Console.log(JSON.stringify({ queue: stats, leads: counts }, null, 2))
      })
    ),
  // loaded on demand: the MCP SDK is not worth its load time to the other commands
  Mcp: () =>
    Effect.flatMap(
      Effect.promise(() => import("./mcp.js")),
      (mcp) => mcp.mcpStdioProgram
    )
})

// The command line is checked before anything is built: a wrong one is exit 2 whatever the backends' state.
// Settings as the programs read them: with AWS_SECRETS_IDS, Secrets Manager's JSON secrets over the environment (a
// `migrate` at deploy time finds DATABASE_URL where the programs do). `mcp` reads them itself, for its whole session.
runCli(
  Either.match(parseCommand(process.argv.slice(2)), {
    onLeft: Effect.fail,
    onRight: (command) =>
      command._tag === "Mcp" || command._tag === "Help"
        ? run(command)
        : Effect.provide(run(command), SecretsConfig.layer)
  })
)
