import * as HttpServer from "@effect/platform/HttpServer"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { AppConfig } from "../../services/AppConfig.js"
import { describeBackends } from "../http/backends.js"

/** The host to print in URLs: a wildcard bind answers on localhost. */
const browsable = (host: string) => (host === "0.0.0.0" || host === "::" || host === "" ? "localhost" : host)

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
          ["metrics", `${api}/metrics`]
        )
      }
      if (parts.consumer && !parts.api) {
        const port = `http://${browsable(config.host)}:${bound(config.metricsPort)}`
        lines.push(["port", `${port} serves metrics and health only: /metrics, /healthz, /readyz (no API)`])
      }
      const footer = parts.consumer ? "\nEach finished lead is logged on one line." : ""
      yield* Effect.logInfo(`${title}\n${rows(lines)}${footer}`)
    })
  )
