import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpApp from "@effect/platform/HttpApp"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { checkIngestConfig } from "../../layers/ingestPreset.js"
import * as Tracing from "../../layers/observability/Tracing.js"
import { HttpApiWeb } from "../http/server.js"
import { IngestServicesLive } from "../programs/ingestServices.js"
import { badRequest, beforeRouting, unavailable, unsupportedSource } from "./earlyAnswers.js"
import type { HttpApiEvent, HttpApiResult, LambdaContext } from "./events.js"
import { logError } from "./log.js"
import { container } from "./runtime.js"
import { notHttpApiEvent, routedPath, stagePrefix } from "./shapes.js"

/** The ingest API over the stores and the queue the configuration selects, the settings checked first. */
const IngestLambdaLive = Layer.mergeAll(HttpApiWeb, HttpApiBuilder.Router.Live, HttpApiBuilder.Middleware.layer).pipe(
  Layer.provide(Tracing.layerConfig("revenueflow-ingest")),
  Layer.provideMerge(IngestServicesLive),
  Layer.provide(Layer.effectDiscard(checkIngestConfig))
)

const ingest = container("ingest", () => IngestLambdaLive)

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

/** Why an event's request cannot be made a web Request, in words of our own (the platform's error text is not shown). */
export class UnreadableRequest extends Error {}

const attempt = <A>(make: () => A, reason: string): A => {
  try {
    return make()
  } catch {
    throw new UnreadableRequest(reason)
  }
}

/**
 * The web Request an HTTP API (payload 2.0) or Function URL event describes (checked first: see `notHttpApiEvent`).
 * Throws UnreadableRequest for a request no HTTP server would take.
 */
export const toRequest = (event: HttpApiEvent): Request => {
  const headers = new Headers()
  for (const [name, value] of Object.entries(event.headers ?? {})) {
    // a null value (none from AWS; a hand-made event) is no header
    if (typeof value !== "string") continue
    // a header is bytes: text beyond Latin-1 arrives as its UTF-8 bytes, as node:http would see it
    const bytes = beyondLatin1(value) ? Buffer.from(value).toString("latin1") : value
    attempt(() => headers.set(name, bytes), "a header's name or value holds a character HTTP does not allow")
  }
  if (event.cookies != null && event.cookies.length > 0) headers.set("cookie", event.cookies.join("; "))
  // a named stage prefixes the path the client called: the API routes what follows it, and the prefix is handed on
  // the way a proxy that strips one does (X-Forwarded-Prefix), for the URL HubSpot signed; never the client's own
  const prefix = stagePrefix(event)
  headers.delete("x-forwarded-prefix")
  if (prefix !== "") headers.set("x-forwarded-prefix", prefix)
  // the URL the client called: HubSpot signs it (signature v3), so host and protocol are the public ones
  const host = headers.get("host") ?? event.requestContext.domainName
  if (!headers.has("host")) headers.set("host", host)
  const proto = headers.get("x-forwarded-proto")?.split(",")[0]?.trim() ?? "https"
  const rawQuery = event.rawQueryString ?? ""
  const query = rawQuery === "" ? "" : `?${rawQuery}`
  const method = event.requestContext.http.method.toUpperCase()
  // API Gateway leaves `body` out when the request has none: an empty body, as node:http reads it (GET and HEAD have
  // none: a web Request refuses one)
  const body =
    method === "GET" || method === "HEAD"
      ? undefined
      : typeof event.body !== "string"
        ? Buffer.alloc(0)
        : Buffer.from(event.body, event.isBase64Encoded === true ? "base64" : "utf8")
  return attempt(
    () => new Request(`${proto}://${host}${routedPath(event)}${query}`, { method, headers, ...(body ? { body } : {}) }),
    "its method, host or path is not valid HTTP"
  )
}

/** Text is sent as is, anything else base64-encoded. */
const isText = (contentType: string | null) =>
  contentType === null ||
  /^(text\/|application\/([a-z0-9.+-]*\+)?(json|javascript|xml|x-www-form-urlencoded)\b)/i.test(contentType)

/**
 * The proxy result (payload 2.0) of a web Response: status, headers (Set-Cookie as `cookies`), body. A Location on
 * this host (`/leads/…`) gets the named stage's prefix back, so the client can follow it.
 */
export const toResult = async (response: Response, prefix = ""): Promise<HttpApiResult> => {
  const headers: Record<string, string> = {}
  response.headers.forEach((value, name) => {
    if (name === "location" && prefix !== "" && value.startsWith("/") && !value.startsWith("//")) {
      headers[name] = `${prefix}${value}`
    } else if (name !== "set-cookie") headers[name] = value
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

/** An event of records (SQS, SNS, S3, Kinesis, DynamoDB streams). */
const hasRecords = (event: unknown) =>
  typeof event === "object" && event !== null && Array.isArray((event as { Records?: unknown }).Records)

/**
 * API Gateway HTTP API (payload format 2.0) and Lambda Function URL events: the ingest's routes and answers
 * (POST /leads, /webhooks/marketo, /webhooks/hubspot, GET /leads/:id, /healthz, /readyz, /openapi.json, ...).
 * The environment (pool, queue client) is built on the first invocation and reused by the container.
 *
 * Any other event (a REST API v1 or ALB event, `{}`) means the function is wired to a source it does not take: it is
 * logged, naming the event's shape, and answered 500 problem+json without reading it further. An event of records (an
 * SQS queue wired to the ingest by mistake) is refused with a thrown error instead: an answer would acknowledge them.
 */
export const ingestHandler = async (event: HttpApiEvent, _context?: LambdaContext): Promise<HttpApiResult> => {
  const unsupported = notHttpApiEvent(event as unknown)
  if (unsupported !== undefined) {
    if (hasRecords(event)) {
      // a queue or stream source takes any answer without batchItemFailures for "every record done" and deletes
      // them (SQS) or moves past them: only an error leaves its records where they are
      logError("ingest invoked with a batch of records: refused, nothing acknowledged", { received: unsupported })
      throw new Error(`ingestHandler takes HTTP API and function URL events; it was invoked with ${unsupported}`)
    }
    logError("ingest invoked with an unsupported event: answered 500", { received: unsupported })
    return unsupportedSource
  }
  const early = beforeRouting(event)
  if (early !== undefined) return toResult(HttpServerResponse.toWeb(early))
  let handle: (request: Request) => Promise<Response>
  try {
    handle = await handlerOnce()
  } catch {
    // logged, with its cause, by the container
    return unavailable
  }
  let request: Request
  try {
    request = toRequest(event)
  } catch (error) {
    return badRequest(error instanceof UnreadableRequest ? error.message : "it is not valid HTTP")
  }
  const result = await toResult(await handle(request), stagePrefix(event))
  // the container is frozen once this returns: the request's spans are exported now
  await Tracing.flushSpans()
  return result
}

/** Releases the ingest's environment (tests). */
export const disposeIngest = async () => {
  webHandler = undefined
  await ingest.dispose()
}

/** The bundle's entry (dist/lambda/ingest/index.mjs): handler "index.handler". */
export const handler = ingestHandler
