import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import type * as HttpApp from "@effect/platform/HttpApp"
import * as HttpServer from "@effect/platform/HttpServer"
import * as HttpServerError from "@effect/platform/HttpServerError"
import type * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as Effect from "effect/Effect"
import * as FiberId from "effect/FiberId"
import * as FiberSet from "effect/FiberSet"
import type * as Scope from "effect/Scope"
import type { Duplex } from "node:stream"
import { fromNode, type IntakeRequest } from "./body.js"
import { writeResponse } from "./nodeResponse.js"
import { pathOf, routerPath } from "./paths.js"
import { problem } from "./problem.js"
import { methodsFor, wrongMethod } from "./serving.js"

export { writeResponse } from "./nodeResponse.js"

/** Where the server listens (port 0: any free port). */
export interface ListenOptions {
  readonly port: number
  readonly host: string
}

/** A request handler on node:http itself (the MCP endpoint's). */
export type NodeHandler = (req: IncomingMessage, res: ServerResponse) => void

/** A route the server answers itself: one fiber running `handler`, which answers every outcome (see serving.ts). */
export interface DirectRoute<R> {
  readonly method: string
  readonly path: string
  readonly handler: (request: IntakeRequest) => Effect.Effect<HttpServerResponse.HttpServerResponse, never, R>
}

export interface NodeServerOptions<R> {
  readonly listen: ListenOptions
  /**
   * Matched by method and path (the query string aside), before anything else: the exact path, or any the HttpApi's
   * router would match to it (`/leads/`, `//leads`, `/Leads`: see `routerPath`), so that the app never answers a
   * route of these with its own copy of it.
   */
  readonly routes: ReadonlyArray<DirectRoute<R>>
  /** Node handlers by exact path, any method (/mcp). */
  readonly nodeRoutes?: ReadonlyMap<string, NodeHandler> | undefined
  /**
   * What answers a request no route takes. "served": the app given to the HttpServer's `serve` (the HttpApi), which
   * may be installed after the server listens — a request that arrives first waits for it (503 if the server stops
   * before). "notFound": nothing is served; 404.
   */
  readonly others: "served" | "notFound"
  /** Called once, when the first request waits for an app not yet served (so it can be built on demand). */
  readonly onAppWanted?: (() => void) | undefined
  /** On close, how long in-flight requests get before the sockets still open are closed. */
  readonly shutdownTimeoutMs: number
  /**
   * How long a client gets to send a whole request, headers and body (then 408 and the connection closed); its
   * headers alone get at most 10 s of it. Node's defaults (300 s and 60 s) let slow clients hold memory and sockets.
   */
  readonly requestTimeoutMs?: number | undefined
  /**
   * How long an idle keep-alive connection is kept (Node's default: 5 s). Longer than the idle timeout of the load
   * balancer in front (an AWS ALB's: 60 s), so that the balancer closes first: else it may send a request on a
   * connection the server is closing, and answer that client 502.
   */
  readonly keepAliveTimeoutMs?: number | undefined
  /**
   * Told of a request the server itself refused (an `Expect` other than 100-continue, 417, before any route ran; a
   * body that stopped arriving, 408 after REQUEST_TIMEOUT_MS), so that the refusal can be counted for its route.
   */
  readonly onRefusedUnrouted?: ((method: string, path: string, status: 408 | 417) => void) | undefined
  /** What the served app runs with (e.g. a service provided to it); unset, the app as given. */
  readonly appContext?: (<E, R>(app: HttpApp.Default<E, R>) => HttpApp.Default<E, R>) | undefined
}

/** KEEP_ALIVE_TIMEOUT_MS's default: an AWS ALB's idle timeout (60 s), and some. */
export const defaultKeepAliveTimeoutMs = 65_000

/** REQUEST_TIMEOUT_MS's default. */
export const defaultRequestTimeoutMs = 30_000
const headersTimeoutMs = 10_000

/** A problem+json answer written on the raw socket, which closes after it (uncached, unsniffed: see serving.ts). */
const rawAnswer = (status: number, title: string, detail: string, headers = "") => {
  const body = JSON.stringify({ type: `https://revenueflow.dev/problems/${status}`, title, status, detail })
  return (
    `HTTP/1.1 ${status} ${title}\r\ncontent-type: application/problem+json\r\n${headers}` +
    "cache-control: no-store\r\nx-content-type-options: nosniff\r\n" +
    `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`
  )
}

/**
 * A refusal Node makes before any handler runs (a request that is not HTTP, headers too large, a request not
 * received in time), as problem+json on the raw socket, which then closes. Node's own answers have no body.
 */
