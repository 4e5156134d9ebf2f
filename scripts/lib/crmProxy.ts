import { createServer, type IncomingMessage, request as httpRequest, type Server, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"

/** One request as the CRM side saw it, with what it was answered. */
export interface CrmRecord {
  readonly seq: number
  readonly method: string
  readonly path: string
  readonly body: string
  readonly json: unknown
  readonly receivedAt: number
  /** The status sent back; undefined while unanswered (or if the caller went away first). */
  status: number | undefined
  /** What the CRM itself answered (undefined when not forwarded, or not answered yet). */
  crmStatus: number | undefined
  answeredAt: number | undefined
  /** Answered by the fault injector, not by the CRM: the request had no effect. */
  injected: boolean
  /** The caller closed the connection before the answer was sent (killed consumer). */
  callerGone: boolean
  /** The entrance it came through: "" for `url`, the name given to `entrance` otherwise (who sent it). */
  readonly via: string
}

/** How the proxy treats requests right now. */
export type CrmMode =
  | { readonly _tag: "Pass" }
  /** Forward after `ms`: a slow CRM. */
  | { readonly _tag: "Slow"; readonly ms: number }
  /** Answer with this status without forwarding (429 carries Retry-After: `retryAfterS`). */
  | { readonly _tag: "Fail"; readonly status: number; readonly retryAfterS?: number }

/** A recording, fault-injecting HTTP proxy in front of a CRM fake. */
export interface CrmProxy {
  readonly url: string
  /**
   * Another URL of the same proxy (same records, same mode) whose requests are recorded with `via: name`: give one to
   * each program whose requests must be told apart, e.g. the consumer a test kills. Closed with the scope.
   */
  readonly entrance: (name: string) => Effect.Effect<string, never, Scope.Scope>
  readonly records: ReadonlyArray<CrmRecord>
  readonly setMode: (mode: CrmMode) => void
  /** Requests the CRM itself answered with a 2xx (whether or not the caller was still there): the effective ones. */
  readonly effective: () => ReadonlyArray<CrmRecord>
  /** Requests received but not yet answered. */
  readonly inFlight: () => number
}

const parse = (text: string): unknown => {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}

const failBody = (status: number) =>
  JSON.stringify({
    status: "error",
    message: status === 429 ? "You have reached your ten_secondly_rolling limit." : "Service unavailable",
    correlationId: "00000000-0000-0000-0000-000000000000",
    category: status === 429 ? "RATE_LIMITS" : "SERVICE_UNAVAILABLE"
  })

/**
 * Start a proxy on a free 127.0.0.1 port forwarding to `targetUrl`. Every request is recorded with its answer and
 * timing, so tests count CRM writes (and their timestamps) where the CRM sees them. Closed with the scope.
 */
export const startCrmProxy = (targetUrl: string): Effect.Effect<CrmProxy, Error, Scope.Scope> =>
  Effect.gen(function* () {
    const target = new URL(targetUrl)
    const records: Array<CrmRecord> = []
    let mode: CrmMode = { _tag: "Pass" }
    let seq = 0

    const handle = (via: string) => (req: IncomingMessage, res: ServerResponse) => {
      const chunks: Array<Buffer> = []
      req.on("data", (chunk: Buffer) => chunks.push(chunk))
      req.on("end", () => {
        const body = Buffer.concat(chunks)
        const text = body.toString("utf8")
        const record: CrmRecord = {
          seq: ++seq,
          method: req.method ?? "GET",
          path: new URL(req.url ?? "/", "http://proxy").pathname,
          body: text,
          json: parse(text),
          receivedAt: Date.now(),
          status: undefined,
          crmStatus: undefined,
          answeredAt: undefined,
          injected: false,
          callerGone: false,
          via
        }
        records.push(record)
        res.on("close", () => {
          if (!res.writableFinished) record.callerGone = true
        })
        const answer = (
          status: number,
          headers: Record<string, string | Array<string> | undefined>,
          payload: Buffer
        ) => {
          if (res.destroyed) {
            record.callerGone = true
            return
          }
          record.status = status
          record.answeredAt = Date.now()
          res.writeHead(status, headers)
          res.end(payload)
        }
        const current = mode
        if (current._tag === "Fail") {
          record.injected = true
          const headers: Record<string, string> = { "content-type": "application/json;charset=UTF-8" }
          if (current.retryAfterS !== undefined) headers["retry-after"] = String(current.retryAfterS)
          return answer(current.status, headers, Buffer.from(failBody(current.status)))
        }
        const forward = () => {
          const upstream = httpRequest(
            {
              host: target.hostname,
              port: target.port,
              method: req.method,
              path: req.url,
              headers: { ...req.headers, host: target.host }
            },
            (up) => {
              const parts: Array<Buffer> = []
              up.on("data", (chunk: Buffer) => parts.push(chunk))
              up.on("end", () => {
                record.crmStatus = up.statusCode
                const headers = { ...up.headers }
                delete headers["transfer-encoding"]
                delete headers.connection
                answer(up.statusCode ?? 502, headers, Buffer.concat(parts))
              })
            }
          )
          upstream.on("error", () => answer(502, {}, Buffer.from("bad gateway")))
          upstream.end(body)
        }
        if (current._tag === "Slow") setTimeout(forward, current.ms)
        else forward()
      })
    }

    /** A listener on a free 127.0.0.1 port recording its requests `via` that name; closed with the scope. */
    const listen = (via: string) =>
      Effect.acquireRelease(
        Effect.async<{ server: Server; url: string }>((resume) => {
          const server = createServer(handle(via))
          server.keepAliveTimeout = 30_000
          server.listen(0, "127.0.0.1", () =>
            resume(Effect.succeed({ server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }))
          )
        }),
        ({ server }) =>
          Effect.async<void>((resume) => {
            server.closeAllConnections()
            server.close(() => resume(Effect.void))
          })
      ).pipe(Effect.map(({ url }) => url))

    const url = yield* listen("")
    return {
      url,
      entrance: listen,
      records,
      setMode: (next) => {
        mode = next
      },
      effective: () => records.filter((r) => r.crmStatus !== undefined && r.crmStatus >= 200 && r.crmStatus < 300),
      inFlight: () => records.filter((r) => r.status === undefined && !r.callerGone).length
    } satisfies CrmProxy
  })
