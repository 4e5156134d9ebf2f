import { describe, expect, it } from "@effect/vitest"
import * as HttpServer from "@effect/platform/HttpServer"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import * as NodeServer from "../../src/http/nodeServer.js"
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

/** The app a server is given later: it echoes the path it was asked for. */
const echo = Effect.map(HttpServerRequest.HttpServerRequest, (request) =>
  HttpServerResponse.unsafeJson({ served: request.url })
)

/** Waits until `fiber` has been running for a while without an answer (the request is held, not refused). */
const stillWaiting = (fiber: Fiber.RuntimeFiber<Reply, Error>) =>
  Effect.gen(function* () {
    yield* Effect.sleep("150 millis")
    expect(Option.isNone(yield* Fiber.poll(fiber))).toBe(true)
  })

describe("the node:http server under the ingest and the consumer's metrics", () => {
  it.live(
    "its own routes answer before any app is served; a request for the app waits, then gets the app's answer",
    () =>
      Effect.gen(function* () {
        const { scope, server, base } = yield* start("served")
        const direct = yield* send(base, "GET", "/direct?x=1")
        expect([direct.status, direct.json]).toEqual([200, { direct: true }])

        const early = yield* Effect.fork(send(base, "GET", "/leads/early"))
        yield* stillWaiting(early)
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
      const { scope, base } = yield* start("served")
      const early = yield* Effect.fork(send(base, "GET", "/docs"))
      yield* stillWaiting(early)
      yield* Scope.close(scope, Exit.void)
      const reply = yield* Fiber.join(early)
      expectProblem(reply, 503)
      expect(reply.headers["retry-after"]).toBe("1")
    })
  )

  it.live("with nothing to serve (the consumer's metrics server) any other path or method is a 404 problem", () =>
    Effect.gen(function* () {
      const { scope, base } = yield* start("notFound")
      expectProblem(yield* send(base, "GET", "/elsewhere"), 404)
      expectProblem(yield* send(base, "POST", "/direct"), 404)
      expect((yield* send(base, "GET", "/direct")).status).toBe(200)
      yield* Scope.close(scope, Exit.void)
    })
  )
})
