import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpServer from "@effect/platform/HttpServer"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import { AppConfig } from "../../services/AppConfig.js"
import { IngestApi } from "./api.js"
import * as IngestServer from "./intake.js"
import { LeadsLive } from "./leads.js"
import { OperationsLive } from "./operations.js"
import { layerDocument } from "./openapi.js"
import { OpsLive } from "./ops.js"
import { layerContext } from "./platform.js"
import { problem } from "./problem.js"
import * as Pages from "./pages.js"
import { problemMiddleware } from "./serving.js"
import { WebhooksLive } from "./webhooks.js"

/** The ingest API with its handlers, OpenAPI document (/openapi.json), docs page (/docs) and console (/console). */
export const IngestApiLive = HttpApiBuilder.api(IngestApi).pipe(
  Layer.provide([LeadsLive, WebhooksLive, OperationsLive, OpsLive])
)

/** The API-wide middleware, /openapi.json and the pages, for whichever way the API is served. */
export const Documented = Layer.mergeAll(
  HttpApiBuilder.middleware(problemMiddleware),
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

/**
 * `layer` built when `when` completes, in this layer's scope, while what depends on this layer goes on. A failure to
 * build is logged and then served: every request that would have reached it gets a 500 problem (nothing else
 * answers them).
 */
const builtWhen = <E, R>(when: Effect.Effect<void>, layer: Layer.Layer<never, E, R>) =>
  Layer.scopedDiscard(
    Effect.gen(function* () {
      const scope = yield* Effect.scope
      yield* when.pipe(
        Effect.zipRight(Layer.buildWithScope(layer, scope)),
        Effect.catchAllCause((cause) =>
          Effect.logError("the HTTP API could not be built; only the intake and health routes answer", cause).pipe(
            Effect.zipRight(
              HttpServer.serveEffect(
                Effect.succeed(problem(500, "The API could not start; only the intake and health routes answer"))
              )
            )
          )
        ),
        Effect.forkIn(scope)
      )
    })
  )

/**
 * Serve the ingest API on PORT / HOST; /mcp too when an McpEndpoint is provided (the programs provide one). The
 * intake routes and the ops routes (/healthz, /readyz, /metrics) answer as soon as the server listens; the rest of
 * the HttpApi (its router, handlers, pages) is built on the first request for it, which waits for it (~0.1 s), as
 * do any that come meanwhile (./nodeServer.ts). Building the router was the larger part of start-up's Effect work,
 * and many ingest replicas never serve anything but leads and probes (README "Performance"). The HttpServer stays
 * in the output, so what starts after it (the banner) can say the address it is bound to (PORT=0).
 */
export const HttpServerLive = Layer.unwrapScoped(
  Effect.gen(function* () {
    const config = yield* AppConfig
    const wanted = yield* Deferred.make<void>()
    const server = IngestServer.layerServer(
      { port: config.port, host: config.host },
      { onAppWanted: () => Deferred.unsafeDone(wanted, Exit.void) }
    )
    return builtWhen(Deferred.await(wanted), HttpApiServed.pipe(Layer.provide(layerContext))).pipe(
      HttpServer.withLogAddress,
      Layer.provideMerge(server)
    )
  })
)
