import type * as HttpApp from "@effect/platform/HttpApp"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import { redactText } from "../domain/redact.js"
import { isBuiltInTracer } from "../domain/spans.js"
import { parentSpan, type TraceContext, withParentTrace } from "../domain/traceContext.js"
import { unsniffedUncachedHeaders } from "./answerHeaders.js"
import type { IntakeRequest } from "./body.js"
import { pathOf } from "./paths.js"
import { problem } from "./problem.js"

// What both servings of the API share around a handler: the server span, the client's trace context, and the
// answer to a failure no handler turned into a response. The HttpApi serving gets its span from `tracedRequests`
// (the platform's own tracer is disabled: it records every request header but four, the full URL and the query) and
// installs `problemMiddleware`; the ingest's fast path (./intake.ts) frames each intake request with `framed`, which
// makes the same span (name, kind, method, path, status) for a route it knows.

/** An issue of the platform's decode error (HttpApiError.Issue): where, and what. */
interface Issue {
  readonly path: ReadonlyArray<PropertyKey>
  readonly message: string
}

/**
 * The answer to a request that ended in a failure no handler turned into a response: 404 for an unknown route, 400
 * for a request the framework could not decode or read, and a bare 500 (logged, never echoing internals) for
 * anything unexpected.
 */
export const causeResponse = (cause: Cause.Cause<unknown>): Effect.Effect<HttpServerResponse.HttpServerResponse> =>
  Effect.gen(function* () {
    // the failure may be combined with others (Sequential), so look inside the cause rather than at its top
    const failure = Option.getOrUndefined(Cause.failureOption(cause)) as { readonly _tag?: string } | undefined
    if (failure?._tag === "RouteNotFound") return problem(404, "No such route")
    if (failure?._tag === "HttpApiDecodeError") {
      // the schema's own issues, each with where it is (a path parameter, a query parameter: `limit`)
      const issues = (failure as { readonly issues?: ReadonlyArray<Issue> }).issues ?? []
      const errors = issues.map((issue) => ({
        field: issue.path.length === 0 ? "(root)" : issue.path.map(String).join("."),
        message: issue.message
      }))
      const named = errors.map((error) => `${error.field}: ${error.message}`).join("; ")
      return problem(400, `The request could not be decoded${named === "" ? "" : `: ${named}`}`, { errors })
    }
    if (failure?._tag === "RequestError") return problem(400, "The request could not be read")
    // The client went away (or the server is stopping): nobody reads this answer, and it is not an error.
    if (Cause.isInterruptedOnly(cause)) return problem(503, "The request was interrupted")
    yield* Effect.logError("unhandled request failure", cause)
    return problem(500, "Internal error; the request was not processed")
  })

/**
 * Turns what the router could not handle into problem+json (see `causeResponse`). Installed as an HttpApi
 * middleware: as `serve`'s middleware it would run after the error response was sent.
 */
export const problemMiddleware = (app: HttpApp.Default): HttpApp.Default =>
  app.pipe(Effect.catchAllCause(causeResponse))

/**
 * The methods `routes` declare for a path (`/leads/:id` patterns matched segment by segment), in their order; none
 * when no route has that path.
 */
export const methodsFor = (routes: ReadonlyArray<Route>) => {
  const patterns = routes.map((route) => ({
    method: route.method,
    segments: route.path.split("/")
  }))
  return (path: string): ReadonlyArray<string> => {
    const segments = path.split("/")
    const methods = new Set<string>()
    for (const pattern of patterns) {
      if (pattern.segments.length !== segments.length) continue
      const matches = pattern.segments.every(
        (segment, i) => segment === segments[i] || (segment.startsWith(":") && segments[i] !== "")
      )
      if (matches) methods.add(pattern.method)
    }
    return [...methods]
  }
}

/** The 405 for `method` on a path that takes `methods` (with them in Allow); undefined when it is not one. */
export const wrongMethod = (method: string, path: string, methods: ReadonlyArray<string>) =>
  methods.length === 0 || methods.includes(method)
    ? undefined
    : problem(405, `${method} is not a method of ${path}: it takes ${methods.join(", ")}`, {
        headers: { allow: methods.join(", ") }
      })

/**
 * `problemMiddleware`, and a request whose path a route declares but not with its method: 405 with the methods it
 * does take in `Allow`, rather than 404 "No such route" for a path that exists. `routes` is read once, on the first
 * request no route takes.
 */
export const problemMiddlewareFor =
  (routes: () => ReadonlyArray<Route>) =>
  (app: HttpApp.Default): HttpApp.Default => {
    let known: ((path: string) => ReadonlyArray<string>) | undefined
    const allowed = (path: string) => {
      known ??= methodsFor(routes())
      return known(path)
    }
    return app.pipe(
      Effect.catchAllCause((cause) => {
        const failure = Option.getOrUndefined(Cause.failureOption(cause)) as { readonly _tag?: string } | undefined
        if (failure?._tag !== "RouteNotFound") return causeResponse(cause)
        return Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) => {
          const path = pathOf(request.url)
          const wrong = wrongMethod(request.method, path, allowed(path))
          return wrong === undefined ? causeResponse(cause) : Effect.succeed(wrong)
        })
      }),
      Effect.map(unsniffedUncached)
    )
  }

