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
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Tracer from "effect/Tracer"

/** Where and as whom to export spans. */
export interface OtlpOptions {
  /** OTLP/HTTP base URL (e.g. http://jaeger:4318); spans go to `${endpoint}/v1/traces`. */
  readonly endpoint: string
  readonly serviceName: string
  readonly serviceVersion?: string | undefined
}

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
        Effect.sync(() => new BasicTracerProvider({ resource, spanProcessors: [processor] })),
        // flush what is buffered on shutdown, but never let a dead collector hold the process open
        (p) =>
          Effect.promise(() => p.forceFlush().then(() => p.shutdown())).pipe(
            Effect.timeoutOption("3 seconds"),
            Effect.ignore
          )
      )
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
      new BatchSpanProcessor(new OTLPTraceExporter({ url: `${options.endpoint.replace(/\/+$/, "")}/v1/traces` })),
      options.serviceVersion
    )
  )

/** OTEL_EXPORTER_OTLP_ENDPOINT (unset: tracing off) and OTEL_SERVICE_NAME (default `defaultServiceName`). */
export const config = (defaultServiceName: string): Config.Config<Option.Option<OtlpOptions>> =>
  Config.all({
    endpoint: Config.option(Config.string("OTEL_EXPORTER_OTLP_ENDPOINT")),
    serviceName: Config.string("OTEL_SERVICE_NAME").pipe(Config.withDefault(defaultServiceName))
  }).pipe(
    Config.map(({ endpoint, serviceName }) =>
      Option.map(
        Option.filter(endpoint, (url) => url.trim() !== ""),
        (url) => ({ endpoint: url.trim(), serviceName })
      )
    )
  )

/**
 * OTLP tracing configured from the environment; a no-op layer (Effect's built-in, unexported spans) when
 * OTEL_EXPORTER_OTLP_ENDPOINT is unset. Provide it to a whole program so every fiber it forks uses the tracer.
 */
export const layerConfig = (defaultServiceName: string): Layer.Layer<never, ConfigError.ConfigError> =>
  Layer.unwrapEffect(
    Effect.map(
      config(defaultServiceName),
      Option.match({ onNone: () => Layer.empty, onSome: (options) => Layer.discard(layerOtlp(options)) })
    )
  )

/** The spans a test run has finished, in the order they ended. */
export class InMemorySpans extends Context.Tag("revenueflow/InMemorySpans")<
  InMemorySpans,
  { readonly finished: Effect.Effect<ReadonlyArray<ReadableSpan>>; readonly reset: Effect.Effect<void> }
>() {}

/** Tracing into memory (tests): each span is recorded synchronously as it ends. */
export const layerInMemory: Layer.Layer<InMemorySpans> = Layer.unwrapEffect(
  Effect.sync(() => {
    const exporter = new InMemorySpanExporter()
    const spans = InMemorySpans.of({
      finished: Effect.sync(() => exporter.getFinishedSpans()),
      reset: Effect.sync(() => exporter.reset())
    })
    return Layer.merge(
      Layer.succeed(InMemorySpans, spans),
      Layer.discard(layerWith("revenueflow-test", new SimpleSpanProcessor(exporter)))
    )
  })
)

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/

/** The parent span a W3C traceparent names, or none for a missing / malformed / all-zero one. */
export const parseTraceparent = (traceparent: string | undefined): Option.Option<Tracer.ExternalSpan> => {
  const match = TRACEPARENT.exec(traceparent?.trim().toLowerCase() ?? "")
  if (match === null) return Option.none()
  const [, version, traceId, spanId, flags] = match as unknown as [string, string, string, string, string]
  if (version === "ff" || /^0+$/.test(traceId) || /^0+$/.test(spanId)) return Option.none()
  return Option.some(Tracer.externalSpan({ traceId, spanId, sampled: (Number.parseInt(flags, 16) & 1) === 1 }))
}

/**
 * Continue the trace carried in a job (`{ traceparent }` set by the ingest): `effect`'s spans become children of the
 * ingest request's span. Without a usable traceparent the effect runs unchanged (a new trace).
 */
export const withParentTrace =
  (traceContext: Readonly<Record<string, string>> | undefined) =>
  <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    Option.match(parseTraceparent(traceContext?.traceparent), {
      onNone: () => effect,
      onSome: (parent) => Effect.withParentSpan(effect, parent)
    })
