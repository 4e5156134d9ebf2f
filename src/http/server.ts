import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpMiddleware from "@effect/platform/HttpMiddleware"
import * as HttpServer from "@effect/platform/HttpServer"
import { constTrue } from "effect/Function"
import * as Layer from "effect/Layer"
import { declaredRoutes, IngestApi } from "./api.js"
import { LeadsLive } from "./leads.js"
import { OperationsLive } from "./operations.js"
import { layerDocument } from "./openapi.js"
import { OpsLive } from "./ops.js"
import * as Pages from "./pages.js"
import { problemMiddlewareFor, tracedRequests } from "./serving.js"
import { WebhooksLive } from "./webhooks.js"

/** The ingest API with its handlers, OpenAPI document (/openapi.json), docs page (/docs) and console (/console). */
export const IngestApiLive = HttpApiBuilder.api(IngestApi).pipe(
  Layer.provide([LeadsLive, WebhooksLive, OperationsLive, OpsLive])
)

/**
 * The platform's tracer off for whatever is served in this layer's runtime: it would record every request header
 * but four (a webhook's token, a signature, Proxy-Authorization), the full URL and the query. The API's own server
 * span (`tracedRequests`) takes its place. For a runtime made from a layer (the web handler); HttpApiServed turns it
 * off where it serves.
 */
export const PlatformTracerOff = Layer.locallyScoped(HttpMiddleware.currentTracerDisabledWhen, constTrue)

const problemMiddleware = problemMiddlewareFor(declaredRoutes)

/** The API-wide middleware, /openapi.json and the pages, for whichever way the API is served. */
export const Documented = Layer.mergeAll(
  // the server span outside the problem+json answers, so it records the status the client gets
  HttpApiBuilder.middleware((app) => tracedRequests(problemMiddleware(app))),
  // built on its first request, not at start-up
  layerDocument("/openapi.json"),
  // /docs and /console from files the ingest serves itself: both work offline
  Pages.layer
)

/** The ingest API, its docs and problem+json errors, on whichever HttpServer is provided (tests: port 0). */
export const HttpApiServed = HttpApiBuilder.serve().pipe(
  HttpMiddleware.withTracerDisabledWhen(constTrue),
  Layer.provide(Documented),
  Layer.provide(IngestApiLive)
)

/**
 * The ingest API for `HttpApiBuilder.toWebHandler` (a web Request in, a web Response out: edge runtimes, the Lambda
 * handlers): the same routes, documents and problem+json answers as HttpApiServed. Needs AppConfig and the stores.
 */
export const HttpApiWeb = Documented.pipe(
  Layer.provideMerge(IngestApiLive),
  Layer.merge(HttpServer.layerContext),
  Layer.merge(PlatformTracerOff)
)
