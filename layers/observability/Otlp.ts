import * as OtelResource from "@effect/opentelemetry/Resource"
import * as OtelTracer from "@effect/opentelemetry/Tracer"
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http"
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
  type SpanProcessor
} from "@opentelemetry/sdk-trace-base"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { redactingExporter } from "./SpanRedaction.js"
import { type OtlpOptions, registerFlush } from "./Tracing.js"

export type { OtlpOptions } from "./Tracing.js"
/** For an app with its own OpenTelemetry SDK: wrap its span exporter to mask spans as this module's exporters do. */
export { redactingExporter, redactSpan } from "./SpanRedaction.js"

// The OpenTelemetry half of tracing, kept out of Tracing.ts so a program without OTEL_EXPORTER_OTLP_ENDPOINT never
// loads the SDK (Tracing.layerConfig imports this module only when an endpoint is set).

/** Where and as whom to export spans. */

/**
 * Effect's tracer backed by an OpenTelemetry provider with `processor`. BasicTracerProvider rather than the Node SDK:
 * Effect carries the span through fibers itself, so no async-hooks context manager is needed, and the bundle
 * stays free of sdk-trace-node / sdk-logs / sdk-metrics.
 */
const layerWith = (
  serviceName: string,
  processor: SpanProcessor,
  serviceVersion?: string
): Layer.Layer<OtelTracer.OtelTracer> => {
  const provider = Layer.scoped(
    OtelTracer.OtelTracerProvider,
    Effect.flatMap(OtelResource.Resource, (resource) =>
      Effect.acquireRelease(
        Effect.sync(() => {
          const provider = new BasicTracerProvider({ resource, spanProcessors: [processor] })
          // flushed on demand too (`flushSpans`: a Lambda handler before it returns)
          return { provider, unregister: registerFlush(() => provider.forceFlush()) }
        }),
        // flush what is buffered on shutdown, but never let a dead collector hold the process open
        ({ provider, unregister }) =>
          Effect.promise(() => {
            unregister()
            return provider.forceFlush().then(() => provider.shutdown())
          }).pipe(Effect.timeoutOption("3 seconds"), Effect.ignore)
      ).pipe(Effect.map(({ provider }) => provider))
    )
  )
  return OtelTracer.layer.pipe(
    Layer.provide(provider),
    Layer.provide(OtelResource.layer(serviceVersion === undefined ? { serviceName } : { serviceName, serviceVersion }))
  )
}

/** Spans exported in batches over OTLP/HTTP (protobuf-free JSON) to `options.endpoint`. */
export const layerOtlp = (options: OtlpOptions): Layer.Layer<OtelTracer.OtelTracer> =>
  Layer.suspend(() =>
    layerWith(
      options.serviceName,
      // every span masked (PII, secrets: ./SpanRedaction.ts) as its batch is exported, off the request's path
      new BatchSpanProcessor(
        redactingExporter(new OTLPTraceExporter({ url: `${options.endpoint.replace(/\/+$/, "")}/v1/traces` }))
      ),
      options.serviceVersion
    )
  )

/** The spans a test run has finished, in the order they ended. */
export class InMemorySpans extends Context.Tag("revenueflow/InMemorySpans")<
  InMemorySpans,
  { readonly finished: Effect.Effect<ReadonlyArray<ReadableSpan>>; readonly reset: Effect.Effect<void> }
>() {}

/** Tracing into memory (tests): each span is recorded synchronously as it ends, masked as the OTLP export masks it. */
export const layerInMemory: Layer.Layer<InMemorySpans> = Layer.unwrapEffect(
  Effect.sync(() => {
    const exporter = new InMemorySpanExporter()
    const spans = InMemorySpans.of({
      finished: Effect.sync(() => exporter.getFinishedSpans()),
      reset: Effect.sync(() => exporter.reset())
    })
    return Layer.merge(
      Layer.succeed(InMemorySpans, spans),
      Layer.discard(layerWith("revenueflow-test", new SimpleSpanProcessor(redactingExporter(exporter))))
    )
  })
)
