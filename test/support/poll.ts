import { connect } from "node:net"
import * as Effect from "effect/Effect"

/** A pause on the real clock (also under TestClock, which never moves on its own). */
const pause = (ms: number) => Effect.promise(() => new Promise<void>((resolve) => setTimeout(resolve, ms)))

/**
 * Checks `check` until it holds, on the real clock (so also under TestClock), every `intervalMs` (default 10);
 * fails the test (a defect naming `what`) once `timeoutMs` (default 10 s) have passed without it. A deadline, not a
 * pause: the wait is as short as the machine allows and only an outcome that never comes reaches the deadline.
 */
export const waitUntil = <E = never, R = never>(
  what: string,
  check: (() => boolean) | Effect.Effect<boolean, E, R>,
  options: { readonly timeoutMs?: number; readonly intervalMs?: number } = {}
): Effect.Effect<void, E, R> =>
  Effect.gen(function* () {
    const timeoutMs = options.timeoutMs ?? 10_000
    const deadline = Date.now() + timeoutMs
    const holds = Effect.isEffect(check) ? check : Effect.sync(check)
    while (!(yield* holds)) {
      if (Date.now() > deadline) return yield* Effect.dieMessage(`not so after ${timeoutMs} ms: ${what}`)
      yield* pause(options.intervalMs ?? 10)
    }
  })

/** Whether a TCP connection to 127.0.0.1:`port` is refused now (nothing listens there any more). */
export const refusesConnections = (port: number): Effect.Effect<boolean> =>
  Effect.async<boolean>((resume) => {
    const socket = connect(port, "127.0.0.1")
    socket.once("connect", () => {
      socket.destroy()
      resume(Effect.succeed(false))
    })
    socket.once("error", (error: NodeJS.ErrnoException) => {
      socket.destroy()
      resume(Effect.succeed(error.code === "ECONNREFUSED"))
    })
  })
