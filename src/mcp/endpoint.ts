import type { IncomingMessage, ServerResponse } from "node:http"
import type { HttpServerResponse } from "@effect/platform/HttpServerResponse"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as ExecutionStrategy from "effect/ExecutionStrategy"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Runtime from "effect/Runtime"
import * as Scope from "effect/Scope"
import { AppConfig } from "../../services/AppConfig.js"
import type { CircuitBreaker } from "../../services/CircuitBreaker.js"
import type { CrmExecutor } from "../../services/CrmExecutor.js"
import type { Idempotency } from "../../services/Idempotency.js"
import type { Metrics } from "../../services/Metrics.js"
import type { RateLimiter } from "../../services/RateLimiter.js"
import { missingPackage, missingPackageOf } from "../../layers/shared/optionalPackage.js"
import type { McpServices } from "./calls.js"
import { type InFlight, makeInFlight } from "./inFlight.js"
import { unsniffedUncachedHeaders } from "../http/answerHeaders.js"
import { makeApiKeyCheck, presentedKey } from "../http/auth.js"
import { writeResponse } from "../http/nodeResponse.js"
import type { NodeHandler } from "../http/nodeServer.js"
import { problem } from "../http/problem.js"

const unavailableProblem = { type: "https://revenueflow.dev/problems/503", title: "Service Unavailable", status: 503 }

const denied = problem(401, "A valid API key is required (Authorization: Bearer <key> or X-API-Key)", {
  headers: { "www-authenticate": 'Bearer realm="revenueflow"' }
})

// Stateless: no session to resume, so no server-to-client stream (GET) and nothing to end (DELETE).
const notAllowed = problem(405, "The MCP endpoint is stateless: send JSON-RPC messages with POST", {
  headers: { allow: "POST" }
})

const foreignOrigin = (origin: string) =>
  problem(
    403,
    `A page from ${JSON.stringify(origin.slice(0, 200))} may not call /mcp: only the origins MCP_ALLOWED_ORIGINS lists`
  )

/**
 * What /mcp refuses before anything of it loads or runs: a browser page whose origin is not allowed (MCP requires
 * servers to check Origin: a page could otherwise reach a server on localhost by DNS rebinding; clients that are
 * not browsers send none), a request without a valid API key (INGEST_API_KEYS, constant-time; none set: open),
 * and any method but POST.
 */
const refusalOf = (config: AppConfig.Service) => {
  const authorized = makeApiKeyCheck(Option.getOrElse(config.apiKeys, () => Redacted.make([])))
  const allowedOrigins = new Set(config.mcpAllowedOrigins)
  return (req: IncomingMessage): HttpServerResponse | undefined => {
    const origin = req.headers.origin
    if (origin !== undefined && !allowedOrigins.has(origin.toLowerCase())) return foreignOrigin(origin)
    if (!authorized(presentedKey(req.headers))) return denied
    if (req.method !== "POST") return notAllowed
    return undefined
  }
}

/** Answers one HTTP request to /mcp on node:http. */
export type { NodeHandler } from "../http/nodeServer.js"

/** The MCP Streamable HTTP endpoint the ingest serves at /mcp (when this service is provided). */
export class McpEndpoint extends Context.Tag("revenueflow/McpEndpoint")<McpEndpoint, NodeHandler>() {}

/** The services only the safety chain needs: the ingest builds them on the first /mcp request. */
export type ChainServices = Idempotency | RateLimiter | CircuitBreaker | CrmExecutor

const isInvalidConfiguration = (error: unknown): error is { readonly message: string } =>
  typeof error === "object" && error !== null && "_tag" in error && error._tag === "InvalidConfiguration"

/** A 503 problem for a /mcp request the endpoint cannot serve (its services or the SDK failed to load). */
const unavailable = (res: ServerResponse, detail: string) => {
  if (!res.headersSent) {
    res.writeHead(503, { ...unsniffedUncachedHeaders, "content-type": "application/problem+json", "retry-after": "30" })
  }
  res.end(JSON.stringify({ ...unavailableProblem, detail }))
}

