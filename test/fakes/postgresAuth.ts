import { createServer, type Socket } from "node:net"
import * as Effect from "effect/Effect"

/**
 * A Postgres server that only authenticates: it asks each new connection for its password in clear text (as a
 * server with `password` auth does), records it, and refuses it with SQLSTATE 28P01 as a wrong password would be.
 * Enough to see which password a client sends on each connection, which a trust-auth test database never asks for.
 */
export const makeFakePostgresAuth = Effect.acquireRelease(
  Effect.async<{
    readonly url: (password: string) => string
    readonly passwords: Array<string>
    readonly close: () => void
  }>((resume) => {
    const passwords: Array<string> = []
    const sockets = new Set<Socket>()
    const server = createServer((socket) => {
      sockets.add(socket)
      socket.on("close", () => sockets.delete(socket))
      socket.on("error", () => {})
      let buffer = Buffer.alloc(0)
      let started = false
      socket.on("data", (chunk) => {
        buffer = Buffer.concat([buffer, chunk])
        if (!started) {
          if (buffer.length < 4 || buffer.length < buffer.readInt32BE(0)) return
          buffer = buffer.subarray(buffer.readInt32BE(0))
          started = true
          // AuthenticationCleartextPassword
          socket.write(Buffer.from([0x52, 0, 0, 0, 8, 0, 0, 0, 3]))
        }
        if (buffer.length < 5 || buffer[0] !== 0x70 || buffer.length < 1 + buffer.readInt32BE(1)) return
        const length = buffer.readInt32BE(1)
        passwords.push(buffer.subarray(5, 1 + length - 1).toString("utf8"))
        const fields = Buffer.from("SFATAL\0C28P01\0Mpassword authentication failed\0\0", "utf8")
        const header = Buffer.alloc(5)
        header[0] = 0x45
        header.writeInt32BE(4 + fields.length, 1)
        socket.end(Buffer.concat([header, fields]))
      })
    })
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as { port: number }).port
      resume(
        Effect.succeed({
          url: (password: string) =>
            `postgres://revenueflow:${encodeURIComponent(password)}@127.0.0.1:${port}/revenueflow`,
          passwords,
          close: () => {
            for (const socket of sockets) socket.destroy()
            server.close()
          }
        })
      )
    })
  }),
  (fake) => Effect.sync(() => fake.close())
)
