import { connect, type Socket } from "node:net"
import { describe, expect, it } from "@effect/vitest"
import * as HttpServer from "@effect/platform/HttpServer"
import * as Effect from "effect/Effect"
import { memoryEnv } from "../support/env.js"
import { withApi } from "./harness.js"

/** TCP sockets open in this process (clients and the server's own connections; the listener is another kind). */
const openSockets = () => process.getActiveResourcesInfo().filter((kind) => kind === "TCPSocketWrap").length

/** The port the server under test listens on. */
const port = Effect.map(HttpServer.HttpServer, (server) => {
  if (server.address._tag !== "TcpAddress") throw new Error("expected a TCP address")
  return server.address.port
})

/**
 * A raw client that never half-closes on its own (allowHalfOpen: a FIN from the server leaves its side open), as the
 * probe's clients did: what it heard, whether the server ended its side, and the socket.
 */
interface RawClient {
  readonly socket: Socket
  readonly heard: () => string
  readonly ended: () => boolean
}

const rawClient = (port: number, text: string) =>
  Effect.async<RawClient>((resume) => {
    let heard = ""
    let ended = false
    const socket = connect({ port, host: "127.0.0.1", allowHalfOpen: true }, () => {
      socket.write(text)
      resume(Effect.succeed({ socket, heard: () => heard, ended: () => ended }))
    })
    socket.on("data", (chunk) => {
      heard += chunk.toString("latin1")
    })
    socket.on("end", () => {
      ended = true
    })
    socket.on("error", () => {})
  })

/** Polls `condition` every 50 ms for up to `ms`; whether it came true. */
const within = (ms: number, condition: () => boolean) =>
  Effect.gen(function* () {
    const until = Date.now() + ms
    while (Date.now() < until) {
      if (condition()) return true
      yield* Effect.sleep("50 millis")
    }
    return condition()
  })

