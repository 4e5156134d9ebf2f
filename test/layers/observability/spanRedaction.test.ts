import { createServer, type IncomingMessage } from "node:http"
import type { AddressInfo } from "node:net"
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpServer from "@effect/platform/HttpServer"
import { describe, expect, it } from "@effect/vitest"
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor
} from "@opentelemetry/sdk-trace-base"
import * as OtelResource from "@effect/opentelemetry/Resource"
import * as OtelTracer from "@effect/opentelemetry/Tracer"
import * as Cause from "effect/Cause"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import { make as makeHubSpot } from "../../../layers/hubspot/CrmExecutor.js"
import { defaultProperties } from "../../../layers/hubspot/config.js"
import * as Logging from "../../../layers/observability/Logger.js"
import * as Otlp from "../../../layers/observability/Otlp.js"
import { HttpApiServed, HttpApiWeb } from "../../../src/http/server.js"
import * as IngestServer from "../../../src/http/intake.js"
import { leadKey } from "../../../src/domain/leadKey.js"
import { actionKey, type CrmAction } from "../../../src/domain/tools.js"
import type { CrmCall } from "../../../services/CrmExecutor.js"
import { memoryEnv } from "../../support/env.js"

/** Everything a span exports as text: name, status, attributes, events (name and attributes), links. */
const exported = (spans: ReadonlyArray<ReadableSpan>): string =>
  JSON.stringify(
    spans.map((span) => ({
      name: span.name,
      status: span.status,
      attributes: span.attributes,
      events: span.events.map((event) => ({ name: event.name, attributes: event.attributes })),
      links: span.links.map((link) => link.attributes)
    }))
  )

const finished = Effect.flatMap(Otlp.InMemorySpans, (recorded) => recorded.finished)

// -- 1: the HttpApi's server spans ------------------------------------------------------------------------------

/** An OpenTelemetry tracer of an app's own, exporting into memory with no masking of ours (README "Embedding"). */
const ownTracer = () => {
  const exporter = new InMemorySpanExporter()
  const layer = OtelTracer.layer.pipe(
    Layer.provide(
      Layer.succeed(
        OtelTracer.OtelTracerProvider,
        new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] })
      )
    ),
    Layer.provide(OtelResource.layer({ serviceName: "embedder" }))
  )
  return { layer, spans: Effect.sync(() => exporter.getFinishedSpans()) }
}

const secrets = {
  "x-revenueflow-token": "rf-token-0b8d1f2e",
  "x-hubspot-signature-v3": "c2lnbmF0dXJlLXNlY3JldA==",
  "proxy-authorization": "Basic cHJveHk6c2VjcmV0",
  "x-contact": "jane.doe@acme.com"
}

/** The probe's requests, sent by `send` (a path and a request) to the ingest's HttpApi. */
const probe = (send: (path: string, init?: RequestInit) => Effect.Effect<number>) =>
  Effect.gen(function* () {
    // a POST the HttpApi serves on the ingest's server too (the intake routes, on every path its router takes for
    // them, are the server's own: their span is `framed`'s)
    yield* send("/leads/0b3c7d1e-9a4f-4e2b-8c6d-5f1a2b3c4d5e/replay", {
      method: "POST",
      headers: { "content-type": "application/json", "user-agent": "probe/1.0", ...secrets },
      body: JSON.stringify({ email: "jane.doe@acme.com" })
    })
    yield* send("/ops/state?api_key=opskey-5f1a9c")
    yield* send("/leads/jane.doe@acme.com")
    yield* send("/leads/jane.doe%40acme.com")
    yield* send("/leads?email=jane.doe%40acme.com&limit=5")
  })

/** What the probe's spans must (not) show. */
const expectNothingSecret = (spans: ReadonlyArray<ReadableSpan>) => {
  const servers = spans.filter((span) => span.name.startsWith("http.server "))
  // one server span per request, each with what is useful and harmless
  expect(servers.map((span) => span.attributes["http.request.method"]).sort()).toEqual([
    "GET",
    "GET",
    "GET",
    "GET",
    "POST"
  ])
  const marketo = servers.find((span) => span.attributes["http.request.method"] === "POST")
  expect(marketo?.attributes).toMatchObject({
    "url.path": "/leads/0b3c7d1e-9a4f-4e2b-8c6d-5f1a2b3c4d5e/replay",
    "http.request.header.content-type": "application/json",
    "http.request.header.user-agent": "probe/1.0"
  })
  expect(typeof marketo?.attributes["http.response.status_code"]).toBe("number")
  expect(servers.map((span) => span.attributes["url.path"])).toContain("/leads/***@acme.com")

  const text = exported(spans)
  for (const secret of Object.values(secrets)) expect(text).not.toContain(secret)
  expect(text).not.toContain("opskey-5f1a9c")
  expect(text).not.toContain("api_key")
  expect(text).not.toContain("jane.doe")
  expect(text).not.toContain("limit=5")
  for (const span of servers) {
    expect(span.attributes["url.query"]).toBeUndefined()
    expect(span.attributes["url.full"]).toBeUndefined()
  }
}

