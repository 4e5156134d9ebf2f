import * as Effect from "effect/Effect"
import type * as Tracer from "effect/Tracer"

/** The tracer every fiber has when none is installed: Effect's built-in one, whose spans are exported nowhere. */
const builtInTracer: Tracer.Tracer = Effect.runSync(Effect.tracer)

/** Whether `tracer` is Effect's built-in one (no tracer installed): its spans are exported nowhere. */
export const isBuiltInTracer = (tracer: Tracer.Tracer): boolean => tracer === builtInTracer

/**
 * `Effect.withSpan` on the hot paths (ingest request, consumer job): the span when a tracer is installed (OTLP:
 * `Tracing.layerConfig`, a test's in-memory exporter), nothing under the built-in tracer, whose spans nobody reads.
 * Three spans a request cost a quarter of the ingest's CPU per lead, and a consumer job made ~15 (README
 * "Performance"). Without a tracer, the job then carries the client's own trace context (if it sent one) instead of
 * the id of an ingest span that was never exported, and log lines carry a trace id only when the client sent one.
 */
export const withSpanWhenTraced =
  (name: string, options?: Tracer.SpanOptions) =>
  <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    Effect.tracerWith((tracer) => (tracer === builtInTracer ? effect : Effect.withSpan(effect, name, options)))