const clientErrorAnswer = (code: string | undefined) =>
  code === "ERR_HTTP_REQUEST_TIMEOUT" || code === "ERR_HTTP_HEADERS_TIMEOUT"
    ? rawAnswer(408, "Request Timeout", "The request was not received in time (REQUEST_TIMEOUT_MS)")
    : code === "HPE_HEADER_OVERFLOW"
      ? rawAnswer(431, "Request Header Fields Too Large", "The request's headers are too large")
      : rawAnswer(400, "Bad Request", "The request is not valid HTTP/1.1")

/** CONNECT (a proxy's method): this server is no proxy. */
const connectAnswer = rawAnswer(
  405,
  "Method Not Allowed",
  "CONNECT is not supported: this server is not a proxy",
  // no method applies to an authority-form target here (RFC 9110 §10.2.1: an empty Allow)
  "allow: \r\n"
)

/**
 * How long an answer written on a closing socket has to reach the client before the socket is destroyed anyway: a
 * client that reads nothing (its window full) or never closes its side cannot hold the socket.
 */
const closeGraceMs = 2000

/**
 * Writes `answer` and closes the socket for good: ended, then destroyed once the answer is flushed — `end` alone only
 * half-closes, and a client that never sends its FIN (allowHalfOpen) would hold the socket for ever — or after
 * `closeGraceMs` whatever happened.
 */
const closeWith = (socket: Duplex, answer: string) => {
  const timer = setTimeout(() => socket.destroy(), closeGraceMs)
  timer.unref()
  socket.once("close", () => clearTimeout(timer))
  socket.end(answer, () => socket.destroy())
}

/** HTTP/1.1 without Host (RFC 9112 §3.2): refused as Node would (`requireHostHeader`), but with a problem+json body. */
const missingHost = problem(400, "An HTTP/1.1 request must carry a Host header", { headers: { connection: "close" } })

/** Whether a request declares a body: a Content-Length above 0, or a Transfer-Encoding. */
const declaresBody = (req: IncomingMessage): boolean => {
  const length = req.headers["content-length"]
  return req.headers["transfer-encoding"] !== undefined || (length !== undefined && length !== "0")
}

// the server's own answers carry what the routes' answers do (no-store, nosniff: every problem has them)
const stopping = problem(503, "The server is stopping", { headers: { "retry-after": "1" } })
const notFound = problem(404, "No such route")

/**
 * An HttpServer on node:http that answers its `routes` itself — one fiber per request running the route's handler,
 * no router, no request or response wrappers — and passes every other request to the app `serve` is given, if any.
 *
 * Why: the platform's per-request machinery (router, middleware, request/response wrappers, its own span) costs more
 * CPU per request, even for a handler that does nothing, than the whole raw baseline's work; and building the
 * HttpApi's router is half of the Effect work of an ingest's start (docs/performance-log.md). With `others: "served"`
 * the server answers its own routes (the intake and the health checks) as soon as it listens, and the app can be
 * built and served afterwards.
 *
 * Closing: stops accepting, gives in-flight requests `shutdownTimeoutMs`, then closes the sockets still open; while
 * it stops, every answer closes its connection, so busy keep-alive clients cannot hold the drain open. Request
 * fibers still running when it has closed are interrupted with the scope.
 */