const served = <A, E>(tracing: Layer.Layer<A, E>) =>
  HttpApiServed.pipe(
    Layer.provideMerge(IngestServer.layer({ port: 0, host: "127.0.0.1" })),
    Layer.provideMerge(memoryEnv()),
    Layer.provideMerge(tracing)
  )

const sendTo = (base: string) => (path: string, init?: RequestInit) =>
  Effect.promise(async () => {
    const response = await fetch(`${base}${path}`, init)
    await response.arrayBuffer()
    return response.status
  })

const baseUrl = HttpServer.addressWith((address) =>
  Effect.succeed(address._tag === "TcpAddress" ? `http://127.0.0.1:${address.port}` : "")
)

describe("the HttpApi's server spans", () => {
  it.live("carry no secret header, no query and no address of a lead (the project's tracing)", () =>
    Effect.gen(function* () {
      yield* probe(sendTo(yield* baseUrl))
      expectNothingSecret(yield* finished)
    }).pipe(Effect.provide(served(Otlp.layerInMemory)))
  )

  it.live("record none of them in the first place (an app's own tracer, no masking exporter)", () => {
    const tracer = ownTracer()
    return Effect.gen(function* () {
      yield* probe(sendTo(yield* baseUrl))
      expectNothingSecret(yield* tracer.spans)
    }).pipe(Effect.provide(served(tracer.layer)))
  })

  it.live("as the web handler serves the API too (the Lambda handlers: HttpApiWeb)", () => {
    const tracer = ownTracer()
    return Effect.gen(function* () {
      const web = HttpApiBuilder.toWebHandler(
        Layer.mergeAll(HttpApiWeb, tracer.layer).pipe(Layer.provideMerge(memoryEnv()))
      )
      yield* Effect.addFinalizer(() => Effect.promise(() => web.dispose()))
      yield* probe((path, init) =>
        Effect.promise(async () => {
          const response = await web.handler(new Request(`http://lambda.local${path}`, init))
          await response.arrayBuffer()
          return response.status
        })
      )
      expectNothingSecret(yield* tracer.spans)
    }).pipe(Effect.scoped)
  })
})

// -- 2: log lines as span events ----------------------------------------------------------------------------------

const reason = "grounding failed: fetched redis://app:s3cretPw@cache.internal:6379 and called +1 415 555 0100"

const logInSpan = Effect.logWarning(`${reason} for jane.doe@acme.com`, Cause.fail(new Error(reason))).pipe(
  Effect.annotateLogs({ lead: { email: "jane.doe@acme.com", lastName: "Lovelace" }, reason }),
  Effect.withSpan("pipeline.process")
)

const leaks = ["s3cretPw", "415 555 0100", "jane.doe", "Lovelace"]

const withEnv = (env: Record<string, string>) =>
  Layer.setConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env))))

describe("log lines copied into spans as events", () => {
  it.effect("are redacted as the JSON lines are, under the project's tracing", () =>
    Effect.gen(function* () {
      yield* logInSpan
      const [span] = yield* finished
      expect(span?.events.map((event) => event.name)).toHaveLength(1)
      const text = exported([span!])
      for (const leak of leaks) expect(text).not.toContain(leak)
      expect(text).toContain("***@acme.com")
    }).pipe(
      Effect.provide(Layer.mergeAll(Otlp.layerInMemory, Logging.layerConfig("json").pipe(Layer.provide(withEnv({})))))
    )
  )

  it.effect("are redacted under an embedding app's own OpenTelemetry tracer too (Logging.layerConfig)", () => {
    const tracer = ownTracer()
    return Effect.gen(function* () {
      yield* logInSpan
      const spans = yield* tracer.spans
      expect(spans.map((span) => span.name)).toEqual(["pipeline.process"])
      expect(spans[0]!.events).toHaveLength(1)
      const text = exported(spans)
      for (const leak of leaks) expect(text).not.toContain(leak)
    }).pipe(Effect.provide(Layer.merge(tracer.layer, Logging.layerConfig("json").pipe(Layer.provide(withEnv({}))))))
  })
})

// -- 3: CRM spans ---------------------------------------------------------------------------------------------------

