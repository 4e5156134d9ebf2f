import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as ConfigError from "effect/ConfigError"
import * as Console from "effect/Console"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as BullMqOptions from "../../layers/bullmq/JobQueueOptions.js"
import * as Logging from "../../layers/observability/Logger.js"
import * as SqsConfig from "../../layers/sqs/config.js"
import { AppConfig } from "../../services/AppConfig.js"
import { LeadNotFound } from "../../services/LeadStore.js"
import type { ReplayOutcome } from "../pipeline/replay.js"

/** What the CLI's exit code means (README "CLI"). */
export const ExitCode = {
  /** the command did what it says */
  ok: 0,
  /** it could not: the store or queue is unavailable, or something failed */
  failed: 1,
  /** the command line is wrong (unknown command, missing or bad argument) */
  usage: 2,
  /** no lead has that id */
  notFound: 3,
  /** the embedded database folder is held by another process (npm start) */
  inUse: 4,
  /** nothing to do: the lead is not in a state the command acts on (e.g. replay of a SYNCED lead) */
  nothingDone: 5
} as const

/** A wrong command line: its message names what is wrong; `usage`, when given, is shown after it. */
export class UsageError extends Data.TaggedError("UsageError")<{
  readonly message: string
  readonly usage?: string
}> {}
/** The command ran but did nothing (its output says why). */
export class NothingDone extends Data.TaggedError("NothingDone")<{ readonly message: string }> {}
/** The command did part of its work: some items failed (its output names each, and why). */
export class PartlyFailed extends Data.TaggedError("PartlyFailed")<{ readonly message: string }> {}

const exitOutcome = (error: unknown): readonly [string, number] => {
  const tagged = error as {
    readonly _tag?: string
    readonly message?: string
    readonly leadId?: string
    readonly usage?: string
    readonly actual?: string
  }
  switch (tagged._tag) {
    case "LeadNotFound":
      return [`No lead with id ${JSON.stringify(tagged.leadId)}`, ExitCode.notFound]
    // the lead left FAILED between its read and its write (a replay from the console got there first): nothing to do
    case "StaleTransition":
      return [`${tagged.leadId}  not replayed: it is ${tagged.actual}`, ExitCode.nothingDone]
    case "StoreUnavailable":
      return tagged.message?.includes("is in use by process")
        ? [tagged.message, ExitCode.inUse]
        : [`The lead store is unavailable: ${tagged.message}`, ExitCode.failed]
    case "QueueUnavailable":
      return [`The queue is unavailable: ${tagged.message}`, ExitCode.failed]
    case "UsageError":
      return [
        `${tagged.message}${tagged.usage === undefined ? " (--help for the usage)" : `\n\n${tagged.usage}`}`,
        ExitCode.usage
      ]
    case "NothingDone":
      return [tagged.message ?? "nothing done", ExitCode.nothingDone]
    case "PartlyFailed":
      return [tagged.message ?? "partly failed", ExitCode.failed]
    default:
      if (ConfigError.isConfigError(error)) return [`Bad configuration: ${String(error)}`, ExitCode.usage]
      return [tagged.message ?? String(error), ExitCode.failed]
  }
}

/** What one lead's replay did, as the CLI reports it on its own line. */
export interface ReplayLine {
  readonly kind: "replayed" | "notReplayed" | "failed"
  readonly line: string
}

/**
 * One lead's replay as a line: replayed; not replayed, with the status it is in (a replay that lost a race to another,
 * StaleTransition, is that too: the lead is no longer FAILED); or failed, with why (the store or the queue).
 */
export const replayLine = (outcome: ReplayOutcome): ReplayLine => {
  const { leadId } = outcome
  if (Either.isRight(outcome.outcome)) {
    const result = outcome.outcome.right
    return result.replayed
      ? { kind: "replayed", line: `${leadId}  replayed: QUEUED` }
      : { kind: "notReplayed", line: `${leadId}  not replayed: it is ${result.status}` }
  }
  const error = outcome.outcome.left
  switch (error._tag) {
    case "StaleTransition":
      return { kind: "notReplayed", line: `${leadId}  not replayed: it is ${error.actual}` }
    case "LeadNotFound":
      return { kind: "notReplayed", line: `${leadId}  not replayed: no such lead any more` }
    // replayLead puts a lead the queue did not take back to FAILED: it stays a dead letter
    case "QueueUnavailable":
      return { kind: "failed", line: `${leadId}  failed: ${exitOutcome(error)[0]}; it stays FAILED` }
    case "StoreUnavailable":
      return { kind: "failed", line: `${leadId}  failed: ${exitOutcome(error)[0]}` }
  }
}

/**
 * Runs a CLI command: a failure is one line on stderr and the exit code that names it, never a stack trace. Logs go
 * to stderr as well, so stdout carries the command's result alone (`stats | jq`; MCP's protocol).
 */
