import * as HttpServer from "@effect/platform/HttpServer"
import type * as HttpServerError from "@effect/platform/HttpServerError"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Runtime from "effect/Runtime"
import type * as Scope from "effect/Scope"
import { AppConfig } from "../../services/AppConfig.js"
import type { JobQueue } from "../../services/JobQueue.js"
import type { LeadStore } from "../../services/LeadStore.js"
import type { Metrics } from "../../services/Metrics.js"
import type { LeadSource } from "../domain/lead.js"
import { McpEndpoint } from "../mcp/endpoint.js"
import {
  CheckHostHeader,
  type IntakeHandler,
  makeCreateLead,
  makeHubspotWebhook,
  makeMarketoWebhook
} from "./intakeHandlers.js"
import type { IntakeRequest } from "./body.js"
import * as NodeServer from "./nodeServer.js"
import { directOpsHandlers } from "./opsAnswers.js"
import { layerContext } from "./platform.js"
import { recordRefusal } from "./refusals.js"
import { directRoutes, type IntakeRouteName, intakeRouteNames, opsRouteNames } from "./routes.js"
import { framed } from "./serving.js"

type Intake = LeadStore | JobQueue | Metrics

/** Each intake endpoint's handler: the one its HttpApi group serves (see leads.ts, webhooks.ts). */
const intakeHandlers: { readonly [Name in IntakeRouteName]: (config: AppConfig.Service) => IntakeHandler } = {
  // with no API keys, a Host that could be a DNS-rebinding page's is refused (see CheckHostHeader)
  createLead: (config) => makeCreateLead(config, { checkHost: true }),
  marketo: makeMarketoWebhook,
  hubspot: makeHubspotWebhook
}

/** The source each intake endpoint's leads (and refusals) are counted under. */
const intakeSources: { readonly [Name in IntakeRouteName]: LeadSource } = {
  createLead: "api",
  marketo: "marketo",
  hubspot: "hubspot"
}

/**
 * An ops route's handler (GET /healthz, /readyz, /metrics: no body taken), whose answer to a request that declares a
 * body anyway closes the connection: else Node would keep it by reading the whole declared body, up to
 * REQUEST_TIMEOUT_MS, for nothing (anyone may call these routes).
 */
const closingOnBody =
  <R>(handler: () => Effect.Effect<HttpServerResponse.HttpServerResponse, never, R>) =>
  (request: IntakeRequest) =>
    request.headers["transfer-encoding"] !== undefined ||
    (request.headers["content-length"] !== undefined && request.headers["content-length"] !== "0")
      ? Effect.map(handler(), HttpServerResponse.setHeader("connection", "close"))
      : handler()

/**
 * The ingest's HTTP server: node:http (./nodeServer.ts), answering itself the intake routes (./routes.ts: POST
 * /leads, /webhooks/marketo, /webhooks/hubspot: one request per lead, the hot path) and the ops routes (GET
 * /healthz, /readyz, /metrics) — one fiber running the handler the HttpApi serves (./intakeHandlers.ts,
 * ./opsAnswers.ts), framed as the platform frames its routes (./serving.ts) — and /mcp when an McpEndpoint is
 * provided; every other request goes to the app `serve` is given (the HttpApi: GET /leads/:id, operator routes,
 * docs, problem+json for unknown routes and methods), which may be served after the server listens: such a request
 * waits for it.
 *
 * Why: the platform's per-request machinery (router, middleware, request/response wrappers, its own span) costs more
 * CPU per request, even for a handler that does nothing, than the whole raw baseline's work, and building the
 * HttpApi's router is the larger part of start-up's Effect work (figures in docs/performance-log.md). The routes'
 * behaviour, responses and OpenAPI entries are the HttpApi's: the tests run against this server and against the
 * HttpApi alone.
 */
export const make = (
  listen: NodeServer.ListenOptions,
  options: { readonly onAppWanted?: (() => void) | undefined } = {}
): Effect.Effect<
  HttpServer.HttpServer,
  HttpServerError.ServeError,
  AppConfig | LeadStore | JobQueue | Metrics | Scope.Scope
> =>
  Effect.gen(function* () {
    const config = yield* AppConfig
    const routes: Array<NodeServer.DirectRoute<Intake>> = [
      ...intakeRouteNames.map((name) => ({
        ...directRoutes[name],
        handler: framed(directRoutes[name], intakeHandlers[name](config))
      })),
      ...opsRouteNames.map((name) => ({
        ...directRoutes[name],
        handler: framed(directRoutes[name], closingOnBody(directOpsHandlers[name]))
      }))
    ]
    // the MCP endpoint (/mcp), when the program provides it (HttpServerLive does)
    const mcp = Option.getOrUndefined(yield* Effect.serviceOption(McpEndpoint))
    // a refusal Node's server makes itself (417 before routing, 408 when a body stops arriving) is counted for the
    // intake route it was meant for
    const runFork = Runtime.runFork(yield* Effect.runtime<Metrics>())
    const sourceOf = new Map(
      intakeRouteNames.map((name) => [`${directRoutes[name].method} ${directRoutes[name].path}`, intakeSources[name]])
    )
    const onRefusedUnrouted = (method: string, path: string, status: 408 | 417) => {
      const source = sourceOf.get(`${method} ${path}`)
      if (source !== undefined) {
        runFork(recordRefusal(source, status, status === 408 ? "timeout" : "expectation-failed"))
      }
    }
    return yield* NodeServer.make<Intake>({
      listen,
      routes,
      nodeRoutes: mcp === undefined ? undefined : new Map([["/mcp", mcp]]),
      others: "served",
      onAppWanted: options.onAppWanted,
      shutdownTimeoutMs: config.shutdownTimeoutMs,
      requestTimeoutMs: config.requestTimeoutMs,
      keepAliveTimeoutMs: config.keepAliveTimeoutMs,
      onRefusedUnrouted,
      // this server may be reached by a browser at a private address (npm start binds 127.0.0.1): with no API keys,
      // the HttpApi's guarded routes check the Host (DNS rebinding)
      appContext: (app) => Effect.provideService(app, CheckHostHeader, true)
    })
  })

/** The ingest server alone: what the HttpApi's handlers need (layerContext) is left to whoever serves it. */
export const layerServer = (
  listen: NodeServer.ListenOptions,
  options: { readonly onAppWanted?: (() => void) | undefined } = {}
) => Layer.scoped(HttpServer.HttpServer, make(listen, options))

/** The ingest server (with what the platform's handlers need: HttpPlatform, Etag, FileSystem, Path). */
export const layer = (listen: NodeServer.ListenOptions) => Layer.merge(layerServer(listen), layerContext)
