import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import * as HttpServer from "@effect/platform/HttpServer"
import * as HttpServerError from "@effect/platform/HttpServerError"
import type * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as Effect from "effect/Effect"
import * as FiberId from "effect/FiberId"
import * as FiberSet from "effect/FiberSet"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import { AppConfig } from "../../services/AppConfig.js"
import type { JobQueue } from "../../services/JobQueue.js"
import type { LeadStore } from "../../services/LeadStore.js"
import type { Metrics } from "../../services/Metrics.js"
import { type TraceContext, withParentTrace } from "../domain/traceContext.js"
import { McpEndpoint } from "../mcp/endpoint.js"
import { fromNode } from "./body.js"
import { type IntakeHandler, makeCreateLead } from "./leads.js"
import { causeResponse, problem } from "./problem.js"
import { makeHubspotWebhook, makeMarketoWebhook } from "./webhooks.js"

/** Where the server listens (port 0: any free port). */
export interface ListenOptions {
  readonly port: number
  readonly host: string
}

/** Writes a handler's response on Node: the handlers answer with JSON bodies (or none), built in memory. */
export const writeResponse = (res: ServerResponse, response: HttpServerResponse.HttpServerResponse): void => {
  if (res.headersSent || res.destroyed) return
  const headers: Record<string, string> = { ...response.headers }
  const body = response.body
  if (body._tag === "Uint8Array") {
    headers["content-type"] = body.contentType
    headers["content-length"] = String(body.body.byteLength)
    res.writeHead(response.status, headers)
    res.end(body.body)
    return
  }
  res.writeHead(body._tag === "Empty" ? response.status : 500, headers)
  res.end()
}

/** The request's path without its query string. */
const pathOf = (url: string | undefined): string => {
  const path = url ?? "/"
  const query = path.indexOf("?")
  return query < 0 ? path : path.slice(0, query)
}

/**
 * The ingest's HTTP server: node:http, with the intake routes (POST /leads, /webhooks/marketo, /webhooks/hubspot:
 * one request per lead, the hot path) handled directly — one fiber running the same handler the HttpApi serves —
 * and every other request passed to the app `serve` is given (the HttpApi: GET /leads/:id, ops, docs,
 * problem+json for unknown routes and methods).
 *
 * Why: the platform's per-request machinery (router, middleware, request/response wrappers, its own span) costs
 * about 0.45 ms of CPU per request on the 2-core benchmark machine even for a handler that does nothing, more than
 * the whole raw baseline's work; see README "Performance". The routes' behaviour, responses and OpenAPI entries are
 * the HttpApi's: the tests run against this server and against the HttpApi alone.
 */
export const make = (
  listen: ListenOptions
): Effect.Effect<
  HttpServer.HttpServer,
  HttpServerError.ServeError,
  AppConfig | LeadStore | JobQueue | Metrics | Scope.Scope
> =>
  Effect.gen(function* () {
    const config = yield* AppConfig
    const intake = new Map<string, IntakeHandler>([
      ["/leads", makeCreateLead(config)],
      ["/webhooks/marketo", makeMarketoWebhook(config)],
      ["/webhooks/hubspot", makeHubspotWebhook(config)]
    ])
    // the MCP endpoint (/mcp), when the program provides it (HttpServerLive does)
    const mcp = Option.getOrUndefined(yield* Effect.serviceOption(McpEndpoint))
    // each request's fiber runs in this set; what is left when the server has closed is interrupted with the scope
    const requests = yield* FiberSet.make<HttpServerResponse.HttpServerResponse>()
    const runRequest = yield* FiberSet.runtime(requests)<LeadStore | JobQueue | Metrics>()
    let app: ((req: IncomingMessage, res: ServerResponse) => void) | undefined
    let closing = false

    const direct = (handler: IntakeHandler, path: string, req: IncomingMessage, res: ServerResponse) => {
      const handled = handler(fromNode(req)).pipe(
        Effect.tap((response) => Effect.annotateCurrentSpan("http.response.status_code", response.status)),
        Effect.withSpan("http.server POST", {
          kind: "server",
          captureStackTrace: false,
          attributes: { "http.request.method": "POST", "url.path": path }
        }),
        // a client's own trace (W3C traceparent) continues through the ingest and the consumer
        // (the parser reads only the trace headers, strings on Node: a repeated header is joined with ", ")
        withParentTrace(req.headers as TraceContext),
        Effect.catchAllCause(causeResponse)
      )
      const fiber = runRequest(handled)
      fiber.addObserver((exit) => {
        if (exit._tag === "Success") writeResponse(res, exit.value)
      })
      // the client hung up before the answer: stop reading its body (an accept already started still finishes)
      res.once("close", () => {
        if (!res.writableEnded) fiber.unsafeInterruptAsFork(FiberId.none)
      })
    }

    const server = yield* Effect.acquireRelease(
      Effect.sync(() =>
        createServer((req, res) => {
          // while stopping, every answer closes its connection, so busy keep-alive clients cannot hold the drain open
          if (closing) res.shouldKeepAlive = false
          if (req.method === "POST") {
            const path = pathOf(req.url)
            const handler = intake.get(path)
            if (handler !== undefined) return direct(handler, path, req, res)
          }
          if (mcp !== undefined && pathOf(req.url) === "/mcp") return mcp(req, res)
          if (app !== undefined) return app(req, res)
          writeResponse(res, problem(503, "The server is stopping", { headers: { "retry-after": "1" } }))
        })
      ),
      (server) =>
        Effect.async<void>((resume) => {
          closing = true
          if (!server.listening) return resume(Effect.void)
          // in-flight requests get SHUTDOWN_TIMEOUT_MS to finish (an accept already started completes regardless);
          // then the sockets still open are closed, and their clients retry — a retried lead is a duplicate, 200
          const force = setTimeout(() => server.closeAllConnections(), config.shutdownTimeoutMs)
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
      server.listen({ port: listen.port, host: listen.host }, () => {
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
          app = yield* NodeHttpServer.makeHandler(httpApp, middleware as never)
          yield* Effect.addFinalizer(() =>
            Effect.sync(() => {
              app = undefined
            })
          )
        })
    })
  })

/** The ingest server (with what the platform's handlers need: HttpPlatform, Etag, NodeContext). */
export const layer = (listen: ListenOptions) =>
  Layer.merge(Layer.scoped(HttpServer.HttpServer, make(listen)), NodeHttpServer.layerContext)
