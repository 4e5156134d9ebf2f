import type * as Headers from "@effect/platform/Headers"
import * as HttpTraceContext from "@effect/platform/HttpTraceContext"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Tracer from "effect/Tracer"

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

/**
 * The W3C traceparent of `span` (as HttpTraceContext.toHeaders writes it), to carry in a job (only `traceparent`:
 * the consumer reads nothing else). An external span (the client's, when the ingest runs no tracer) works too.
 */
export const fromSpan = (span: Tracer.AnySpan): { readonly traceparent: string } => ({
  traceparent: `00-${span.traceId}-${span.spanId}-${span.sampled ? "01" : "00"}`
})

/**
 * The trace context of the current span, else of the parent a request named (see `withParentTrace`), else none.
 * Read from the context rather than through `Effect.currentSpan`, whose failure outside a span builds an exception
 * (a stack trace) on every ingest request when no tracer is installed.
 */
export const current: Effect.Effect<{ readonly traceparent: string } | undefined> = Effect.contextWith(
  (context: Context.Context<never>) => ofContext(context)
)

/** `current`, read from a context the caller already has (no Effect operation of its own). */
export const ofContext = (context: Context.Context<never>): { readonly traceparent: string } | undefined => {
  const span = Context.getOption(context, Tracer.ParentSpan)
  return Option.isSome(span) ? fromSpan(span.value) : undefined
}

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
