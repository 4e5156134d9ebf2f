import * as HttpServer from "@effect/platform/HttpServer"
import { describe, expect, it } from "@effect/vitest"
import type { ReadableSpan } from "@opentelemetry/sdk-trace-base"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import * as Otlp from "../../layers/observability/Otlp.js"
import * as IngestServer from "../../src/http/intake.js"
import * as TraceContext from "../../src/domain/traceContext.js"
import { HttpApiServed } from "../../src/http/server.js"
import { runConsumer } from "../../src/pipeline/consumer.js"
import { memoryEnv, sampleLead } from "../support/env.js"

/** The ingest server as the program serves it, on a free port, with the consumer beside it, on memory layers. */
const IngestAndConsumer = Layer.mergeAll(
  HttpApiServed.pipe(Layer.provideMerge(IngestServer.layer({ port: 0, host: "127.0.0.1" }))),
  Layer.scopedDiscard(runConsumer)
).pipe(Layer.provideMerge(memoryEnv()), Layer.provideMerge(Otlp.layerInMemory))

/** A client's own trace, sent as W3C traceparent. */
const clientTraceId = "4bf92f3577b34da6a3ce929d0e0e4736"
const clientSpanId = "00f067aa0ba902b7"

const baseUrl = HttpServer.addressWith((address) =>
  Effect.succeed(address._tag === "TcpAddress" ? `http://127.0.0.1:${address.port}` : "")
)

const json = (url: string, init?: RequestInit) =>
  Effect.promise(async () => {
    const response = await fetch(url, init)
    return { status: response.status, body: (await response.json()) as { id: string; status: string } }
  })

const named = (spans: ReadonlyArray<ReadableSpan>, name: string) => spans.filter((span) => span.name === name)

describe("tracing", () => {
  it.live("one trace runs from the client's request through the ingest and the job to the CRM call", () =>
    Effect.gen(function* () {
      const url = yield* baseUrl
      const created = yield* json(`${url}/leads`, {
        method: "POST",
        headers: { "content-type": "application/json", traceparent: `00-${clientTraceId}-${clientSpanId}-01` },
        body: JSON.stringify(sampleLead({ email: `ada-${Date.now()}@globex.com` }))
      })
      expect(created.status).toBe(202)
      yield* json(`${url}/leads/${created.body.id}`).pipe(
        Effect.filterOrFail((lead) => lead.body.status === "SYNCED"),
        Effect.retry({ schedule: Schedule.spaced("20 millis"), times: 250 })
      )

      const spans = yield* Effect.flatMap(Otlp.InMemorySpans, (recorded) => recorded.finished)
      const [request] = named(spans, "http.createLead")
      expect(request).toBeDefined()
      const traceId = request!.spanContext().traceId
      expect(traceId).toBe(clientTraceId)
      const [server] = named(spans, "http.server POST")
      expect(server?.parentSpanContext?.spanId).toBe(clientSpanId)
      expect(server?.attributes).toMatchObject({ "url.path": "/leads", "http.response.status_code": 202 })
      expect(request!.parentSpanContext?.spanId).toBe(server?.spanContext().spanId)
      const crmCalls = named(spans, "crm.execute")
      expect(crmCalls.length).toBeGreaterThan(0)
      expect(crmCalls.map((span) => span.spanContext().traceId)).toEqual(crmCalls.map(() => traceId))
      // the consumer's root span hangs off the request span, through the traceparent carried in the job
      const [processed] = named(spans, "pipeline.process")
      expect(processed?.parentSpanContext?.spanId).toBe(request!.spanContext().spanId)
      expect(processed?.spanContext().traceId).toBe(traceId)
      expect(request!.resource.attributes["service.name"]).toBe("revenueflow-test")
    }).pipe(Effect.provide(IngestAndConsumer))
  )
})

describe("withParentTrace", () => {
  const traceId = "4bf92f3577b34da6a3ce929d0e0e4736"
  const spanId = "00f067aa0ba902b7"

  it.effect("continues a valid traceparent", () =>
    Effect.gen(function* () {
      const span = yield* Effect.currentSpan.pipe(
        Effect.withSpan("child"),
        TraceContext.withParentTrace({ traceparent: `00-${traceId}-${spanId}-01` })
      )
      expect(span.traceId).toBe(traceId)
      expect(Option.map(span.parent, (parent) => parent.spanId)).toEqual(Option.some(spanId))
    })
  )

  it.effect("starts a new trace when the traceparent is missing or malformed", () =>
    Effect.gen(function* () {
      for (const context of [
        undefined,
        {},
        { traceparent: "garbage" },
        { traceparent: `00-${"0".repeat(32)}-${spanId}-01` }
      ]) {
        const span = yield* Effect.currentSpan.pipe(Effect.withSpan("child"), TraceContext.withParentTrace(context))
        expect(span.traceId).not.toBe(traceId)
        expect(Option.isNone(span.parent)).toBe(true)
      }
    })
  )

  it.effect("continues a B3 trace context too (the platform's parser: W3C first, then B3)", () =>
    Effect.gen(function* () {
      const span = yield* Effect.currentSpan.pipe(
        Effect.withSpan("child"),
        TraceContext.withParentTrace({ b3: `${traceId}-${spanId}-1` })
      )
      expect(span.traceId).toBe(traceId)
      expect(Option.map(span.parent, (parent) => parent.spanId)).toEqual(Option.some(spanId))
    })
  )

  it.effect("keeps the sampled flag", () =>
    Effect.gen(function* () {
      const parent = TraceContext.parentSpan({ traceparent: `00-${traceId}-${spanId}-00` })
      expect(Option.map(parent, (span) => span.sampled)).toEqual(Option.some(false))
    })
  )
})
