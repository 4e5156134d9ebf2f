import { connect, type Socket } from "node:net"
import * as HttpServer from "@effect/platform/HttpServer"
import { describe, expect, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import { memoryEnv, sampleLead } from "../support/env.js"
import { waitUntil } from "../support/poll.js"
import { ingestServed } from "./harness.js"

/** A keep-alive connection to `port` that collects what the server sends and notes when it closes. */
const openSocket = (port: number) =>
  Effect.async<{ readonly socket: Socket; readonly received: () => string; readonly closed: () => boolean }>(
    (resume) => {
      let text = ""
      let closed = false
      const socket = connect(port, "127.0.0.1", () =>
        resume(Effect.succeed({ socket, received: () => text, closed: () => closed }))
      )
      socket.on("data", (chunk) => {
        text += chunk.toString("utf8")
      })
      socket.on("close", () => {
        closed = true
      })
      socket.on("error", () => {})
    }
  )

const post = (body: string, declaredLength = Buffer.byteLength(body)) =>
  `POST /leads HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\ncontent-length: ${declaredLength}\r\n\r\n${body}`

describe("ingest server shutdown", () => {
  it.live("a client that never finishes its request cannot hold the stop open past SHUTDOWN_TIMEOUT_MS", () =>
    Effect.gen(function* () {
      const scope = yield* Scope.make()
      const env = memoryEnv({ env: { SHUTDOWN_TIMEOUT_MS: "300" } })
      const context = yield* Layer.buildWithScope(ingestServed.pipe(Layer.provideMerge(env)), scope)
      const { address } = Context.get(context, HttpServer.HttpServer)
      if (address._tag !== "TcpAddress") throw new Error("expected a TCP address")
      const port = address.port

      // one keep-alive client answered normally, then a second request whose body never arrives
      const client = yield* openSocket(port)
      client.socket.write(post(JSON.stringify(sampleLead())))
      yield* waitUntil("the first request answered", () => client.received().includes("\r\n\r\n"))
      expect(client.received()).toMatch(/^HTTP\/1\.1 202/)
      const stuck = yield* openSocket(port)
      stuck.socket.write(post("{", 100))

      const started = Date.now()
      const closing = yield* Effect.fork(Scope.close(scope, Exit.void))
      const stopped = yield* closing.await.pipe(Effect.timeout("5 seconds"), Effect.option)
      expect(stopped._tag, "the stop waited on the stuck request past SHUTDOWN_TIMEOUT_MS").toBe("Some")
      expect(Date.now() - started).toBeGreaterThanOrEqual(250)
      // the clients see their sockets close a moment later
      yield* waitUntil("both clients' sockets closed", () => stuck.closed() && client.closed(), { timeoutMs: 5_000 })
    })
  )
})
