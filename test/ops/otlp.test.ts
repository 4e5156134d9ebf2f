import { createServer, type IncomingMessage } from "node:http"
import type { AddressInfo } from "node:net"
import { describe, expect, it } from "@effect/vitest"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Tracing from "../../layers/observability/Tracing.js"

interface Received {
  readonly path: string
  readonly contentType: string | undefined
  readonly body: {
    resourceSpans: Array<{
      resource: { attributes: Array<{ key: string; value: { stringValue?: string } }> }
      scopeSpans: Array<{ spans: Array<{ name: string; traceId: string; parentSpanId?: string }> }>
    }>
  }
}

/** A local OTLP/HTTP collector (what Jaeger listens with on 4318): records every export it receives. */
const fakeCollector = Effect.acquireRelease(
  Effect.async<{ readonly url: string; readonly received: Array<Received>; readonly close: () => void }>((resume) => {
    const received: Array<Received> = []
    const server = createServer(async (request: IncomingMessage, response) => {
      const chunks: Array<Buffer> = []
      for await (const chunk of request) chunks.push(chunk as Buffer)
      received.push({
        path: request.url ?? "",
        contentType: request.headers["content-type"],
        body: JSON.parse(Buffer.concat(chunks).toString("utf8"))
      })
      response.writeHead(200, { "content-type": "application/json" }).end("{}")
    })
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo
      resume(Effect.succeed({ url: `http://127.0.0.1:${port}`, received, close: () => server.close() }))
    })
  }),
  (collector) => Effect.sync(collector.close)
)

const withEnv = (env: Record<string, string>) =>
  Layer.setConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env))))

describe("Tracing.layerConfig", () => {
  it.live("exports spans over OTLP/HTTP to OTEL_EXPORTER_OTLP_ENDPOINT under OTEL_SERVICE_NAME", () =>
    Effect.gen(function* () {
      const collector = yield* fakeCollector
      const tracing = Tracing.layerConfig("revenueflow-ingest").pipe(
        Layer.provide(withEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: `${collector.url}/`, OTEL_SERVICE_NAME: "rf-otlp-test" }))
      )
      // closing the layer flushes the batch, as a SIGTERM'd program does
      yield* Effect.void.pipe(Effect.withSpan("child"), Effect.withSpan("parent"), Effect.provide(tracing))

      expect(collector.received.map((r) => r.path)).toEqual(["/v1/traces"])
      expect(collector.received[0]?.contentType).toContain("application/json")
      const [resourceSpans] = collector.received[0]!.body.resourceSpans
      const serviceName = resourceSpans?.resource.attributes.find((a) => a.key === "service.name")?.value.stringValue
      expect(serviceName).toBe("rf-otlp-test")
      const spans = resourceSpans!.scopeSpans.flatMap((scope) => scope.spans)
      expect(spans.map((span) => span.name).sort()).toEqual(["child", "parent"])
      expect(new Set(spans.map((span) => span.traceId)).size).toBe(1)
    }).pipe(Effect.scoped)
  )

  it.live("is a no-op without OTEL_EXPORTER_OTLP_ENDPOINT: spans stay in process, nothing is sent", () =>
    Effect.gen(function* () {
      const collector = yield* fakeCollector
      const tracing = Tracing.layerConfig("revenueflow-ingest").pipe(Layer.provide(withEnv({})))
      const span = yield* Effect.currentSpan.pipe(Effect.withSpan("local"), Effect.provide(tracing))
      expect(span.name).toBe("local")
      expect(collector.received).toEqual([])
      const config = yield* Tracing.config("revenueflow-consumer").pipe(
        Effect.withConfigProvider(ConfigProvider.fromMap(new Map([["OTEL_EXPORTER_OTLP_ENDPOINT", "  "]])))
      )
      expect(config._tag).toBe("None")
    }).pipe(Effect.scoped)
  )
})
