import type * as Headers from "@effect/platform/Headers"
import * as HttpTraceContext from "@effect/platform/HttpTraceContext"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Tracer from "effect/Tracer"

/**
 * A trace context as headers (`{ traceparent }`): what a client sends the ingest, and what a lead's job carries so
 * the consumer's spans continue the ingest request's trace.
 */
export type TraceContext = Readonly<Record<string, string>>

const ALL_ZERO = /^0+$/

/**
 * The parent span a trace context names, read by the platform's parser (W3C traceparent, else B3): none when it is
 * missing or malformed, or names the all-zero trace or span id, which W3C reserves as invalid (the platform's parser
 * lets it through).
 */
export const parentSpan = (context: TraceContext | undefined): Option.Option<Tracer.ExternalSpan> => {
  if (context === undefined) return Option.none()
  // the parsers only read the trace headers; Node's header record is read as is, without a copy per request
  const span = HttpTraceContext.fromHeaders(context as Headers.Headers)
  return Option.isSome(span) && (ALL_ZERO.test(span.value.traceId) || ALL_ZERO.test(span.value.spanId))
    ? Option.none()
    : span
}

/** The W3C traceparent of `span`, to carry in a job (only `traceparent`: the consumer reads nothing else). */
export const fromSpan = (span: Tracer.Span): { readonly traceparent: string } => ({
  traceparent: HttpTraceContext.toHeaders(span).traceparent as string
})

/** The current span's trace context, or none outside a span. */
export const current: Effect.Effect<{ readonly traceparent: string } | undefined> = Effect.map(
  Effect.option(Effect.currentSpan),
  (span) => (Option.isSome(span) ? fromSpan(span.value) : undefined)
)

/**
 * Continue the trace `context` names (a request's headers, or the `{ traceparent }` a job carries): `effect`'s spans
 * become its children. Without a usable parent the effect runs unchanged (a new trace).
 */
export const withParentTrace =
  (context: TraceContext | undefined) =>
  <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    Option.match(parentSpan(context), {
      onNone: () => effect,
      onSome: (parent) => Effect.withParentSpan(effect, parent)
    })
