import * as Cause from "effect/Cause"
import * as Config from "effect/Config"
import * as Context from "effect/Context"
import * as FiberRef from "effect/FiberRef"
import * as FiberRefs from "effect/FiberRefs"
import * as Tracer from "effect/Tracer"
import * as Effect from "effect/Effect"
import * as HashMap from "effect/HashMap"
import * as Layer from "effect/Layer"
import * as List from "effect/List"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import { redact, redactText } from "../../src/domain/redact.js"

const messageText = (message: unknown): string => {
  const parts = Array.isArray(message) ? message : [message]
  return parts.map((part) => (typeof part === "string" ? part : JSON.stringify(redact(part)))).join(" ")
}

/**
 * One JSON object per line for Loki: time, level, message, annotations (lead id...), trace and span ids. Every
 * string passes the PII redactor, so an email or phone that slips into a message never reaches the log store.
 */
export const jsonLogger = Logger.make<unknown, string>(
  ({ annotations, cause, date, logLevel, message, spans, context }) => {
    const entry: Record<string, unknown> = {
      time: date.toISOString(),
      level: logLevel.label.toLowerCase(),
      message: redactText(messageText(message))
    }
    for (const [key, value] of HashMap.toEntries(annotations)) entry[key] = redact(value)
    const span = Context.getOption(FiberRefs.getOrDefault(context, FiberRef.currentContext), Tracer.ParentSpan)
    if (Option.isSome(span)) {
      entry.traceId = span.value.traceId
      entry.spanId = span.value.spanId
    }
    if (!Cause.isEmpty(cause)) {
      // Cause.pretty names the error (tag, message, stack); redacted like everything else
      const text = redactText(Cause.pretty(cause, { renderErrorCause: true }))
      entry.cause = text
      if (entry.message === "") entry.message = text.split("\n")[0] ?? ""
    }
    const names = List.toArray(spans).map((s) => s.label)
    if (names.length > 0) entry.spans = names
    return JSON.stringify(entry)
  }
)

/** A readable line for a terminal, redacted the same way. */
export const prettyLogger = Logger.make<unknown, string>(({ annotations, cause, date, logLevel, message }) => {
  const extras = HashMap.toEntries(annotations)
    .map(([key, value]) => `${key}=${redactText(typeof value === "string" ? value : JSON.stringify(redact(value)))}`)
    .join(" ")
  const detail = Cause.isEmpty(cause) ? "" : `\n${redactText(Cause.pretty(cause))}`
  return `${date.toISOString().slice(11, 23)} ${logLevel.label.padEnd(5)} ${redactText(messageText(message))}${extras ? ` ${extras}` : ""}${detail}`
})

/**
 * LOG_FORMAT (json | pretty; json by default, pretty for `npm start`) and LOG_LEVEL (info by default). Logs go to
 * stdout, or to stderr where stdout carries a protocol (the MCP server on stdio).
 */
export const layerConfig = (defaultFormat: "json" | "pretty" = "json", output: "stdout" | "stderr" = "stdout") =>
  Layer.unwrapEffect(
    Effect.gen(function* () {
      const format = yield* Config.literal("json", "pretty")("LOG_FORMAT").pipe(Config.withDefault(defaultFormat))
      const level = yield* Config.logLevel("LOG_LEVEL").pipe(Config.withDefault(LogLevel.Info))
      const logger = (format === "json" ? jsonLogger : prettyLogger).pipe(
        output === "stderr" ? Logger.withConsoleError : Logger.withConsoleLog
      )
      return Layer.merge(Logger.replace(Logger.defaultLogger, logger), Logger.minimumLogLevel(level))
    })
  )
