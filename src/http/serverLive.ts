import * as HttpMiddleware from "@effect/platform/HttpMiddleware"
import * as HttpServer from "@effect/platform/HttpServer"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import { constTrue } from "effect/Function"
import * as Layer from "effect/Layer"
import { AppConfig } from "../../services/AppConfig.js"
import * as IngestServer from "./intake.js"
import { layerContext } from "./platform.js"
import { problem } from "./problem.js"
import { tracedRequests } from "./serving.js"

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
                Effect.succeed(problem(500, "The API could not start; only the intake and health routes answer")),
                tracedRequests
              ).pipe(
                // the API's own server span, not the platform's (headers, full URL, query: see ./server.ts)
                HttpMiddleware.withTracerDisabledWhenEffect(constTrue)
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
 * the HttpApi (its modules, router, handlers, pages) is built on the first request for it, which waits for it, as
 * do any that come meanwhile (./nodeServer.ts). Building the router was the larger part of start-up's Effect work,
 * and many ingest replicas never serve anything but leads and probes (docs/performance-log.md). The HttpServer stays
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
    // its modules too are loaded only then (a lazy chunk in the bundles)
    const api = Layer.unwrapEffect(
      Effect.promise(() => import("./server.js")).pipe(
        Effect.map((server) => server.HttpApiServed.pipe(Layer.provide(layerContext)))
      )
    )
    return builtWhen(Deferred.await(wanted), api).pipe(HttpServer.withLogAddress, Layer.provideMerge(server))
  })
)
