import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"

/** Every log line (logfmt, annotations and causes included) at every level, for asserting what never gets logged. */
export const makeLogCapture = () => {
  const lines: Array<string> = []
  const logger = Logger.make((options) => {
    lines.push(Logger.logfmtLogger.log(options))
  })
  return {
    lines,
    layer: Layer.merge(Logger.replace(Logger.defaultLogger, logger), Logger.minimumLogLevel(LogLevel.All))
  }
}

/** The captured lines whose message is `message`. */
export const withMessage = (lines: ReadonlyArray<string>, message: string) =>
  lines.filter((line) => line.includes(`message="${message}"`))
