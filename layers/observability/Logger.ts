import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Config from "effect/Config"
import * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as DefaultServices from "effect/DefaultServices"
import * as Either from "effect/Either"
import * as FiberId from "effect/FiberId"
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
import { isBuiltInTracer } from "../../src/domain/spans.js"

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

/** The span a log line's event goes to, as Effect's tracer logger picks it: none for a client's (external) span. */
const eventSpan = (span: Tracer.AnySpan | undefined): Tracer.Span | undefined => {
  let current = span
  // a span that does not propagate hands its events to its parent, as in Effect's own tracer logger
  while (current?._tag === "Span" && Context.get(current.context, Tracer.DisablePropagation)) {
    current = Option.getOrUndefined(current.parent)
  }
  return current?._tag === "Span" ? current : undefined
}

/**
 * Effect's tracer logger (Logger.tracerLogger: each log line an event of the current span, which a trace viewer
 * shows in place), with the line redacted as the JSON lines are: message, annotations and cause. Effect's own copies
 * them raw, and it is one of the default loggers: `layerConfig` puts this one in its place. Under the built-in tracer
 * (no tracer installed) it adds nothing: its spans are exported nowhere.
 */
export const spanEventLogger = Logger.make<unknown, void>(
  ({ annotations, cause, context, fiberId, logLevel, message }) => {
    const services = FiberRefs.getOrDefault(context, DefaultServices.currentServices)
    if (isBuiltInTracer(Context.get(services, Tracer.Tracer))) return
    const parent = Context.getOption(FiberRefs.getOrDefault(context, FiberRef.currentContext), Tracer.ParentSpan)
    const span = eventSpan(Option.getOrUndefined(parent))
    if (span === undefined) return
    const attributes: Record<string, unknown> = {}
    for (const [key, value] of HashMap.toEntries(annotations)) attributes[key] = redact(value)
    attributes["effect.fiberId"] = FiberId.threadName(fiberId)
    attributes["effect.logLevel"] = logLevel.label
    if (!Cause.isEmpty(cause)) {
      attributes["effect.cause"] = redactText(Cause.pretty(cause, { renderErrorCause: true }))
    }
    span.event(
      redactText(messageText(message)),
      Context.get(services, Clock.Clock).unsafeCurrentTimeNanos(),
      attributes
    )
  }
)

/** Log lines as redacted span events (`spanEventLogger`) in place of Effect's raw ones; part of `layerConfig`. */
export const layerSpanEvents: Layer.Layer<never> = Logger.replace(Logger.tracerLogger, spanEventLogger)

/** A setting read as one of a few words, in any case; anything else is refused with `message` (never the value). */
const word = <A>(name: string, parse: (lowercase: string) => A | undefined, message: string): Config.Config<A> =>
  Config.nested(
    Config.mapOrFail(Config.string(), (text) => {
      const value = parse(text.toLowerCase())
      return value === undefined ? Either.left(ConfigError.InvalidData([], message)) : Either.right(value)
    }),
    name
  )

const formats = ["json", "pretty"] as const

/** "All", "Trace", ... "Off": the levels as LOG_LEVEL takes them (any case). */
const levelNames = LogLevel.allLevels.map(({ label }) => label.charAt(0) + label.slice(1).toLowerCase())

const format = Config.option(
  word("LOG_FORMAT", (text) => formats.find((f) => f === text), `must be ${formats.join(" or ")} (any case)`)
)

const level = Config.option(
  word(
    "LOG_LEVEL",
    (text) => LogLevel.allLevels.find((l) => l.label.toLowerCase() === text),
    `must be one of ${levelNames.join(", ")} (any case)`
  )
)

/**
 * LOG_FORMAT and LOG_LEVEL, in any case; unset, None (each program has its own default format). Start-up's check
 * reads this with every other setting, so a bad value is listed with the rest.
 */
export const config = Config.all({ format, level })

/** A setting's value, or None when it is unset or bad. */
const orNone = <A>(setting: Config.Config<Option.Option<A>>) => Effect.orElseSucceed(setting, () => Option.none<A>())

/** LOG_LEVEL's level, Info when it is unset or bad. */
export const minimumLevel: Effect.Effect<LogLevel.LogLevel> = Effect.map(
  orNone(level),
  Option.getOrElse(() => LogLevel.Info)
)

/**
 * LOG_FORMAT (json | pretty; json by default, pretty for `npm start`) and LOG_LEVEL (info by default). Logs go to
 * stdout, or to stderr where stdout carries a protocol (the MCP server on stdio); the copies of log lines a traced span
 * keeps as events are redacted the same way (`spanEventLogger`). A bad value leaves its default:
 * this layer is built before start-up's check runs (to log whatever start-up does), and failing here would hide
 * every other bad key behind a raw error; the check reports it with the rest (`config`).
 */
export const layerConfig = (defaultFormat: "json" | "pretty" = "json", output: "stdout" | "stderr" = "stdout") =>
  Layer.unwrapEffect(
    Effect.gen(function* () {
      const chosenFormat = Option.getOrElse(yield* orNone(format), () => defaultFormat)
      const minimum = yield* minimumLevel
      const logger = (chosenFormat === "json" ? jsonLogger : prettyLogger).pipe(
        output === "stderr" ? Logger.withConsoleError : Logger.withConsoleLog
      )
      return Layer.mergeAll(
        Logger.replace(Logger.defaultLogger, logger),
        layerSpanEvents,
        Logger.minimumLogLevel(minimum)
      )
    })
  )