/** The status codes of every response in a raw exchange, in order. */
const statuses = (heard: string) => [...heard.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((match) => Number(match[1]))

/** One response's head (lower-case header names) and body, from a raw exchange holding one response. */
const parsed = (heard: string) => {
  const [head = "", body = ""] = heard.split("\r\n\r\n")
  const headers = Object.fromEntries(
    head
      .split("\r\n")
      .slice(1)
      .map((line) => [line.slice(0, line.indexOf(":")).toLowerCase(), line.slice(line.indexOf(":") + 1).trim()])
  )
  return { status: statuses(heard)[0], headers, body }
}

describe("a refused client cannot hold a socket", () => {
  it.live("after a 400 from the server itself (not HTTP), the socket is closed, not only half-closed", () =>
    withApi(memoryEnv(), () =>
      Effect.gen(function* () {
        const before = openSockets()
        const client = yield* rawClient(yield* port, "NOT HTTP AT ALL\r\n\r\n")
        expect(yield* within(2000, () => client.ended())).toBe(true)
        expect(parsed(client.heard()).status).toBe(400)
        // the client never sends its FIN: the server's side must still go (only the client's socket left)
        expect(yield* within(3000, () => openSockets() <= before + 1)).toBe(true)
        client.socket.destroy()
      })
    )
  )

  it.live("a chunked upload that stops is 408, and its socket closed though the client never half-closes", () =>
    withApi(memoryEnv({ env: { REQUEST_TIMEOUT_MS: "400" } }), () =>
      Effect.gen(function* () {
        const before = openSockets()
        const client = yield* rawClient(
          yield* port,
          "POST /leads HTTP/1.1\r\nHost: 127.0.0.1\r\ncontent-type: application/json\r\n" +
            'transfer-encoding: chunked\r\n\r\n5\r\n{"a":\r\n'
        )
        expect(yield* within(4000, () => client.ended())).toBe(true)
        expect(statuses(client.heard())).toEqual([408])
        // a client that goes on trickling its upload after the 408 does not keep the server's socket either
        const trickle = setInterval(() => client.socket.write("1\r\nx\r\n"), 100)
        const gone = yield* within(3000, () => openSockets() <= before + 1)
        clearInterval(trickle)
        expect(gone).toBe(true)
        client.socket.destroy()
      })
    )
  )
})

describe("routes the HttpApi serves take no body: a request declaring one is answered and its connection closed", () => {
  const keyed = () => memoryEnv({ env: { INGEST_API_KEYS: "k-sockets", REQUEST_TIMEOUT_MS: "600" } })

  it.live("GET /ops/state without a key and a 1 GB Content-Length: 401 with connection: close, nothing read", () =>
    withApi(keyed(), () =>
      Effect.gen(function* () {
        const before = openSockets()
        const client = yield* rawClient(
          yield* port,
          `GET /ops/state HTTP/1.1\r\nHost: 127.0.0.1\r\ncontent-length: 1000000000\r\n\r\n${"x".repeat(1000)}`
        )
        expect(yield* within(2000, () => client.ended())).toBe(true)
        const answer = parsed(client.heard())
        expect(answer.status).toBe(401)
        expect(answer.headers.connection).toBe("close")
        // the server does not go on reading the declared gigabyte: its socket is gone
        for (let i = 0; i < 5; i++) client.socket.write("x".repeat(1000))
        expect(yield* within(3000, () => openSockets() <= before + 1)).toBe(true)
        client.socket.destroy()
      })
    )
  )

  it.live("POST /leads/<uuid>/replay without a key, chunked: 401, connection closed", () =>
    withApi(keyed(), () =>
      Effect.gen(function* () {
        const client = yield* rawClient(
          yield* port,
          `POST /leads/${crypto.randomUUID()}/replay HTTP/1.1\r\nHost: 127.0.0.1\r\n` +
            "transfer-encoding: chunked\r\n\r\n3\r\nabc\r\n"
        )
        expect(yield* within(2000, () => client.ended())).toBe(true)
        const answer = parsed(client.heard())
        expect(answer.status).toBe(401)
        expect(answer.headers.connection).toBe("close")
        client.socket.destroy()
      })
    )
  )

  it.live("an unknown path with a body still arriving gets one answer (404), never a 408 after it", () =>
    withApi(keyed(), () =>
      Effect.gen(function* () {
        const client = yield* rawClient(
          yield* port,
          "POST /nope HTTP/1.1\r\nHost: 127.0.0.1\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n"
        )
        expect(yield* within(2000, () => statuses(client.heard()).length > 0)).toBe(true)
        // past REQUEST_TIMEOUT_MS (600 ms) and Node's check interval
        yield* Effect.sleep("1800 millis")
        expect(statuses(client.heard())).toEqual([404])
        expect(parsed(client.heard()).headers.connection).toBe("close")
        client.socket.destroy()
      })
    )
  )
})

describe("the intake routes on the other paths the router takes for them (/leads/, //leads, /Leads)", () => {
  const keyed = () => memoryEnv({ env: { INGEST_API_KEYS: "k-sockets", REQUEST_TIMEOUT_MS: "600" } })

  it.live.each(["/leads/", "//leads", "/Leads"])(
    "Expect: 100-continue on %s (the intake route, as the router takes it) without a key: no 100 before its 401",
    (path) =>
      withApi(keyed(), () =>
        Effect.gen(function* () {
          const client = yield* rawClient(
            yield* port,
            `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\ncontent-type: application/json\r\n` +
              "expect: 100-continue\r\ncontent-length: 100000\r\n\r\n"
          )
          expect(yield* within(2000, () => client.ended())).toBe(true)
          expect(statuses(client.heard())).toEqual([401])
          client.socket.destroy()
        })
      )
  )
})

describe("the ops routes the server answers itself take no body either", () => {
  it.live(
    "GET /healthz with a body still arriving: one answer (200), the connection closed, never a 408 after it",
    () =>
      withApi(memoryEnv({ env: { REQUEST_TIMEOUT_MS: "600" } }), () =>
        Effect.gen(function* () {
          const before = openSockets()
          const client = yield* rawClient(
            yield* port,
            "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\ncontent-length: 1000000000\r\n\r\nxxxx"
          )
          expect(yield* within(2000, () => statuses(client.heard()).length > 0)).toBe(true)
          const trickle = setInterval(() => client.socket.write("x".repeat(100)), 100)
          yield* Effect.sleep("1800 millis")
          clearInterval(trickle)
          expect(statuses(client.heard())).toEqual([200])
          expect(parsed(client.heard()).headers.connection).toBe("close")
          expect(yield* within(2000, () => openSockets() <= before + 1)).toBe(true)
          client.socket.destroy()
        })
      )
  )
})

describe("requests Node itself would answer without a body, or not at all", () => {
  it.live("CONNECT is 405 problem+json, and the connection closed", () =>
    withApi(memoryEnv(), () =>
      Effect.gen(function* () {
        const client = yield* rawClient(
          yield* port,
          "CONNECT evil.example:443 HTTP/1.1\r\nHost: evil.example:443\r\n\r\n"
        )
        expect(yield* within(2000, () => client.ended())).toBe(true)
        const answer = parsed(client.heard())
        expect(answer.status).toBe(405)
        expect(answer.headers["content-type"]).toBe("application/problem+json")
        expect(JSON.parse(answer.body)).toMatchObject({ status: 405, detail: expect.stringContaining("CONNECT") })
        client.socket.destroy()
      })
    )
  )

  it.live("HTTP/1.1 without Host is 400 problem+json naming the header", () =>
    withApi(memoryEnv(), () =>
      Effect.gen(function* () {
        const client = yield* rawClient(yield* port, "GET /healthz HTTP/1.1\r\n\r\n")
        expect(yield* within(2000, () => client.ended())).toBe(true)
        const answer = parsed(client.heard())
        expect(answer.status).toBe(400)
        expect(answer.headers["content-type"]).toMatch(/^application\/problem\+json/)
        expect(JSON.parse(answer.body)).toMatchObject({ status: 400, detail: expect.stringContaining("Host") })
        client.socket.destroy()
      })
    )
  )

  it.live("HTTP/1.0 without Host is still answered", () =>
    withApi(memoryEnv(), () =>
      Effect.gen(function* () {
        const client = yield* rawClient(yield* port, "GET /healthz HTTP/1.0\r\n\r\n")
        expect(yield* within(2000, () => client.ended())).toBe(true)
        expect(parsed(client.heard()).status).toBe(200)
        client.socket.destroy()
      })
    )
  )
})
