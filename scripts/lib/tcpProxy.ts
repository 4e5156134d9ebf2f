import { createServer, type Server, type Socket, connect } from "node:net"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"

/** A TCP proxy on 127.0.0.1 that can be cut (connections reset, new ones refused) and restored. */
export interface TcpProxy {
  readonly port: number
  /** Is it forwarding? */
  readonly isUp: () => boolean
  /** Reset every open connection and stop listening: clients see ECONNREFUSED, as with a stopped server. */
  readonly down: Effect.Effect<void>
  /** Listen again on the same port. */
  readonly up: Effect.Effect<void>
  /** Reset the open connections but keep accepting new ones (a server restart, seen from the client). */
  readonly resetConnections: Effect.Effect<number>
  /**
   * Stop forwarding without closing anything: open connections and new ones are accepted and their bytes swallowed,
   * so clients wait for answers that never come (a network partition, a failed-over primary). `up` then forwards
   * new connections again; the ones cut off here stay hung, as a dead peer's would until TCP gives up.
   */
  readonly blackhole: Effect.Effect<void>
}

/**
 * Forward 127.0.0.1:<free port> to `target` (host:port). Lets a test take Postgres or Redis away from the programs
 * without touching the shared server. Closed with the scope.
 */
export const startTcpProxy = (target: { host: string; port: number }): Effect.Effect<TcpProxy, Error, Scope.Scope> =>
  Effect.gen(function* () {
    const sockets = new Set<Socket>()
    const track = (socket: Socket) => {
      sockets.add(socket)
      socket.on("close", () => sockets.delete(socket))
    }
    let swallowing = false
    const hang = (client: Socket) => {
      client.removeAllListeners("close")
      client.removeAllListeners("error")
      client.unpipe()
      client.on("error", () => {})
      client.on("data", () => {})
      client.resume()
    }
    const pairs = new Map<Socket, Socket>()
    const onConnection = (client: Socket) => {
      track(client)
      if (swallowing) return hang(client)
      const upstream = connect(target.port, target.host)
      pairs.set(client, upstream)
      client.on("close", () => pairs.delete(client))
      track(upstream)
      client.on("error", () => upstream.destroy())
      upstream.on("error", () => client.destroy())
      client.on("close", () => upstream.destroy())
      upstream.on("close", () => client.destroy())
      client.pipe(upstream)
      upstream.pipe(client)
    }
    let server: Server | undefined
    const listen = (port: number) =>
      Effect.async<number, Error>((resume) => {
        const s = createServer(onConnection)
        s.once("error", (error) => resume(Effect.fail(error)))
        s.listen(port, "127.0.0.1", () => {
          server = s
          const address = s.address()
          resume(Effect.succeed(typeof address === "object" && address !== null ? address.port : port))
        })
      })
    const resetAll = () => {
      const count = sockets.size
      for (const socket of sockets) socket.resetAndDestroy()
      sockets.clear()
      return count
    }
    const close = Effect.async<void>((resume) => {
      const s = server
      server = undefined
      resetAll()
      if (s === undefined) return resume(Effect.void)
      s.close(() => resume(Effect.void))
    })
    const port = yield* Effect.acquireRelease(listen(0), () => close)
    return {
      port,
      isUp: () => server !== undefined,
      down: close,
      up: Effect.suspend(() => {
        swallowing = false
        return server === undefined ? Effect.orDie(listen(port)) : Effect.succeed(port)
      }).pipe(Effect.asVoid),
      resetConnections: Effect.sync(resetAll),
      blackhole: Effect.sync(() => {
        swallowing = true
        for (const [client, upstream] of pairs) {
          hang(client)
          upstream.removeAllListeners("close")
          upstream.unpipe()
          upstream.destroy()
        }
        pairs.clear()
      })
    } satisfies TcpProxy
  })
