import * as HttpServerError from "@effect/platform/HttpServerError"
import * as Data from "effect/Data"
import * as Layer from "effect/Layer"

/** A program could not listen on its port; the message says which port, why, and which variable changes it. */
export class ListenFailed extends Data.TaggedError("ListenFailed")<{ readonly message: string }> {}

const reasons: Record<string, (port: string, variable: string) => string> = {
  EADDRINUSE: (port, variable) => `port ${port} is already in use (EADDRINUSE) — set ${variable} to another port`,
  EACCES: (port, variable) => `port ${port} needs privileges (EACCES) — set ${variable} to a port above 1023`,
  EADDRNOTAVAIL: (port, variable) =>
    `cannot listen on port ${port}: HOST is not an address of this machine (EADDRNOTAVAIL) — check HOST and ${variable}`
}

/** Node's listen error (code, port), when `error` is a ServeError carrying one. */
const listenCause = (error: unknown): { readonly code: string; readonly port: string } | undefined => {
  if (!(error instanceof HttpServerError.ServeError)) return undefined
  const cause = error.cause as { readonly code?: unknown; readonly port?: unknown } | undefined
  if (typeof cause !== "object" || cause === null || typeof cause.code !== "string") return undefined
  return { code: cause.code, port: String(cause.port ?? "?") }
}

/**
 * Turns a server layer's listen failure into ListenFailed, one line naming the port and `variable` (PORT,
 * METRICS_PORT) instead of "ServeError: An error has occurred" and a stack. Other failures pass unchanged.
 */
export const explainListenFailure =
  (variable: string) =>
  <A, E, R>(layer: Layer.Layer<A, E, R>): Layer.Layer<A, E | ListenFailed, R> =>
    Layer.catchAll(layer, (error): Layer.Layer<A, E | ListenFailed> => {
      const cause = listenCause(error)
      const reason = cause === undefined ? undefined : reasons[cause.code]
      return reason === undefined || cause === undefined
        ? Layer.fail(error)
        : Layer.fail(new ListenFailed({ message: reason(cause.port, variable) }))
    })
