import { connect } from "node:net"
import { describe, expect, it } from "@effect/vitest"
import * as HttpServer from "@effect/platform/HttpServer"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import * as NodeServer from "../../src/http/nodeServer.js"
import { refusesConnections, waitUntil } from "../support/poll.js"
import { expectProblem, type Reply, send } from "./harness.js"

const listen = { port: 0, host: "127.0.0.1" }

/** A server answering GET /direct itself, in its own scope, and its base URL. */
const start = (others: "served" | "notFound", onAppWanted?: () => void) =>
  Effect.gen(function* () {
    const scope = yield* Scope.make()
    const server = yield* NodeServer.make({
      listen,
      routes: [
        {
          method: "GET",
          path: "/direct",
          handler: () => Effect.succeed(HttpServerResponse.unsafeJson({ direct: true }))
        }
      ],
      others,
      onAppWanted,
      shutdownTimeoutMs: 1_000
    }).pipe(Scope.extend(scope))
    if (server.address._tag !== "TcpAddress") throw new Error("expected a TCP address")
    return { scope, server, base: `http://127.0.0.1:${server.address.port}` }
  })

/**
 * What a raw TCP client sending `text` (then nothing) hears until the server closes the connection, or after
 * `waitMs` (then it closes itself).
 */
const rawExchange = (port: number, text: string, waitMs = 5_000) =>
  Effect.async<{ readonly heard: string; readonly closedByServer: boolean }>((resume) => {
    const socket = connect(port, "127.0.0.1", () => socket.write(text))
    let heard = ""
    const timer = setTimeout(() => {
      socket.destroy()
      resume(Effect.succeed({ heard, closedByServer: false }))
    }, waitMs)
    socket.on("data", (chunk) => {
      heard += chunk.toString("latin1")
    })
    socket.on("error", () => {})
    socket.on("close", () => {
      clearTimeout(timer)
      resume(Effect.succeed({ heard, closedByServer: true }))
    })
  })

/** A raw HTTP answer's status, headers (lowercased names) and JSON body. */
const parsed = (raw: string) => {
  const [head = "", body = ""] = raw.split("\r\n\r\n")
  const [statusLine = "", ...lines] = head.split("\r\n")
  const headers = Object.fromEntries(
    lines.map((line) => [line.slice(0, line.indexOf(":")).toLowerCase(), line.slice(line.indexOf(":") + 1).trim()])
  )
  return { status: Number(statusLine.split(" ")[1]), headers, json: body === "" ? undefined : JSON.parse(body) }
}

/** The app a server is given later: it echoes the path it was asked for. */
const echo = Effect.map(HttpServerRequest.HttpServerRequest, (request) =>
  HttpServerResponse.unsafeJson({ served: request.url })
)

/**
 * Waits until the server has put the request `fiber` sends aside for the app (it calls `onAppWanted`, which completes
 * `wanted`) or the request was answered, then checks it was not: the request is held, not refused.
 */
const stillWaiting = (wanted: Deferred.Deferred<void>, fiber: Fiber.RuntimeFiber<Reply, Error>) =>
  Effect.gen(function* () {
    yield* Effect.raceFirst(Deferred.await(wanted), Effect.asVoid(Fiber.await(fiber)))
    expect(Option.isNone(yield* Fiber.poll(fiber))).toBe(true)
  })

/** A Deferred and an `onAppWanted` completing it. */
const appWanted = Effect.map(Deferred.make<void>(), (wanted) => ({
  wanted,
  onAppWanted: () => void Deferred.unsafeDone(wanted, Exit.void)
}))

