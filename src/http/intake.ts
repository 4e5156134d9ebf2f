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
import { McpEndpoint } from "../mcp/endpoint.js"
import { type IntakeEndpointName, intakeEndpoints } from "./api.js"
import { fromNode, type IntakeRequest } from "./body.js"
import { type IntakeHandler, makeCreateLead } from "./leads.js"
import { layerContext } from "./platform.js"
import { problem } from "./problem.js"
import { framed } from "./serving.js"
import { makeHubspotWebhook, makeMarketoWebhook } from "./webhooks.js"

/** Where the server listens (port 0: any free port). */
export interface ListenOptions {
  readonly port: number
  readonly host: string
}

/** Writes a handler's response on Node: the handlers answer with JSON bodies (or none), built in memory. */
export const writeResponse = (res: ServerResponse, response: HttpServerResponse.HttpServerResponse): void => {
  if (res.headersSent || res.destroyed) return
  const body = response.body
  if (body._tag === "Raw" && typeof body.body === "string") {
    // text (a lead's view; content type and length already in the headers): Node writes head and body at once
    res.writeHead(response.status, response.headers)
    res.end(body.body)
    return
  }
  const headers: Record<string, string> = { ...response.headers }
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

/** An intake handler framed for the fast path (span, trace context, failures answered). */
type FramedHandler = (request: IntakeRequest) => Effect.Effect<HttpServerResponse.HttpServerResponse, never, Intake>
type Intake = LeadStore | JobQueue | Metrics

/** Each intake endpoint's handler: the one its HttpApi group serves (see leads.ts, webhooks.ts). */
const intakeHandlers: { readonly [Name in IntakeEndpointName]: (config: AppConfig.Service) => IntakeHandler } = {
  createLead: makeCreateLead,
  marketo: makeMarketoWebhook,
  hubspot: makeHubspotWebhook
}

/** The intake routes by method, then path, as the HttpApi declares them: the fast path has no route table of its own. */
const intakeRoutes = (config: AppConfig.Service) =>
  Effect.gen(function* () {
    const routes = new Map<string, Map<string, FramedHandler>>()
    for (const endpoint of intakeEndpoints) {
      // matched by exact path: a path parameter would need the router
      if (endpoint.path.includes(":")) {
        return yield* Effect.dieMessage(`intake endpoint ${endpoint.name} has a path parameter (${endpoint.path})`)
      }
      const byPath = routes.get(endpoint.method) ?? new Map<string, FramedHandler>()
      byPath.set(endpoint.path, framed(endpoint, intakeHandlers[endpoint.name](config)))
      routes.set(endpoint.method, byPath)
    }
    return routes
  })

/**
 * The ingest's HTTP server: node:http, with the intake routes (the HttpApi's `intakeEndpoints`: POST /leads,
 * /webhooks/marketo, /webhooks/hubspot: one request per lead, the hot path) handled directly — one fiber running the
 * handler the HttpApi serves, framed as the platform frames its routes (./serving.ts) — and every other request
 * passed to the app `serve` is given (the HttpApi: GET /leads/:id, ops, docs, problem+json for unknown routes and
 * methods).
 *
 * Why: the platform's per-request machinery (router, middleware, request/response wrappers, its own span) costs more
 * CPU per request, even for a handler that does nothing, than the whole raw baseline's work (figures in README
 * "Performance"). The routes' behaviour, responses and OpenAPI entries are the HttpApi's: the tests run against this
 * server and against the HttpApi alone.
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
    const intake = yield* intakeRoutes(config)
    // the MCP endpoint (/mcp), when the program provides it (HttpServerLive does)
    const mcp = Option.getOrUndefined(yield* Effect.serviceOption(McpEndpoint))
    // each request's fiber runs in this set; what is left when the server has closed is interrupted with the scope
    const requests = yield* FiberSet.make<HttpServerResponse.HttpServerResponse>()
    const runRequest = yield* FiberSet.runtime(requests)<Intake>()
    let app: ((req: IncomingMessage, res: ServerResponse) => void) | undefined
    let closing = false

    const direct = (serve: FramedHandler, req: IncomingMessage, res: ServerResponse) => {
      const fiber = runRequest(serve(fromNode(req)))
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
          const serve = intake.get(req.method ?? "")?.get(pathOf(req.url))
          if (serve !== undefined) return direct(serve, req, res)
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

/** The ingest server (with what the platform's handlers need: HttpPlatform, Etag, FileSystem, Path). */
export const layer = (listen: ListenOptions) =>
  Layer.merge(Layer.scoped(HttpServer.HttpServer, make(listen)), layerContext)
