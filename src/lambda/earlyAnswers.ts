import type * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { declaredRoutes } from "../http/api.js"
import { problem } from "../http/problem.js"
import { methodsFor, unsniffedUncached, wrongMethod } from "../http/serving.js"
import type { HttpApiEvent, HttpApiResult } from "./events.js"
import { routedPath } from "./shapes.js"

// The answers the ingest handler gives before a request reaches the API: those node:http gives the ingest server
// before its routes run (src/http/nodeServer.ts), and those only an event can call for.

// uncached and unsniffed, as every answer of the API (see unsniffedUncached)
const problemResult = (status: number, title: string, detail: string, headers: Record<string, string> = {}) => ({
  statusCode: status,
  headers: {
    "content-type": "application/problem+json",
    "cache-control": "no-store",
    "x-content-type-options": "nosniff",
    ...headers
  },
  body: JSON.stringify({ type: `https://revenueflow.dev/problems/${status}`, title, status, detail }),
  isBase64Encoded: false
})

/** The function is wired to something other than an HTTP API (payload 2.0) or a function URL: the operator's to fix. */
export const unsupportedSource: HttpApiResult = problemResult(
  500,
  "Internal Server Error",
  "The function is wired to an unsupported event source: it takes API Gateway HTTP API (payload format 2.0) and " +
    "Lambda function URL events (see its logs)"
)

/** The environment could not be built (logged by the container); the next invocation builds it again. */
export const unavailable: HttpApiResult = problemResult(
  503,
  "Service Unavailable",
  "The ingest cannot start (see its logs); try again shortly",
  { "retry-after": "5" }
)

/** A request no HTTP server would have taken (a header value with a control character, a host that is no host). */
export const badRequest = (reason: string): HttpApiResult =>
  problemResult(400, "Bad Request", `The request cannot be read: ${reason}`)

/** node:http's test for a 100-continue expectation (lib/_http_server.js). */
const CONTINUE = /(?:^|\W)100-continue(?:$|\W)/i

const headerOf = (event: HttpApiEvent, name: string) => {
  for (const [key, value] of Object.entries(event.headers ?? {})) {
    if (key.toLowerCase() === name && typeof value === "string") return value
  }
  return undefined
}

/** Methods the Fetch standard forbids: a web Request cannot carry them, so the API never sees them. */
const FORBIDDEN_METHODS = new Set(["CONNECT", "TRACE", "TRACK"])

/** The methods of each path the API declares (as the served API names them in its 405 answers), read on first use. */
let declaredMethods: ((path: string) => ReadonlyArray<string>) | undefined
const methodsOf = (path: string) => {
  if (declaredMethods === undefined) {
    declaredMethods = methodsFor(declaredRoutes())
  }
  return declaredMethods(path)
}

/**
 * What the ingest server answers before any route runs, for the request `event` carries; undefined when the request
 * goes on to the API:
 * - an expectation other than 100-continue: 417, as node:http answers it (API Gateway has buffered the whole request
 *   before invoking the function, so a 100-continue needs nothing more and the request goes on);
 * - a method a web Request cannot carry (TRACE...): what the API answers any method it does not route — 405 naming
 *   the methods of a path it has (Allow), else 404.
 */
export const beforeRouting = (event: HttpApiEvent): HttpServerResponse.HttpServerResponse | undefined => {
  const expectation = headerOf(event, "expect")
  if (expectation !== undefined && !CONTINUE.test(expectation)) {
    const shown = expectation.slice(0, 64)
    return unsniffedUncached(problem(417, `Expect: ${JSON.stringify(shown)} is not supported; only 100-continue is`))
  }
  const method = event.requestContext.http.method.toUpperCase()
  if (!FORBIDDEN_METHODS.has(method)) return undefined
  const path = routedPath(event)
  return unsniffedUncached(wrongMethod(method, path, methodsOf(path)) ?? problem(404, "No such route"))
}