/** The Streamable HTTP transport: the MCP SDK is an optional peer of the library, named when it is missing. */
const loadHttp = () =>
  import("./http.js").catch((error: unknown) => {
    const name = missingPackageOf(error)
    throw name === undefined ? error : missingPackage("/mcp", name)
  })

/**
 * The handler over an InFlight made on first use (`prepare`); the MCP SDK is loaded then too, by the first request
 * /mcp does not refuse. A failed preparation is answered 503 with its reason (a configuration error lists keys,
 * never values) and tried again next time.
 */
const deferredHandler = (config: AppConfig.Service, prepare: () => Promise<InFlight>): NodeHandler => {
  let loaded: Promise<NodeHandler> | undefined
  const refused = refusalOf(config)
  return (req, res) => {
    // every answer of /mcp, as every other of the ingest's server: its refusals (problems: they have both already),
    // the 503 and the JSON-RPC errors, and the SDK transport's own, which it writes itself with writeHead (Node merges
    // these in; a header it sets itself, as an SSE stream's no-cache, wins)
    for (const [name, value] of Object.entries(unsniffedUncachedHeaders)) res.setHeader(name, value)
    const refusal = refused(req)
    if (refusal !== undefined) return writeResponse(res, refusal)
    loaded ??= Promise.all([prepare(), loadHttp()]).then(([inFlight, http]) => http.makeHttpHandler(config, inFlight))
    loaded.then(
      (handle) => handle(req, res),
      (error: unknown) => {
        loaded = undefined
        // a configuration error (InvalidConfiguration) lists keys, never values: safe to show
        const reason = isInvalidConfiguration(error) ? error.message : "the MCP endpoint could not load"
        Effect.runFork(Effect.logError("/mcp is unavailable").pipe(Effect.annotateLogs({ reason })))
        unavailable(res, `The MCP endpoint is unavailable: ${reason}`)
      }
    )
  }
}

/**
 * /mcp over the services in context. The MCP SDK is loaded on the first /mcp request, so an ingest nobody asks
 * for MCP never pays its load time. Released after the HTTP server: calls still running finish first.
 */
export const layer: Layer.Layer<McpEndpoint, never, McpServices> = Layer.scoped(
  McpEndpoint,
  Effect.gen(function* () {
    const config = yield* AppConfig
    const inFlight = makeInFlight(yield* Effect.runtime<McpServices>())
    yield* Effect.addFinalizer(() => Effect.promise(() => inFlight.idle()))
    return deferredHandler(config, () => Promise.resolve(inFlight))
  })
)

/**
 * /mcp for a program that does not otherwise run the safety chain (the ingest): the limiter, idempotency, breaker
 * and CRM client (`load`) are checked and built on the first /mcp request, in this layer's scope, so the ingest
 * starts without CRM settings and never loads a CRM client nobody asked for. Until they build, /mcp answers 503.
 */
export const layerDeferred = (
  load: () => Promise<Layer.Layer<ChainServices, unknown, AppConfig | Metrics>>
): Layer.Layer<McpEndpoint, never, Exclude<McpServices, ChainServices> | Metrics> =>
  Layer.scoped(
    McpEndpoint,
    Effect.gen(function* () {
      const config = yield* AppConfig
      const runtime = yield* Effect.runtime<Exclude<McpServices, ChainServices> | Metrics>()
      const scope = yield* Effect.scope
      let inFlight: InFlight | undefined
      yield* Effect.addFinalizer(() => Effect.promise(() => inFlight?.idle() ?? Promise.resolve()))
      const build = Effect.gen(function* () {
        const chain = yield* Effect.promise(load)
        const child = yield* Scope.fork(scope, ExecutionStrategy.sequential)
        const context = yield* Layer.buildWithScope(
          Layer.provide(chain, Layer.succeedContext(runtime.context)),
          child
        ).pipe(Effect.onError((cause) => Scope.close(child, Exit.failCause(cause))))
        inFlight = makeInFlight(Runtime.updateContext(runtime, Context.merge(context)))
        return inFlight
      })
      // rejects with the error itself (not a FiberFailure), so a configuration error's key list reaches the answer
      return deferredHandler(config, () =>
        Runtime.runPromise(runtime)(Effect.either(build)).then(Either.getOrThrowWith((error) => error))
      )
    })
  )