/**
 * An answer of the API as no browser or shared cache may take it otherwise: its content type as declared (a problem
 * quoting a client's input is never sniffed as HTML), and kept by no cache (a lead's view holds personal data; a
 * status read is stale at once) — unless it says how it is cached itself (the pages and their assets). Every way the
 * API is served gives it: the HttpApi (`problemMiddlewareFor`), the routes the ingest's server answers itself
 * (`framed`) and that server's own answers, the Lambda's answers before routing. An answer that has both already
 * (every problem, a lead's view, the ops answers: `unsniffedUncachedHeaders`) is returned as it is, uncopied.
 */
export const unsniffedUncached = (
  response: HttpServerResponse.HttpServerResponse
): HttpServerResponse.HttpServerResponse =>
  response.headers["x-content-type-options"] !== undefined && response.headers["cache-control"] !== undefined
    ? response
    : HttpServerResponse.setHeaders(response, {
        "x-content-type-options": unsniffedUncachedHeaders["x-content-type-options"],
        "cache-control": response.headers["cache-control"] ?? unsniffedUncachedHeaders["cache-control"]
      })

/** A route as the HttpApi declares it (an endpoint's method and path). */
export interface Route {
  readonly method: string
  readonly path: string
}

/**
 * A handler served outside the platform's router, framed as the platform frames the routes it serves: a server span
 * named and attributed as its tracer's (`http.server POST`, method, path, response status), a child of the
 * client's trace (W3C traceparent or B3), every failure answered by `causeResponse`, and every answer uncached and
 * unsniffed, as the HttpApi's are: the routes' answers are built so (`unsniffedUncachedHeaders`), and
 * `unsniffedUncached` adds the headers only to one that lacks them.
 */
export const framed = <R>(
  route: Route,
  handler: (request: IntakeRequest) => Effect.Effect<HttpServerResponse.HttpServerResponse, never, R>
) => {
  const name = `http.server ${route.method}`
  const options = {
    kind: "server",
    captureStackTrace: false,
    attributes: { "http.request.method": route.method, "url.path": route.path }
  } as const
  return (request: IntakeRequest): Effect.Effect<HttpServerResponse.HttpServerResponse, never, R> =>
    Effect.tracerWith((tracer) =>
      // no span (nor its status attribute) under the built-in tracer, which exports nothing (see domain/spans.ts)
      isBuiltInTracer(tracer)
        ? handler(request)
        : handler(request).pipe(
            Effect.tap((response) => Effect.annotateCurrentSpan("http.response.status_code", response.status)),
            Effect.withSpan(name, options)
          )
    ).pipe(
      // the parser reads only the trace headers, strings on every platform (Node joins a repeated one with ", ")
      withParentTrace(request.headers as TraceContext),
      Effect.catchAllCause(causeResponse),
      Effect.map(unsniffedUncached)
    )
}

/** Headers a server span records (`http.request.header.<name>`): never a secret nor a person, unlike the rest. */
const spanRequestHeaders = ["content-type", "content-length", "user-agent", "accept"] as const
const spanResponseHeaders = ["content-type", "content-length"] as const

/** A request's path as a span records it: decoded, with emails and phones masked (`/leads/***@acme.com`). */
const spanPath = (url: string): string => {
  const path = pathOf(url)
  let decoded = path
  try {
    decoded = decodeURIComponent(path)
  } catch {
    // a malformed escape: the path as sent
  }
  // segment by segment: a path's "/" may be part of an address's local part, and the route's segments stay
  return decoded.split("/").map(redactText).join("/")
}

/**
 * The server span of a request the HttpApi serves, in place of the platform's tracer (disabled where the API is
 * served: HttpMiddleware.currentTracerDisabledWhen), which records every request and response header but
 * authorization, cookie, set-cookie and x-api-key (a webhook's token, a signature, Proxy-Authorization), the full
 * URL and its query (`?api_key=`, `?email=`). This one records what `framed` does and the platform's useful rest:
 * `http.server <METHOD>`, kind server, a child of the client's trace (W3C traceparent or B3; not the all-zero ids),
 * the method, the path (masked), a few harmless headers and the response's status. No span under the built-in
 * tracer, which exports nothing; the client's trace context still frames the request (log lines carry it).
 */
export const tracedRequests = (app: HttpApp.Default): HttpApp.Default =>
  Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) =>
    Effect.tracerWith((tracer) => {
      const headers = request.headers as TraceContext
      if (isBuiltInTracer(tracer)) return withParentTrace(headers)(app)
      return Effect.useSpan(
        `http.server ${request.method}`,
        { kind: "server", captureStackTrace: false, parent: Option.getOrUndefined(parentSpan(headers)) },
        (span) => {
          span.attribute("http.request.method", request.method)
          span.attribute("url.path", spanPath(request.url))
          for (const name of spanRequestHeaders) {
            const value = request.headers[name]
            if (value !== undefined) span.attribute(`http.request.header.${name}`, value)
          }
          return Effect.onExit(Effect.withParentSpan(app, span), (exit) =>
            Effect.sync(() => {
              if (Exit.isSuccess(exit)) {
                span.attribute("http.response.status_code", exit.value.status)
                for (const name of spanResponseHeaders) {
                  const value = exit.value.headers[name]
                  if (value !== undefined) span.attribute(`http.response.header.${name}`, value)
                }
              } else if (!Cause.isInterruptedOnly(exit.cause)) {
                span.attribute("http.response.status_code", 500)
              }
            })
          )
        }
      )
    })
  )
