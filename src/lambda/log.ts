import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Logger from "effect/Logger"
import * as Runtime from "effect/Runtime"
import { jsonLogger, minimumLevel } from "../../layers/observability/Logger.js"

/**
 * The lines a handler writes itself, before its environment exists or without it: the programs' JSON lines (time,
 * level, message, fields, `cause`; PII and passwords in URLs redacted by the JSON logger itself), on stderr (Lambda's ERROR stream), at
 * LOG_LEVEL's minimum as the programs' own lines (none at LOG_LEVEL=Fatal or Off).
 */
const handlerLogger = Logger.replace(Logger.defaultLogger, jsonLogger.pipe(Logger.withConsoleError))

/** The failure a ManagedRuntime's rejected promise carries, as a Cause (anything else as a defect). */
const causeOf = (error: unknown): Cause.Cause<unknown> =>
  Runtime.isFiberFailure(error) ? error[Runtime.FiberFailureCauseId] : Cause.die(error)

/** One error line in the programs' JSON format: `fields` as its fields, `error` (if any) rendered as its cause. */
export const logError = (message: string, fields: Readonly<Record<string, unknown>> = {}, error?: unknown): void =>
  Effect.runSync(
    (error === undefined ? Effect.logError(message) : Effect.logError(message, causeOf(error))).pipe(
      Effect.annotateLogs(fields),
      (log) => Effect.flatMap(minimumLevel, (minimum) => Logger.withMinimumLogLevel(log, minimum)),
      Effect.provide(handlerLogger)
    )
  )
