import * as HttpServer from "@effect/platform/HttpServer"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { AppConfig } from "../../services/AppConfig.js"
import { describeBackends } from "../http/backends.js"

/** The host to print in URLs: a wildcard bind answers on localhost. */
const browsable = (host: string) => (host === "0.0.0.0" || host === "::" || host === "" ? "localhost" : host)

/** A host only this machine can reach: 127.0.0.0/8, ::1, localhost. */
const isLoopback = (host: string) =>
  host === "localhost" || host === "::1" || host === "[::1]" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host)

/**
 * Said once at start when /mcp (the CRM tools, writes included) answers anyone who can reach the host: no API key
 * is required (INGEST_API_KEYS unset) and the server is bound beyond loopback. MCP's security notes: servers SHOULD
 * bind only to localhost when running locally and SHOULD authenticate.
 */
const openMcpWarning = (host: string) =>
  `/mcp is open: anyone who can reach ${host === "" ? "this host" : host} may call the CRM tools, CRM writes ` +
  "included, without a key (INGEST_API_KEYS is unset and HOST is not a loopback address). Set INGEST_API_KEYS, " +
  "or HOST=127.0.0.1 to serve this machine only."

const rows = (entries: ReadonlyArray<readonly [string, string]>) =>
  entries.map(([name, value]) => `  ${name.padEnd(11)} ${value}`).join("\n")

/**
 * The start-up banner, logged once the program's servers answer: which backend serves each part and where, and the
 * URLs to open. `parts` says what this program runs (npm start runs both halves). The port is the one the program's
 * server is bound to when it provides that server (the API's, else the consumer's metrics server), so a port 0 shows
 * as the port the system chose; else the configured one.
 */
export const banner = (title: string, parts: { readonly api: boolean; readonly consumer: boolean }) =>
  Layer.effectDiscard(
    Effect.gen(function* () {
      const config = yield* AppConfig
      const backends = yield* describeBackends
      const server = Option.getOrUndefined(yield* Effect.serviceOption(HttpServer.HttpServer))
      const bound = (configured: number) => (server?.address._tag === "TcpAddress" ? server.address.port : configured)
      const api = `http://${browsable(config.host)}:${bound(config.port)}`
      const lines: Array<readonly [string, string]> = [
        ["database", backends.database],
        ["queue", backends.queue],
        ["CRM", backends.crm],
        ["analyser", backends.analyzer],
        ["enrichment", backends.enrichment]
      ]
      if (parts.api) {
        lines.push(
          ["API", `${api}  (POST /leads)`],
          ["API docs", `${api}/docs`],
          ["console", `${api}/console`],
          ["metrics", `${api}/metrics`],
          ["MCP", `${api}/mcp  (Streamable HTTP; ${Option.isSome(config.apiKeys) ? "API key required" : "no API key"})`]
        )
      }
      if (parts.consumer && !parts.api) {
        const port = `http://${browsable(config.host)}:${bound(config.metricsPort)}`
        lines.push(["port", `${port} serves metrics and health only: /metrics, /healthz, /readyz (no API)`])
      }
      const footer = parts.consumer ? "\nEach finished lead is logged on one line." : ""
      yield* Effect.logInfo(`${title}\n${rows(lines)}${footer}`)
      if (parts.api && Option.isNone(config.apiKeys) && !isLoopback(config.host)) {
        yield* Effect.logWarning(openMcpWarning(config.host))
      }
    })
  )
