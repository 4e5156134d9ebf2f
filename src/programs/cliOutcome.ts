import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as ConfigError from "effect/ConfigError"
import * as Console from "effect/Console"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Logging from "../../layers/observability/Logger.js"
import { AppConfig } from "../../services/AppConfig.js"
import { LeadNotFound } from "../../services/LeadStore.js"

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

/** A wrong command line; its message is shown with the usage. */
export class UsageError extends Data.TaggedError("UsageError")<{ readonly message: string }> {}
/** The command ran but did nothing (its output says why). */
export class NothingDone extends Data.TaggedError("NothingDone")<{ readonly message: string }> {}

const outcome = (error: unknown): readonly [string, number] => {
  const tagged = error as { readonly _tag?: string; readonly message?: string; readonly leadId?: string }
  switch (tagged._tag) {
    case "LeadNotFound":
      return [`No lead with id ${JSON.stringify(tagged.leadId)}`, ExitCode.notFound]
    case "StoreUnavailable":
      return tagged.message?.includes("is in use by process")
        ? [tagged.message, ExitCode.inUse]
        : [`The lead store is unavailable: ${tagged.message}`, ExitCode.failed]
    case "QueueUnavailable":
      return [`The queue is unavailable: ${tagged.message}`, ExitCode.failed]
    case "UsageError":
      return [`${tagged.message} (run with no arguments for the usage)`, ExitCode.usage]
    case "NothingDone":
      return [tagged.message ?? "nothing done", ExitCode.nothingDone]
    default:
      if (ConfigError.isConfigError(error)) return [`Bad configuration: ${String(error)}`, ExitCode.usage]
      return [tagged.message ?? String(error), ExitCode.failed]
  }
}

/** Runs a CLI command: a failure is one line on stderr and the exit code that names it, never a stack trace. */
export const runCli = (program: Effect.Effect<void, unknown>, logTo: "stdout" | "stderr" = "stdout") =>
  program.pipe(
    Effect.catchAll((error) => {
      const [line, code] = outcome(error)
      return Console.error(line).pipe(Effect.zipRight(Effect.sync(() => (process.exitCode = code))))
    }),
    Effect.provide(Logging.layerConfig("pretty", logTo)),
    NodeRuntime.runMain({ disablePrettyLogger: true })
  )

/** When a lead the CLI queued will run: the embedded queue lives in the server's process, BullMQ's in Redis. */
export const whenItRuns = Effect.map(AppConfig, (config) =>
  Option.isNone(config.redisUrl)
    ? "the embedded queue lives in the server's process: it runs when `npm start` next starts (its outbox sweeper " +
      "picks up QUEUED leads within SWEEP_INTERVAL_MS + SWEEP_MIN_AGE_MS)"
    : "it is on the BullMQ queue in Redis: a running consumer picks it up now (or the next one to start)"
)

/** A positive integer argument, or a usage error naming it. */
export const positiveArg = (name: string, value: string | undefined, fallback: number) =>
  Effect.suspend(() => {
    if (value === undefined) return Effect.succeed(fallback)
    const n = Number(value)
    return Number.isInteger(n) && n > 0
      ? Effect.succeed(n)
      : Effect.fail(new UsageError({ message: `${name} must be a positive integer, got ${JSON.stringify(value)}` }))
  })

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
    const keys = Option.match(config.apiKeys, { onNone: () => [], onSome: (k) => Redacted.value(k) })
    const url = `http://127.0.0.1:${config.port}/leads/${encodeURIComponent(leadId)}/replay`
    const response = yield* Effect.tryPromise({
      try: () =>
        fetch(url, { method: "POST", headers: keys[0] ? { "x-api-key": keys[0].trim() } : {} }).then(async (r) => ({
          status: r.status,
          body: (await r.json().catch(() => ({}))) as { readonly detail?: string }
        })),
      catch: () => new Error(`the embedded database is in use, and no server answers at ${url}`)
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
