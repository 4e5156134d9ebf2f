import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpServer from "@effect/platform/HttpServer"
import * as Layer from "effect/Layer"
import { declaredRoutes, IngestApi } from "./api.js"
import { LeadsLive } from "./leads.js"
import { OperationsLive } from "./operations.js"
import { layerDocument } from "./openapi.js"
import { OpsLive } from "./ops.js"
import * as Pages from "./pages.js"
import { problemMiddlewareFor } from "./serving.js"
import { WebhooksLive } from "./webhooks.js"

/** The ingest API with its handlers, OpenAPI document (/openapi.json), docs page (/docs) and console (/console). */
export const IngestApiLive = HttpApiBuilder.api(IngestApi).pipe(
  Layer.provide([LeadsLive, WebhooksLive, OperationsLive, OpsLive])
)

/** The API-wide middleware, /openapi.json and the pages, for whichever way the API is served. */
export const Documented = Layer.mergeAll(
  HttpApiBuilder.middleware(problemMiddlewareFor(declaredRoutes)),
  // built on its first request, not at start-up
  layerDocument("/openapi.json"),
  // /docs and /console from files the ingest serves itself: both work offline
  Pages.layer
)

/** The ingest API, its docs and problem+json errors, on whichever HttpServer is provided (tests: port 0). */
export const HttpApiServed = HttpApiBuilder.serve().pipe(Layer.provide(Documented), Layer.provide(IngestApiLive))

/**
 * The ingest API for `HttpApiBuilder.toWebHandler` (a web Request in, a web Response out: edge runtimes, the Lambda
 * handlers): the same routes, documents and problem+json answers as HttpApiServed. Needs AppConfig and the stores.
 */
export const HttpApiWeb = Documented.pipe(Layer.provideMerge(IngestApiLive), Layer.merge(HttpServer.layerContext))
