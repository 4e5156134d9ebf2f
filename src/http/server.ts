import { createServer } from "node:http"
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpApiScalar from "@effect/platform/HttpApiScalar"
import type * as HttpApp from "@effect/platform/HttpApp"
import * as HttpServer from "@effect/platform/HttpServer"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { AppConfig } from "../../services/AppConfig.js"
import { IngestApi } from "./api.js"
import { LeadsLive } from "./leads.js"
import { OpsLive } from "./ops.js"
import { problem } from "./problem.js"
import { WebhooksLive } from "./webhooks.js"

/**
 * Turns what the router could not handle into problem+json: 404 for an unknown route, 400 for a request the
 * framework could not decode, and a bare 500 (logged, never echoing internals) for anything unexpected.
 * Installed as an HttpApi middleware: as `serve`'s middleware it would run after the error response was sent.
 */
export const problemMiddleware = (app: HttpApp.Default): HttpApp.Default =>
  app.pipe(
    Effect.catchAllCause((cause) =>
      Effect.gen(function* () {
        // the failure may be combined with others (Sequential), so look inside the cause rather than at its top
        const failure = Option.getOrUndefined(Cause.failureOption(cause)) as { readonly _tag?: string } | undefined
        if (failure?._tag === "RouteNotFound") return problem(404, "No such route")
        if (failure?._tag === "HttpApiDecodeError") return problem(400, "The request could not be decoded")
        if (failure?._tag === "RequestError") return problem(400, "The request could not be read")
        // The client went away (or the server is stopping): nobody reads this answer, and it is not an error.
        if (Cause.isInterruptedOnly(cause)) return problem(503, "The request was interrupted")
        yield* Effect.logError("unhandled request failure", cause)
        return problem(500, "Internal error; the request was not processed")
      })
    )
  )

/** The ingest API with its handlers, OpenAPI document (/openapi.json) and docs page (/docs). */
export const IngestApiLive = HttpApiBuilder.api(IngestApi).pipe(Layer.provide([LeadsLive, WebhooksLive, OpsLive]))

const Documented = Layer.mergeAll(
  HttpApiBuilder.middleware(problemMiddleware),
  HttpApiBuilder.middlewareOpenApi({ path: "/openapi.json" }),
  // The page loads Scalar's script from its CDN: embedding it would add 3.4 MB to every start of the ingest.
  HttpApiScalar.layerCdn({ path: "/docs" })
)

/** The ingest API, its docs and problem+json errors, on whichever HttpServer is provided (tests: port 0). */
export const HttpApiServed = HttpApiBuilder.serve().pipe(Layer.provide(Documented), Layer.provide(IngestApiLive))

/** Serve the ingest API on PORT / HOST. */
export const HttpServerLive = Layer.unwrapEffect(
  Effect.map(AppConfig, (config) =>
    HttpApiServed.pipe(
      HttpServer.withLogAddress,
      Layer.provide(NodeHttpServer.layer(createServer, { port: config.port, host: config.host }))
    )
  )
)