/** A HubSpot that answers every request 400, its message quoting the request body (as a validation error may). */
const echoingHubSpot = Effect.acquireRelease(
  Effect.async<{ readonly url: string; readonly close: () => void }>((resume) => {
    const server = createServer(async (request: IncomingMessage, response) => {
      const chunks: Array<Buffer> = []
      for await (const chunk of request) chunks.push(chunk as Buffer)
      const body = Buffer.concat(chunks).toString("utf8")
      response.writeHead(400, { "content-type": "application/json" }).end(
        JSON.stringify({
          status: "error",
          message: `Invalid input JSON: ${body}`,
          correlationId: "4b6a0d6e-7a0e-4e8c-9a51-5c0f0d1c2b3a",
          category: "VALIDATION_ERROR"
        })
      )
    })
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo
      resume(Effect.succeed({ url: `http://127.0.0.1:${port}`, close: () => server.close() }))
    })
  }),
  (fake) => Effect.sync(fake.close)
)

describe("CRM spans", () => {
  it.scopedLive("record the CRM's error with the lead's email, names, company and phone masked", () =>
    Effect.gen(function* () {
      const fake = yield* echoingHubSpot
      const crm = yield* makeHubSpot({
        baseUrl: fake.url,
        accessToken: Redacted.make("pat-na1-test"),
        timeoutMs: 2000,
        properties: defaultProperties
      })
      const email = "ada.lovelace@globex.com"
      const key = leadKey(email, "spring")
      const action: CrmAction = {
        tool: "upsert_lead",
        params: {
          leadKey: key,
          email,
          firstName: "Augusta",
          lastName: "Lovelace",
          company: "Analytical Engines Ltd",
          phone: "+44 20 7946 0958",
          campaignId: "spring"
        }
      } as CrmAction
      const call: CrmCall = { ...action, actionKey: actionKey(key, action.tool, action.params) }
      const error = yield* Effect.flip(crm.execute(call))
      // the executor's own error still quotes the body: the pipeline masks it for the lead afterwards
      expect(error.message).toContain("Lovelace")

      const spans = yield* finished
      const [span] = spans.filter((s) => s.name === "crm.hubspot")
      expect(span?.status.code).toBe(2)
      expect(span?.events.some((event) => event.name === "exception")).toBe(true)
      const text = exported([span!])
      for (const leak of ["ada.lovelace", "Augusta", "Lovelace", "Analytical Engines", "7946 0958"]) {
        expect(text).not.toContain(leak)
      }
      // what is not personal stays readable
      expect(text).toContain("Invalid input JSON")
      expect(text).toContain("***@globex.com")
    }).pipe(Effect.provide(Otlp.layerInMemory))
  )
})

// -- 4: whatever else a span carries --------------------------------------------------------------------------------

describe("redactSpan (every exported span, whoever made it)", () => {
  it("masks a client span's URL, headers, escaped JSON and link attributes; leaves a clean span as it is", () => {
    const exporter = new InMemorySpanExporter()
    const provider = new BasicTracerProvider({
      spanProcessors: [new SimpleSpanProcessor(Otlp.redactingExporter(exporter))]
    })
    const tracer = provider.getTracer("probe")
    const client = tracer.startSpan("http.client GET", {
      attributes: {
        "url.full": "https://enrich.example.com/v1/company?domain=acme.com&api_key=ek-77aa#frag",
        "url.query": "domain=acme.com&api_key=ek-77aa",
        "http.request.header.x-enrichment-key": "ek-77aa",
        "http.request.header.content-type": "application/json",
        "http.response.header.location": "/contacts/jane.doe@acme.com",
        "db.statement": "select 1",
        tags: ["vip", "jane.doe@acme.com"]
      },
      links: [
        {
          context: { traceId: "a".repeat(32), spanId: "b".repeat(16), traceFlags: 1 },
          attributes: { who: "jane.doe@acme.com" }
        }
      ]
    })
    client.addEvent("retry", {
      detail: '{\\"company\\":\\"Globex Corp\\",\\"lastname\\":\\"Lovelace\\",\\"name\\":\\"email\\"}'
    })
    client.setStatus({ code: 2, message: "postgres://app:pw-9f3k@localhost:5432/rf refused jane.doe@acme.com" })
    client.end()
    const clean = tracer.startSpan("pipeline.accept", { attributes: { "crm.tool": "upsert_lead" } })
    clean.end()

    const [masked, untouched] = exporter.getFinishedSpans()
    expect(masked!.attributes).toEqual({
      "url.full": "https://enrich.example.com/v1/company",
      "http.request.header.content-type": "application/json",
      "db.statement": "select 1",
      tags: ["vip", "***@acme.com"]
    })
    expect(masked!.status.message).toBe("postgres://app:***@localhost:5432/rf refused ***@acme.com")
    expect(masked!.events[0]!.attributes!.detail).toBe(
      '{\\"company\\":\\"***\\",\\"lastname\\":\\"***\\",\\"name\\":\\"email\\"}'
    )
    expect(masked!.links[0]!.attributes).toEqual({ who: "***@acme.com" })
    expect(masked!.spanContext().spanId).toBe(client.spanContext().spanId)
    // nothing to mask: the span itself, no copy
    expect(untouched).toBe(clean)
  })
})