export const make = <R>(
  options: NodeServerOptions<R>
): Effect.Effect<HttpServer.HttpServer, HttpServerError.ServeError, R | Scope.Scope> =>
  Effect.gen(function* () {
    // by method, then by exact path and by the path as the HttpApi's router reads it
    const routes = new Map<string, Map<string, DirectRoute<R>>>()
    const aliases = new Map<string, Map<string, DirectRoute<R>>>()
    for (const route of options.routes) {
      const byPath = routes.get(route.method) ?? new Map<string, DirectRoute<R>>()
      byPath.set(route.path, route)
      routes.set(route.method, byPath)
      const byAlias = aliases.get(route.method) ?? new Map<string, DirectRoute<R>>()
      byAlias.set(routerPath(route.path) ?? route.path, route)
      aliases.set(route.method, byAlias)
    }
    /**
     * The route a request is for: its exact path (the hot path: one lookup), else the path the HttpApi's router would
     * match it to — `/leads/` is POST /leads there too, so it is answered here, as /leads is: one behaviour a route.
     */
    const routeOf = (method: string | undefined, url: string | undefined): DirectRoute<R> | undefined => {
      const exact = routes.get(method ?? "")?.get(pathOf(url))
      if (exact !== undefined) return exact
      const byAlias = aliases.get(method ?? "")
      const path = byAlias === undefined ? undefined : routerPath(url)
      return path === undefined ? undefined : byAlias?.get(path)
    }
    /** The path a refusal is counted under: its route's, or the request's own. */
    const routedPathOf = (req: IncomingMessage) => routeOf(req.method, req.url)?.path ?? pathOf(req.url)
    const nodeRoutes = options.nodeRoutes ?? new Map<string, NodeHandler>()
    /** With nothing else served: a path one of the routes has, asked with another method, is 405 naming its methods. */
    const methodsOf = methodsFor(options.routes)
    const requests = yield* FiberSet.make<HttpServerResponse.HttpServerResponse>()
    const runRequest = yield* FiberSet.runtime(requests)<R>()
    let app: NodeHandler | undefined
    // requests for the app that came before it was served, answered once it is (or when the server stops)
    let waiting: Array<readonly [IncomingMessage, ServerResponse]> = []
    let closing = false
    let wanted = false

    const direct = (
      handler: DirectRoute<R>["handler"],
      req: IncomingMessage,
      res: ServerResponse,
      beforeRead: (() => void) | undefined
    ) => {
      const fiber = runRequest(handler(fromNode(req, beforeRead)))
      fiber.addObserver((exit) => {
        // an answer written once the server is stopping closes its connection: no next request on it to drop
        if (closing) res.shouldKeepAlive = false
        if (exit._tag === "Success") writeResponse(res, exit.value)
      })
      // the client hung up before the answer: stop reading its body (an accept already started still finishes)
      res.once("close", () => {
        if (!res.writableEnded) fiber.unsafeInterruptAsFork(FiberId.none)
      })
    }

    /**
     * Routes one request. `beforeRead`: for a client waiting for 100 Continue, what sends it; called when the body is
     * first read (a direct route), or once /mcp's gate has let the request through (a Node route: its gate answers at
     * once or not at all); never for the app, whose routes take no body.
     */
    const dispatch = (req: IncomingMessage, res: ServerResponse, beforeRead: (() => void) | undefined) => {
      if (closing) res.shouldKeepAlive = false
      // Node's own check (requireHostHeader) is off: it answers 400 with an empty body
      if (req.headers.host === undefined && req.httpVersion === "1.1") {
        res.shouldKeepAlive = false
        return writeResponse(res, missingHost)
      }
      const route = routeOf(req.method, req.url)
      if (route !== undefined) return direct(route.handler, req, res, beforeRead)
      const node = nodeRoutes.size === 0 ? undefined : nodeRoutes.get(pathOf(req.url))
      if (node !== undefined) {
        node(req, res)
        if (!res.headersSent) beforeRead?.()
        return
      }
      // The app's routes take no body (the intake routes, which do, are answered above, on every path its router
      // would take for them), and the app may answer — an API key refused, a path unknown — without reading one: so
      // a request that declares one gets no 100 Continue (the answer closes its connection instead, see
      // "checkContinue"), and its answer closes the connection, which Node would otherwise keep by reading the whole
      // declared body, up to REQUEST_TIMEOUT_MS, for nothing.
      if (declaresBody(req)) res.shouldKeepAlive = false
      if (app !== undefined) return app(req, res)
      if (closing) return writeResponse(res, stopping)
      if (options.others === "notFound") {
        const path = pathOf(req.url)
        const wrong = wrongMethod(req.method ?? "", path, methodsOf(path))
        return writeResponse(res, wrong ?? notFound)
      }
      waiting.push([req, res])
      if (!wanted) {
        wanted = true
        options.onAppWanted?.()
      }
    }

    const server = yield* Effect.acquireRelease(
      Effect.sync(() => {
        const requestTimeout = options.requestTimeoutMs ?? defaultRequestTimeoutMs
        const server = createServer(
          {
            requestTimeout,
            headersTimeout: Math.min(headersTimeoutMs, requestTimeout),
            // how often Node looks for requests past those deadlines (its default, 30 s, would double them)
            connectionsCheckingInterval: Math.min(1000, requestTimeout),
            keepAliveTimeout: options.keepAliveTimeoutMs ?? defaultKeepAliveTimeoutMs,
            // answered in `dispatch`, as problem+json (Node's 400 has no body)
            requireHostHeader: false
          },
          (req, res) => {
            dispatch(req, res, undefined)
          }
        )
        // Expect: 100-continue. Node would send 100 Continue before any handler runs, inviting a client without an
        // API key, or with a body too large or not JSON, to send all of it before its 401 / 413 / 415. Instead the
        // 100 goes when the body is first read (see `dispatch`); an answer given without it closes the connection,
        // since the client may send the body or not (RFC 9110 §10.1.1), and it must not be read as a next request.
        server.on("checkContinue", (req: IncomingMessage, res: ServerResponse) => {
          const keepAlive = res.shouldKeepAlive
          res.shouldKeepAlive = false
          let continued = false
          dispatch(req, res, () => {
            if (continued || res.headersSent) return
            continued = true
            res.shouldKeepAlive = keepAlive && !closing
            res.writeContinue()
          })
        })
        // any other expectation: 417, as Node answers it, but as problem+json
        server.on("checkExpectation", (req: IncomingMessage, res: ServerResponse) => {
          res.shouldKeepAlive = false
          options.onRefusedUnrouted?.(req.method ?? "", routedPathOf(req), 417)
          const expectation = String(req.headers.expect ?? "").slice(0, 64)
          writeResponse(
            res,
            problem(417, `Expect: ${JSON.stringify(expectation)} is not supported; only 100-continue is`)
          )
        })
        server.on("clientError", (error: NodeJS.ErrnoException, socket: Duplex) => {
          // a reset has nobody to answer; nor has a response already begun on this socket (Node's own rule: its
          // in-flight response, `_httpMessage`, has sent its head), whose bytes an answer would corrupt; nor a
          // request already answered whose body was still arriving (its response finished and left the socket, the
          // parser still on it): a second answer to one request would be read as the answer to the next
          const inFlight = (socket as { readonly _httpMessage?: { readonly headersSent?: boolean } | null })
            ._httpMessage
          const parsing = (socket as { readonly parser?: { readonly incoming?: IncomingMessage | null } | null }).parser
            ?.incoming
          const answered = inFlight == null && parsing != null && !parsing.complete
          if (error.code === "ECONNRESET" || !socket.writable || inFlight?.headersSent === true || answered) {
            return socket.destroy()
          }
          // a request whose body was still arriving when the time ran out: counted for its route (its handler is
          // interrupted as the connection closes, so this is the one count)
          const request = (inFlight as { readonly req?: IncomingMessage } | undefined)?.req
          if (request !== undefined && error.code === "ERR_HTTP_REQUEST_TIMEOUT") {
            options.onRefusedUnrouted?.(request.method ?? "", routedPathOf(request), 408)
          }
          closeWith(socket, clientErrorAnswer(error.code))
        })
        // CONNECT: Node has no answer for it (the socket reset); a problem+json 405
        server.on("connect", (_req: IncomingMessage, socket: Duplex) => {
          socket.on("error", () => socket.destroy())
          if (socket.writable) closeWith(socket, connectAnswer)
          else socket.destroy()
        })
        return server
      }),
      (server) =>
        Effect.async<void>((resume) => {
          closing = true
          for (const [, res] of waiting) writeResponse(res, stopping)
          waiting = []
          if (!server.listening) return resume(Effect.void)
          // in-flight requests get shutdownTimeoutMs to finish (an accept already started completes regardless);
          // then the sockets still open are closed, and their clients retry — a retried lead is a duplicate, 200
          const force = setTimeout(() => server.closeAllConnections(), options.shutdownTimeoutMs)
          server.close(() => {
            clearTimeout(force)
            resume(Effect.void)
          })
          server.closeIdleConnections()
        })
    )
    yield* Effect.async<void, HttpServerError.ServeError>((resume) => {
      const onError = (cause: Error) => resume(Effect.fail(new HttpServerError.ServeError({ cause })))
      server.once("error", onError)
      server.listen({ port: options.listen.port, host: options.listen.host }, () => {
        server.off("error", onError)
        resume(Effect.void)
      })
    })
    const address = server.address()
    return HttpServer.make({
      address:
        typeof address === "object" && address !== null
          ? { _tag: "TcpAddress", hostname: address.address, port: address.port }
          : { _tag: "UnixAddress", path: String(address) },
      serve: (httpApp, middleware) =>
        Effect.gen(function* () {
          const served = options.appContext === undefined ? httpApp : options.appContext(httpApp)
          const handler = yield* NodeHttpServer.makeHandler(served, middleware as never)
          yield* Effect.addFinalizer(() =>
            Effect.sync(() => {
              app = undefined
            })
          )
          if (closing) return
          app = handler
          const early = waiting
          waiting = []
          for (const [req, res] of early) if (!res.destroyed) handler(req, res)
        })
    })
  })
