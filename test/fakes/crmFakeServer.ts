import { createServer, type IncomingHttpHeaders, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"

/** One request as the fake saw it. */
export interface RecordedRequest {
  readonly method: string
  /** Path without the query string. */
  readonly path: string
  readonly query: URLSearchParams
  readonly headers: IncomingHttpHeaders
  readonly body: string
  /** The body parsed as JSON, when it is JSON. */
  readonly json: unknown
}

/** A canned answer: status, body (objects are sent as JSON) and extra headers. */
export interface Reply {
  readonly status: number
  readonly body?: unknown
  readonly headers?: Readonly<Record<string, string>>
}

/** What to do instead of the normal answer: reply with this, or never answer ("hang"). */
export type Injection = Reply | "hang"

/** Controls shared by the CRM fakes. */
export interface FakeControls {
  readonly url: string
  /** Every request received, in order (injected failures included). */
  readonly requests: Array<RecordedRequest>
  /** Answer the next `times` requests accepted by `when` (default: any) with `injection`. */
  readonly failNext: (injection: Injection, times?: number, when?: (req: RecordedRequest) => boolean) => void
  /** Stops the server, cutting any hanging connection. */
  readonly close: () => Promise<void>
}

const parseJson = (text: string): unknown => {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}

/** Writes a reply; a string body is sent as-is with the content type given in headers (default text/plain). */
export const send = (res: ServerResponse, reply: Reply, extraHeaders: Record<string, string> = {}) => {
  const isText = typeof reply.body === "string"
  const payload = reply.body === undefined ? "" : isText ? (reply.body as string) : JSON.stringify(reply.body)
  const headers: Record<string, string> = { ...extraHeaders, ...reply.headers }
  if (reply.body !== undefined && !Object.keys(headers).some((h) => h.toLowerCase() === "content-type")) {
    headers["content-type"] = isText ? "text/plain" : "application/json;charset=UTF-8"
  }
  res.writeHead(reply.status, headers)
  res.end(payload)
}

/** Starts an HTTP server on a free port; `route` answers every request that no injection claimed. */
export const startFakeServer = async (
  route: (req: RecordedRequest, baseUrl: string) => Reply,
  commonHeaders: (req: RecordedRequest) => Record<string, string> = () => ({})
): Promise<FakeControls> => {
  const requests: Array<RecordedRequest> = []
  const injections: Array<{ injection: Injection; when: (req: RecordedRequest) => boolean }> = []
  let baseUrl = ""

  const server = createServer((req, res) => {
    const chunks: Array<Buffer> = []
    req.on("data", (chunk: Buffer) => chunks.push(chunk))
    req.on("end", () => {
      const url = new URL(req.url ?? "/", "http://fake")
      const body = Buffer.concat(chunks).toString("utf8")
      const recorded: RecordedRequest = {
        method: req.method ?? "GET",
        path: decodeURIComponent(url.pathname),
        query: url.searchParams,
        headers: req.headers,
        body,
        json: parseJson(body)
      }
      requests.push(recorded)
      const index = injections.findIndex((i) => i.when(recorded))
      if (index >= 0) {
        const injection = (injections.splice(index, 1)[0] as { injection: Injection }).injection
        if (injection === "hang") return
        return send(res, injection, commonHeaders(recorded))
      }
      try {
        send(res, route(recorded, baseUrl), commonHeaders(recorded))
      } catch (error) {
        send(res, { status: 500, body: { message: `fake crashed: ${String(error)}` } })
      }
    })
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`

  return {
    url: baseUrl,
    requests,
    failNext: (injection, times = 1, when = () => true) => {
      for (let i = 0; i < times; i++) injections.push({ injection, when })
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      })
  }
}
