import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpApp from "@effect/platform/HttpApp"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { checkIngestConfig } from "../../layers/ingestPreset.js"
import * as Tracing from "../../layers/observability/Tracing.js"
import { HttpApiWeb } from "../http/server.js"
import { IngestServicesLive } from "../programs/ingestServices.js"
import type { HttpApiEvent, HttpApiResult, LambdaContext } from "./events.js"
import { container } from "./runtime.js"

/** The ingest API over the stores and the queue the configuration selects, the settings checked first. */
const IngestLambdaLive = Layer.mergeAll(HttpApiWeb, HttpApiBuilder.Router.Live, HttpApiBuilder.Middleware.layer).pipe(
  Layer.provide(Tracing.layerConfig("revenueflow-ingest")),
  Layer.provideMerge(IngestServicesLive),
  Layer.provide(Layer.effectDiscard(checkIngestConfig))
)

const ingest = container(() => IngestLambdaLive)

let webHandler: Promise<(request: Request) => Promise<Response>> | undefined

/** The platform's web handler over the container's runtime: made once, like the runtime. */
const handlerOnce = () => {
  webHandler ??= ingest
    .run(
      Effect.gen(function* () {
        const app = yield* HttpApiBuilder.httpApp
        const runtime = yield* Effect.runtime<Layer.Layer.Success<typeof IngestLambdaLive>>()
        return HttpApp.toWebHandlerRuntime(runtime)(app)
      })
    )
    .catch((error: unknown) => {
      webHandler = undefined
      throw error
    })
  return webHandler
}

const beyondLatin1 = (value: string) => {
  for (let i = 0; i < value.length; i++) if (value.charCodeAt(i) > 0xff) return true
  return false
}

/** The web Request an HTTP API (payload 2.0) or Function URL event describes. */
export const toRequest = (event: HttpApiEvent): Request => {
  const headers = new Headers()
  for (const [name, value] of Object.entries(event.headers ?? {})) {
    // a header is bytes: text beyond Latin-1 arrives as its UTF-8 bytes, as node:http would see it
    if (value !== undefined) headers.set(name, beyondLatin1(value) ? Buffer.from(value).toString("latin1") : value)
  }
  if (event.cookies !== undefined && event.cookies.length > 0) headers.set("cookie", event.cookies.join("; "))
  // the URL the client called: HubSpot signs it (signature v3), so host and protocol are the public ones
  const host = headers.get("host") ?? event.requestContext.domainName
  if (!headers.has("host")) headers.set("host", host)
  const proto = headers.get("x-forwarded-proto")?.split(",")[0]?.trim() ?? "https"
  const query = event.rawQueryString === "" ? "" : `?${event.rawQueryString}`
  const method = event.requestContext.http.method.toUpperCase()
  const hasBody = event.body !== undefined && method !== "GET" && method !== "HEAD"
  return new Request(`${proto}://${host}${event.rawPath}${query}`, {
    method,
    headers,
    ...(hasBody
      ? {
          body: event.isBase64Encoded ? Buffer.from(event.body ?? "", "base64") : Buffer.from(event.body ?? "", "utf8")
        }
      : {})
  })
}

/** Text is sent as is, anything else base64-encoded. */
const isText = (contentType: string | null) =>
  contentType === null ||
  /^(text\/|application\/([a-z0-9.+-]*\+)?(json|javascript|xml|x-www-form-urlencoded)\b)/i.test(contentType)

/** The proxy result (payload 2.0) of a web Response: status, headers (Set-Cookie as `cookies`), body. */
export const toResult = async (response: Response): Promise<HttpApiResult> => {
  const headers: Record<string, string> = {}
  response.headers.forEach((value, name) => {
    if (name !== "set-cookie") headers[name] = value
  })
  const cookies = response.headers.getSetCookie()
  const bytes = Buffer.from(await response.arrayBuffer())
  const text = isText(response.headers.get("content-type"))
  return {
    statusCode: response.status,
    headers,
    ...(cookies.length > 0 ? { cookies } : {}),
    body: text ? bytes.toString("utf8") : bytes.toString("base64"),
    isBase64Encoded: !text
  }
}

const unavailable: HttpApiResult = {
  statusCode: 503,
  headers: { "content-type": "application/problem+json", "retry-after": "5" },
  body: JSON.stringify({
    type: "https://revenueflow.dev/problems/503",
    title: "Service Unavailable",
    status: 503,
    detail: "The ingest cannot start (see its logs); try again shortly"
  }),
  isBase64Encoded: false
}

/**
 * API Gateway HTTP API (payload format 2.0) and Lambda Function URL events: the ingest's routes and answers
 * (POST /leads, /webhooks/marketo, /webhooks/hubspot, GET /leads/:id, /healthz, /readyz, /openapi.json, ...).
 * The environment (pool, queue client) is built on the first invocation and reused by the container.
 */
export const ingestHandler = async (event: HttpApiEvent, _context?: LambdaContext): Promise<HttpApiResult> => {
  let handle: (request: Request) => Promise<Response>
  try {
    handle = await handlerOnce()
  } catch (error) {
    console.error(
      JSON.stringify({ level: "ERROR", message: "ingest environment failed to start", error: String(error) })
    )
    return unavailable
  }
  let request: Request
  try {
    request = toRequest(event)
  } catch (error) {
    return badRequest(error instanceof Error ? error.message : String(error))
  }
  return toResult(await handle(request))
}

/** A request no HTTP server would have taken (a header value with a control character, a host that is no host). */
const badRequest = (reason: string): HttpApiResult => ({
  statusCode: 400,
  headers: { "content-type": "application/problem+json" },
  body: JSON.stringify({
    type: "https://revenueflow.dev/problems/400",
    title: "Bad Request",
    status: 400,
    detail: `The request cannot be read: ${reason}`
  }),
  isBase64Encoded: false
})

/** Releases the ingest's environment (tests). */
export const disposeIngest = async () => {
  webHandler = undefined
  await ingest.dispose()
}

/** The bundle's entry (dist/lambda/ingest/index.mjs): handler "index.handler". */
export const handler = ingestHandler