export const runCli = (program: Effect.Effect<void, unknown>) =>
  program.pipe(
    Effect.catchAll((error) => {
      const [line, code] = exitOutcome(error)
      return Console.error(line).pipe(Effect.zipRight(Effect.sync(() => (process.exitCode = code))))
    }),
    Effect.provide(Logging.layerConfig("pretty", "stderr")),
    NodeRuntime.runMain({ disablePrettyLogger: true })
  )

/** The queue the commands work on, named (SQS: the queue URL's last part; BullMQ: QUEUE_NAME). */
export type CliQueue =
  | { readonly backend: "MEMORY" }
  | { readonly backend: "BULLMQ"; readonly name: string }
  | { readonly backend: "SQS"; readonly name: string }

/**
 * The queue the environment selects, as layers/ingestPreset.ts's `queue` selects it (QUEUE_BACKEND; unset, BullMQ
 * when REDIS_URL is set, else memory): REDIS_URL alone does not say where a job went.
 */
export const cliQueue: Effect.Effect<CliQueue, ConfigError.ConfigError, AppConfig> = Effect.gen(function* () {
  const config = yield* AppConfig
  const backend = yield* SqsConfig.queueBackendConfig
  switch (SqsConfig.selectedQueueBackend(backend, config.redisUrl)) {
    case "SQS":
      return { backend: "SQS", name: (yield* SqsConfig.config).queueUrl.split("/").pop() ?? "" }
    case "BULLMQ":
      return { backend: "BULLMQ", name: (yield* BullMqOptions.config).queueName }
    case "MEMORY":
      return { backend: "MEMORY" }
  }
})

/** When a lead the CLI queued will run: the embedded queue lives in the server's process; BullMQ's and SQS's not. */
export const whenItRuns = (queue: CliQueue): string => {
  switch (queue.backend) {
    case "MEMORY":
      return (
        "the embedded queue lives in the server's process: it runs when `npm start` next starts (its outbox " +
        "sweeper picks up QUEUED leads within SWEEP_INTERVAL_MS + SWEEP_MIN_AGE_MS)"
      )
    case "BULLMQ":
      return `it is on the BullMQ queue ${queue.name} in Redis: a running consumer picks it up now (or the next one to start)`
    case "SQS":
      return `it is on the SQS queue ${queue.name}: a running consumer (the Lambda function, or the consumer program with QUEUE_BACKEND=SQS) picks it up now`
  }
}

/** The most a limit argument may be (dead-letters, replay --all). */
export const MAX_LIMIT = 10_000

/**
 * A limit argument: a plain decimal whole number from 1 to MAX_LIMIT ("1e2", "0x10", "+5", "2.0" are refused, which
 * Number() would take), or a usage error naming it and the range.
 */
export const limitArg = (value: string | undefined, fallback: number): Either.Either<number, UsageError> =>
  value === undefined
    ? Either.right(fallback)
    : /^[0-9]{1,6}$/.test(value) && Number(value) >= 1 && Number(value) <= MAX_LIMIT
      ? Either.right(Number(value))
      : Either.left(
          new UsageError({
            message: `limit must be a whole number from 1 to ${MAX_LIMIT}, got ${JSON.stringify(value)}`
          })
        )

/** The embedded database is held by another process (see layers/postgres/dataLock.ts). */
export const isInUse = (error: unknown): boolean =>
  (error as { readonly _tag?: string })._tag === "StoreUnavailable" &&
  String((error as { readonly message?: string }).message).includes("is in use by process")

/**
 * Replays through the server that holds the embedded database (POST /leads/:id/replay on PORT, with the first
 * INGEST_API_KEYS key): its own queue runs the lead at once. The server's answer decides the exit code.
 */
export const replayThroughServer = (leadId: string) =>
  Effect.gen(function* () {
    const config = yield* AppConfig
    // the first key the server takes: a blank entry in INGEST_API_KEYS is none (src/http/auth.ts)
    const key = Option.match(config.apiKeys, {
      onNone: () => undefined,
      onSome: (keys) =>
        Redacted.value(keys)
          .map((k) => k.trim())
          .find((k) => k !== "")
    })
    const url = `http://127.0.0.1:${config.port}/leads/${encodeURIComponent(leadId)}/replay`
    const response = yield* Effect.tryPromise({
      try: () =>
        fetch(url, {
          method: "POST",
          headers: key === undefined ? {} : { "x-api-key": key },
          // a server that holds the connection without answering is not left to hang the CLI
          signal: AbortSignal.timeout(15_000)
        }).then(async (r) => ({
          status: r.status,
          body: (await r.json().catch(() => ({}))) as { readonly detail?: string }
        })),
      catch: () => new Error(`the embedded database is in use, and no server answered at ${url} (15 s)`)
    })
    if (response.status === 202) {
      return yield* Console.log(`${leadId}  replayed: QUEUED by the running server (${url}); it runs now`)
    }
    if (response.status === 404) return yield* new LeadNotFound({ leadId })
    if (response.status === 409) return yield* new NothingDone({ message: response.body.detail ?? "not replayed" })
    return yield* Effect.fail(
      new Error(`the running server refused the replay: ${response.body.detail ?? response.status}`)
    )
  })
