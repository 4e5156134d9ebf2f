import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import * as HttpServer from "@effect/platform/HttpServer"
import * as HttpServerError from "@effect/platform/HttpServerError"
import type * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Runtime from "effect/Runtime"
import type * as Scope from "effect/Scope"
import * as Tracing from "../../layers/observability/Tracing.js"
import { AppConfig } from "../../services/AppConfig.js"
import type { JobQueue } from "../../services/JobQueue.js"
import type { LeadStore } from "../../services/LeadStore.js"
import type { Metrics } from "../../services/Metrics.js"
import { header } from "./auth.js"
import { makeCreateLead } from "./leads.js"
import { causeResponse } from "./problem.js"

/** Where the server listens (port 0: any free port). */
export interface ListenOptions {
  readonly port: number
  readonly host: string
}

/** Writes a handler's response on Node: the handlers answer with JSON bodies (or none), built in memory. */
const writeResponse = (res: ServerResponse, response: HttpServerResponse.HttpServerResponse): void => {
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

const isCreateLead = (req: IncomingMessage): boolean => {
  if (req.method !== "POST") return false
  const url = req.url ?? ""
  const query = url.indexOf("?")
  return (query < 0 ? url : url.slice(0, query)) === "/leads"
}

/**
 * The ingest's HTTP server: node:http, with POST /leads (the hot path, one request per lead) handled directly —
 * one fiber running the same handler the HttpApi serves — and every other request passed to the app `serve` is
 * given (the HttpApi: webhooks, GET /leads/:id, ops, docs, problem+json for unknown routes).
 *
 * Why: the platform's per-request machinery (router, middleware, request/response wrappers, its own span) costs
 * about 0.45 ms of CPU per request on the 2-core benchmark machine even for a handler that does nothing, more than
 * the whole raw baseline's work; see README "Performance". The route's behaviour, responses and OpenAPI entry are
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
    const createLead = makeCreateLead(config)
    const runCallback = Runtime.runCallback(yield* Effect.runtime<LeadStore | JobQueue | Metrics>())
    let app: ((req: IncomingMessage, res: ServerResponse) => void) | undefined

    const direct = (req: IncomingMessage, res: ServerResponse) => {
      const handled = createLead(req, req.headers).pipe(
        Effect.withSpan("http.server POST", {
          kind: "server",
          captureStackTrace: false,
          attributes: { "http.request.method": "POST", "url.path": "/leads" }
        }),
        // a client's own trace (W3C traceparent) continues through the ingest and the consumer
        Tracing.withParentTrace({ traceparent: header(req.headers, "traceparent") ?? "" }),
        Effect.catchAllCause(causeResponse)
      )
      const cancel = runCallback(handled, {
        onExit: (exit) => {
          if (exit._tag === "Success") writeResponse(res, exit.value)
        }
      })
      // the client hung up before the answer: stop reading its body (an accept already started still finishes)
      res.once("close", () => {
        if (!res.writableEnded) cancel()
      })
    }

    const server = yield* Effect.acquireRelease(
      Effect.sync(() =>
        createServer((req, res) => {
          if (isCreateLead(req)) return direct(req, res)
          if (app !== undefined) return app(req, res)
          res.writeHead(503, { "retry-after": "1" })
          res.end()
        })
      ),
      (server) =>
        Effect.async<void>((resume) => {
          if (!server.listening) return resume(Effect.void)
          server.close(() => resume(Effect.void))
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