describe("the node:http server under the ingest and the consumer's metrics", () => {
  it.live(
    "its own routes answer before any app is served; a request for the app waits, then gets the app's answer",
    () =>
      Effect.gen(function* () {
        const { wanted, onAppWanted } = yield* appWanted
        const { scope, server, base } = yield* start("served", onAppWanted)
        const direct = yield* send(base, "GET", "/direct?x=1")
        expect([direct.status, direct.json]).toEqual([200, { direct: true }])

        const early = yield* Effect.fork(send(base, "GET", "/leads/early"))
        yield* stillWaiting(wanted, early)
        yield* HttpServer.serveEffect(echo).pipe(
          Effect.provideService(HttpServer.HttpServer, server),
          Scope.extend(scope)
        )
        const answered = yield* Fiber.join(early)
        expect([answered.status, answered.json]).toEqual([200, { served: "/leads/early" }])
        // and later ones go straight to it
        expect((yield* send(base, "GET", "/later")).json).toEqual({ served: "/later" })
        yield* Scope.close(scope, Exit.void)
      })
  )

  it.live("a request still waiting for the app when the server stops gets a 503 problem, not silence", () =>
    Effect.gen(function* () {
      const { wanted, onAppWanted } = yield* appWanted
      const { scope, base } = yield* start("served", onAppWanted)
      const early = yield* Effect.fork(send(base, "GET", "/docs"))
      yield* stillWaiting(wanted, early)
      yield* Scope.close(scope, Exit.void)
      const reply = yield* Fiber.join(early)
      expectProblem(reply, 503)
      expect(reply.headers["retry-after"]).toBe("1")
    })
  )

  it.live(
    "a client too slow to send its request gets a 408 problem and is disconnected; what Node refuses is problem+json",
    () =>
      Effect.gen(function* () {
        const scope = yield* Scope.make()
        const server = yield* NodeServer.make<never>({
          listen,
          routes: [],
          others: "notFound",
          shutdownTimeoutMs: 1_000,
          requestTimeoutMs: 300
        }).pipe(Scope.extend(scope))
        if (server.address._tag !== "TcpAddress") throw new Error("expected a TCP address")
        const port = server.address.port
        // headers begun and never finished: held no longer than the timeout (Node's own default is 60 s)
        const slow = yield* rawExchange(port, "POST /leads HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n")
        expect(slow.closedByServer).toBe(true)
        const timedOut = parsed(slow.heard)
        expect(timedOut.status).toBe(408)
        expect(timedOut.headers["content-type"]).toBe("application/problem+json")
        expect(timedOut.json).toMatchObject({ status: 408, detail: expect.stringContaining("REQUEST_TIMEOUT_MS") })
        // not HTTP at all, and headers larger than Node reads: 400 and 431, each with its problem
        const garbage = parsed((yield* rawExchange(port, "HELLO THERE\r\n\r\n")).heard)
        expect([garbage.status, garbage.json?.status]).toEqual([400, 400])
        const huge = `GET /x HTTP/1.1\r\nHost: x\r\nX-Pad: ${"a".repeat(20_000)}\r\n\r\n`
        const overflow = parsed((yield* rawExchange(port, huge)).heard)
        expect([overflow.status, overflow.json?.title]).toEqual([431, "Request Header Fields Too Large"])
        yield* Scope.close(scope, Exit.void)
      })
  )

  it.live(
    "keeps an idle keep-alive connection KEEP_ALIVE_TIMEOUT_MS (65 s by default: longer than an ALB's 60 s)",
    () =>
      Effect.gen(function* () {
        const served = (keepAliveTimeoutMs: number | undefined) =>
          NodeServer.make({
            listen,
            routes: [
              { method: "GET", path: "/ok", handler: () => Effect.succeed(HttpServerResponse.unsafeJson({ ok: true })) }
            ],
            others: "notFound",
            shutdownTimeoutMs: 1_000,
            keepAliveTimeoutMs
          })
        const request = "GET /ok HTTP/1.1\r\nHost: x\r\n\r\n"
        const scope = yield* Scope.make()
        const short = yield* served(300).pipe(Scope.extend(scope))
        const byDefault = yield* served(undefined).pipe(Scope.extend(scope))
        if (short.address._tag !== "TcpAddress" || byDefault.address._tag !== "TcpAddress") throw new Error("TCP")
        // answered, then closed by the server once idle past its keep-alive
        const closed = yield* rawExchange(short.address.port, request, 5_000)
        expect([parsed(closed.heard).status, closed.closedByServer]).toEqual([200, true])
        // by default still open after seconds of idleness (Node's own default would have closed it after 5)
        const open = yield* rawExchange(byDefault.address.port, request, 6_000)
        expect([parsed(open.heard).status, open.closedByServer]).toEqual([200, false])
        yield* Scope.close(scope, Exit.void)
      })
  )

  it.live("an answer written once the server is stopping closes its connection (no next request to drop)", () =>
    Effect.gen(function* () {
      const entered = yield* Deferred.make<void>()
      const release = yield* Deferred.make<void>()
      const scope = yield* Scope.make()
      const server = yield* NodeServer.make({
        listen,
        routes: [
          {
            method: "GET",
            path: "/slow",
            handler: () =>
              Deferred.succeed(entered, undefined).pipe(
                Effect.zipRight(Deferred.await(release)),
                Effect.as(HttpServerResponse.unsafeJson({ slow: true }))
              )
          }
        ],
        others: "notFound",
        shutdownTimeoutMs: 5_000
      }).pipe(Scope.extend(scope))
      if (server.address._tag !== "TcpAddress") throw new Error("expected a TCP address")
      const port = server.address.port
      // a keep-alive request in flight (its handler running) when the server starts stopping
      const exchange = yield* Effect.fork(
        rawExchange(port, "GET /slow HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n")
      )
      yield* Deferred.await(entered)
      const closing = yield* Effect.fork(Scope.close(scope, Exit.void))
      // the server is stopping once it takes no new connections; only then is the answer written
      yield* waitUntil("the server stopped taking connections", refusesConnections(port))
      yield* Deferred.succeed(release, undefined)
      const answer = parsed((yield* Fiber.join(exchange)).heard)
      expect(answer.status).toBe(200)
      expect(answer.headers.connection).toBe("close")
      yield* Fiber.join(closing)
    })
  )

  it.live(
    "with nothing to serve (the consumer's metrics server) any other path is a 404 problem, another method 405",
    () =>
      Effect.gen(function* () {
        const { scope, base } = yield* start("notFound")
        expectProblem(yield* send(base, "GET", "/elsewhere"), 404)
        const wrong = yield* send(base, "POST", "/direct")
        expectProblem(wrong, 405)
        expect(wrong.headers.allow).toBe("GET")
        expect((yield* send(base, "GET", "/direct")).status).toBe(200)
        yield* Scope.close(scope, Exit.void)
      })
  )
})
