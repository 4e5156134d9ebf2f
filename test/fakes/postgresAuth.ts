import { createServer, type Socket } from "node:net"
import * as Effect from "effect/Effect"

const message = (type: string, body: Buffer) => {
  const header = Buffer.alloc(5)
  header.write(type, 0, "latin1")
  header.writeInt32BE(4 + body.length, 1)
  return Buffer.concat([header, body])
}
const cstring = (text: string) => Buffer.from(`${text}\0`, "utf8")
const int16 = (n: number) => {
  const b = Buffer.alloc(2)
  b.writeInt16BE(n)
  return b
}
const int32 = (n: number) => {
  const b = Buffer.alloc(4)
  b.writeInt32BE(n)
  return b
}

const rowDescription = message(
  "T",
  Buffer.concat([int16(1), cstring("?column?"), int32(0), int16(0), int32(23), int16(4), int32(-1), int16(0)])
)

/**
 * The answer to one extended-protocol message, as a server would give it for `SELECT 1` (whatever the text): Parse,
 * Bind, Describe (statement or portal), Execute and Sync each get their own reply; a simple Query gets the whole answer.
 */
const answer = (type: string, body: Buffer): Buffer | undefined => {
  switch (type) {
    case "P":
      return message("1", Buffer.alloc(0))
    case "B":
      return message("2", Buffer.alloc(0))
    case "D":
      return body[0] === 0x53 ? Buffer.concat([message("t", int16(0)), rowDescription]) : rowDescription
    case "E":
      return Buffer.concat([
        message("D", Buffer.concat([int16(1), int32(1), Buffer.from("1")])),
        message("C", cstring("SELECT 1"))
      ])
    case "S":
      return message("Z", Buffer.from("I"))
    case "Q":
      return Buffer.concat([rowDescription, answer("E", body)!, message("Z", Buffer.from("I"))])
    default:
      return undefined
  }
}

/**
 * A Postgres server that authenticates: it asks each new connection for its password in clear text (as a server
 * with `password` auth does) and records it. A password in `accepted` logs in (every query then answers one row, `?column?` = 1),
 * any other is refused with SQLSTATE 28P01 as a wrong password would be. Enough to see which password a client sends
 * on each connection, which a trust-auth test database never asks for.
 */
export const makeFakePostgresAuth = Effect.acquireRelease(
  Effect.async<{
    readonly url: (password: string) => string
    readonly passwords: Array<string>
    /** Passwords that log in. */
    readonly accepted: Set<string>
    /** Closes every open connection (as a restart, a failover or the pool's max lifetime would). */
    readonly dropConnections: () => void
    readonly close: () => void
  }>((resume) => {
    const passwords: Array<string> = []
    const accepted = new Set<string>()
    const sockets = new Set<Socket>()
    const server = createServer((socket) => {
      sockets.add(socket)
      socket.on("close", () => sockets.delete(socket))
      socket.on("error", () => {})
      let buffer = Buffer.alloc(0)
      let started = false
      let loggedIn = false
      socket.on("data", (chunk) => {
        buffer = Buffer.concat([buffer, chunk])
        if (!started) {
          if (buffer.length < 4 || buffer.length < buffer.readInt32BE(0)) return
          buffer = buffer.subarray(buffer.readInt32BE(0))
          started = true
          // AuthenticationCleartextPassword
          socket.write(Buffer.from([0x52, 0, 0, 0, 8, 0, 0, 0, 3]))
        }
        while (buffer.length >= 5 && buffer.length >= 1 + buffer.readInt32BE(1)) {
          const type = String.fromCharCode(buffer[0]!)
          const length = buffer.readInt32BE(1)
          const body = buffer.subarray(5, 1 + length)
          buffer = buffer.subarray(1 + length)
          if (!loggedIn && type === "p") {
            const password = body.subarray(0, body.length - 1).toString("utf8")
            passwords.push(password)
            if (!accepted.has(password)) {
              socket.end(message("E", cstring("SFATAL\0C28P01\0Mpassword authentication failed\0")))
              return
            }
            loggedIn = true
            // AuthenticationOk, then ReadyForQuery
            socket.write(Buffer.concat([message("R", int32(0)), message("Z", Buffer.from("I"))]))
          } else if (loggedIn && type === "X") socket.end()
          else if (loggedIn) {
            const reply = answer(type, body)
            if (reply !== undefined) socket.write(reply)
          }
        }
      })
    })
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as { port: number }).port
      resume(
        Effect.succeed({
          url: (password: string) =>
            `postgres://revenueflow:${encodeURIComponent(password)}@127.0.0.1:${port}/revenueflow`,
          passwords,
          accepted,
          dropConnections: () => {
            for (const socket of sockets) socket.destroy()
          },
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
