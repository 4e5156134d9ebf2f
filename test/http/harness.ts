import { createServer, type IncomingHttpHeaders, type IncomingMessage, request as httpRequest } from "node:http"
import { expect } from "@effect/vitest"
import * as HttpServer from "@effect/platform/HttpServer"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import * as IngestServer from "../../src/http/intake.js"
import { HttpApiServed } from "../../src/http/server.js"
import { LeadStore } from "../../services/LeadStore.js"

/** The ingest API as HttpServerLive serves it (POST /leads direct), on a free port, with the HttpServer in the output. */
export const ingestServed = HttpApiServed.pipe(Layer.provideMerge(IngestServer.layer({ port: 0, host: "127.0.0.1" })))

/** The HttpApi alone on the platform's Node server, as a library user embeds it: every route through the router. */
export const servedApi = HttpApiServed.pipe(
  Layer.provideMerge(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" }))
)

/** Both ways the API is served, for suites that must hold on each. */
export const servings = [
  ["ingest server", ingestServed],
  ["HttpApi alone", servedApi]
] as const

/** What a client sees of one response. */
export interface Reply {
  readonly status: number
  readonly headers: IncomingHttpHeaders
  readonly text: string
  /** The body parsed as JSON, or undefined when it is not JSON (any: tests reach into it freely). */
  // biome-ignore lint/suspicious/noExplicitAny: a parsed response body, asserted on field by field
  readonly json: any
}

export interface RequestOptions {
  readonly headers?: Record<string, string>
  readonly body?: string | Buffer
  /** Send the body in chunks with Transfer-Encoding: chunked (no Content-Length). */
  readonly chunked?: boolean
}

/** A response read to its end: status, headers, text and the text parsed as JSON (undefined when it is not). */
const readReply = (res: IncomingMessage, done: (reply: Reply) => void, failed: (error: Error) => void) => {
  const chunks: Array<Buffer> = []
  res.on("data", (chunk: Buffer) => chunks.push(chunk))
  res.on("error", failed)
  res.on("end", () => {
    const text = Buffer.concat(chunks).toString("utf8")
    let json: unknown
    try {
      json = JSON.parse(text)
    } catch {
      json = undefined
    }
    done({ status: res.statusCode ?? 0, headers: res.headers, text, json })
  })
}

/** One raw HTTP/1.1 request with node:http: full control of headers, Content-Length and chunking. */
export const send = (base: string, method: string, path: string, options: RequestOptions = {}) =>
  Effect.async<Reply, Error>((resume) => {
    const body = options.body === undefined ? undefined : Buffer.from(options.body)
    const headers: Record<string, string> = { connection: "close", ...options.headers }
    if (body !== undefined && !options.chunked) headers["content-length"] = String(body.length)
    const req = httpRequest(new URL(path, base), { method, headers }, (res) =>
      readReply(
        res,
        (reply) => resume(Effect.succeed(reply)),
        (error) => resume(Effect.fail(error))
      )
    )
    // after a 413 the server may close while we are still writing; the response already arrived, so ignore it
    let answered = false
    req.on("response", () => {
      answered = true
    })
    req.on("error", (error) => {
      if (!answered) resume(Effect.fail(error))
    })
    if (body !== undefined && options.chunked) {
      const size = 8 * 1024
      for (let offset = 0; offset < body.length; offset += size) req.write(body.subarray(offset, offset + size))
    } else if (body !== undefined) {
      req.write(body)
    }
    req.end()
  })

/** A reply to a request sent with `Expect: 100-continue`, and whether the server said 100 Continue first. */
export interface ContinueReply extends Reply {
  readonly continued: boolean
}

/**
 * One request as a careful client sends a body it would rather not send for nothing: headers with `Expect:
 * 100-continue` and the body's Content-Length, then the body only once the server answers 100 Continue. A server
 * that answers for good first never gets the body.
 */
export const sendExpectingContinue = (
  base: string,
  method: string,
  path: string,
  options: {
    readonly headers?: Record<string, string>
    readonly body: string
    readonly contentLength?: number | undefined
  }
) =>
  Effect.async<ContinueReply, Error>((resume) => {
    const body = Buffer.from(options.body)
    const headers = {
      ...options.headers,
      expect: "100-continue",
      "content-length": String(options.contentLength ?? body.length)
    }
    const req = httpRequest(new URL(path, base), { method, headers, agent: false })
    let continued = false
    req.on("continue", () => {
      continued = true
      req.end(body)
    })
    req.on("response", (res) =>
      readReply(
        res,
        (reply) => {
          req.destroy()
          resume(Effect.succeed({ ...reply, continued }))
        },
        (error) => resume(Effect.fail(error))
      )
    )
    req.on("error", (error) => resume(Effect.fail(error)))
    req.flushHeaders()
  })

/** A client bound to the server under test. */
export interface Client {
  readonly base: string
  readonly send: (method: string, path: string, options?: RequestOptions) => Effect.Effect<Reply, Error>
  readonly get: (path: string, headers?: Record<string, string>) => Effect.Effect<Reply, Error>
  /** POST a value as JSON (application/json). */
  readonly postJson: (path: string, value: unknown, headers?: Record<string, string>) => Effect.Effect<Reply, Error>
}

/** A client for the server bound in the current context. */
export const client: Effect.Effect<Client, never, HttpServer.HttpServer> = Effect.map(
  HttpServer.HttpServer,
  (server) => {
    if (server.address._tag !== "TcpAddress") throw new Error("expected a TCP address")
    const base = `http://${server.address.hostname}:${server.address.port}`
    const call = (method: string, path: string, options?: RequestOptions) => send(base, method, path, options)
    return {
      base,
      send: call,
      get: (path, headers) => call("GET", path, headers ? { headers } : {}),
      postJson: (path, value, headers = {}) =>
        call("POST", path, {
          headers: { "content-type": "application/json", ...headers },
          body: JSON.stringify(value)
        })
    }
  }
)

/**
 * Serve the API over `env` (memoryEnv or a variant) for the duration of `body`. The body may use every service of
 * `env` too, e.g. LeadStore to check that nothing was written.
 */
export const withApi = <A, E, ROut, E2>(
  env: Layer.Layer<ROut, E2, never>,
  body: (api: Client) => Effect.Effect<A, E, ROut | HttpServer.HttpServer | Scope.Scope>,
  served: (typeof servings)[number][1] = ingestServed
): Effect.Effect<A, E | E2 | Error> =>
  // env must provide what the API needs (AppConfig, LeadStore, ...); memoryEnv and its variants do
  Effect.flatMap(client, body).pipe(
    Effect.provide((served as typeof servedApi).pipe(Layer.provideMerge(env))),
    Effect.scoped
  ) as Effect.Effect<A, E | E2 | Error>

/** Leads the store holds, whatever their state. */
export const storedLeads = Effect.flatMap(LeadStore, (store) =>
  Effect.map(store.countByStatus, (counts) => Object.values(counts).reduce((a, b) => a + b, 0))
)

/** Asserts an RFC 9457 problem+json response with this status. */
export const expectProblem = (reply: Reply, status: number) => {
  expect(reply.status, reply.text).toBe(status)
  expect(reply.headers["content-type"]).toMatch(/^application\/problem\+json/)
  expect(reply.json).toMatchObject({
    type: expect.stringContaining(String(status)),
    title: expect.any(String),
    status,
    detail: expect.any(String)
  })
}

/** The fields a 400 problem names in `errors`. */
export const problemFields = (reply: Reply): ReadonlyArray<string> =>
  (reply.json?.errors ?? []).map((error: { readonly field: string }) => error.field)
