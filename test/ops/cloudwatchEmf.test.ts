import { describe, expect, it } from "@effect/vitest"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schedule from "effect/Schedule"
import * as TestClock from "effect/TestClock"
import * as CloudWatchEmf from "../../layers/observability/CloudWatchEmf.js"
import * as MemoryBreaker from "../../layers/memory/CircuitBreaker.js"
import * as MemoryQueue from "../../layers/memory/JobQueue.js"
import * as MockCrm from "../../layers/mock/CrmExecutor.js"
import * as MockEnricher from "../../layers/mock/Enricher.js"
import { makeIsolation } from "../../scripts/lib/isolation.js"
import { programEnv, startAll, startConsumer, startIngest } from "../../scripts/lib/stack.js"
import { CircuitBreaker } from "../../services/CircuitBreaker.js"
import { JobQueue } from "../../services/JobQueue.js"
import { remoteAnalyzer, remoteEnricher } from "../support/remoteStandIns.js"

interface Directive {
  readonly Namespace: string
  readonly Dimensions: ReadonlyArray<ReadonlyArray<string>>
  readonly Metrics: ReadonlyArray<{ readonly Name: string; readonly Unit: string }>
}
type Emf = {
  readonly _aws: { readonly Timestamp: number; readonly CloudWatchMetrics: ReadonlyArray<Directive> }
} & Record<string, unknown>

/** The EMF documents among printed lines, checked the way CloudWatch Logs reads them. */
const parseEmf = (output: string): ReadonlyArray<Emf> =>
  output
    .split("\n")
    .filter((line) => line.includes('"_aws"'))
    .map((line) => {
      const doc = JSON.parse(line) as Emf
      // every dimension and metric a directive names must be a member of the same document
      for (const directive of doc._aws.CloudWatchMetrics) {
        for (const key of directive.Dimensions.flat()) expect(typeof doc[key]).toBe("string")
        for (const metric of directive.Metrics) expect(typeof doc[metric.Name]).toBe("number")
      }
      return doc
    })

/** [namespace, dimension names, metric name] for every metric a document declares. */
const declared = (doc: Emf) =>
  doc._aws.CloudWatchMetrics.flatMap((d) => d.Metrics.map((m) => [d.Namespace, d.Dimensions, m.Name, m.Unit]))

/** Starts the emitter over `context`, every line it prints kept in `lines`. */
const emitInto = (lines: Array<string>) =>
  Layer.build(
    CloudWatchEmf.layer({
      namespace: "RevenueFlow/Prod",
      queueName: "lead-processing",
      intervalMs: 15_000,
      write: (line) => lines.push(line)
    })
  )

describe("CloudWatch metrics (EMF on stdout)", () => {
  it.scoped("prints queue depth, oldest waiting age, dead letters and breaker state, once per interval", () =>
    Effect.gen(function* () {
      const lines: Array<string> = []
      const env = Layer.mergeAll(
        MemoryQueue.layer({ attempts: 3, backoffMs: 10, shutdownTimeoutMs: 100 }),
        MemoryBreaker.layerWith({ consecutiveFailures: 2 }),
        MockCrm.layer
      )
      const context = yield* Layer.build(env)
      const queue = yield* Effect.provide(JobQueue, context)
      const breaker = yield* Effect.provide(CircuitBreaker, context)
      yield* queue.enqueue({ leadId: "a" })
      yield* TestClock.adjust(Duration.seconds(42))
      yield* queue.enqueue({ leadId: "b" })

      yield* emitInto(lines).pipe(Effect.provide(context))
      yield* TestClock.adjust(Duration.millis(1))
      // one document for the queue, one for the breaker (a document holds one value of a dimension)
      const [first, breakerDoc, ...rest] = parseEmf(lines.join("\n"))
      expect(rest).toEqual([])
      expect(declared(first!)).toEqual([
        ["RevenueFlow/Prod", [["Queue"]], "QueueDepth", "Count"],
        ["RevenueFlow/Prod", [["Queue"]], "OldestWaitingJobAgeSeconds", "Seconds"],
        ["RevenueFlow/Prod", [["Queue"]], "DeadLetters", "Count"]
      ])
      expect(first).toMatchObject({
        Queue: "lead-processing",
        QueueDepth: 2,
        OldestWaitingJobAgeSeconds: 42,
        DeadLetters: 0
      })
      expect(declared(breakerDoc!)).toEqual([["RevenueFlow/Prod", [["Provider"]], "CircuitBreakerOpen", "Count"]])
      expect(breakerDoc).toMatchObject({ Provider: "mock", CircuitBreakerOpen: 0 })
      for (const doc of [first!, breakerDoc!]) expect(doc._aws.Timestamp).toBe(42_000)

      // nothing more until the interval has passed; then the breaker, opened meanwhile, reads 1
      for (let i = 0; i < 2; i++) yield* breaker.protect("mock", Effect.fail("down")).pipe(Effect.ignore)
      yield* TestClock.adjust(Duration.seconds(14))
      expect(parseEmf(lines.join("\n"))).toHaveLength(2)
      yield* TestClock.adjust(Duration.seconds(1))
      const [second, secondBreaker] = parseEmf(lines.join("\n")).slice(2)
      expect(second).toMatchObject({ QueueDepth: 2, OldestWaitingJobAgeSeconds: 57 })
      expect(secondBreaker).toMatchObject({ Provider: "mock", CircuitBreakerOpen: 1 })
      for (const doc of [second!, secondBreaker!]) expect(doc._aws.Timestamp).toBe(57_000)
    })
  )

  it.scoped(
    "publishes CircuitBreakerOpen for every breaker the consumer runs (the CRM's, enrichment's, Bedrock's), the queue figures once",
    () =>
      Effect.gen(function* () {
        const lines: Array<string> = []
        const context = yield* Layer.build(
          Layer.mergeAll(
            MemoryQueue.layer({ attempts: 3, backoffMs: 10, shutdownTimeoutMs: 100 }),
            MemoryBreaker.layerWith({ consecutiveFailures: 1 }),
            MockCrm.layer,
            remoteEnricher,
            remoteAnalyzer
          )
        )
        const breaker = yield* Effect.provide(CircuitBreaker, context)
        yield* breaker.protect("bedrock", Effect.fail("Bedrock 503")).pipe(Effect.ignore)
        yield* emitInto(lines).pipe(Effect.provide(context))
        yield* TestClock.adjust(Duration.millis(1))
        const docs = parseEmf(lines.join("\n"))
        // each metric once per dimension value: the queue's in one document, each breaker's in one of its own
        expect(docs.filter((doc) => "QueueDepth" in doc)).toHaveLength(1)
        expect(
          docs.filter((doc) => "CircuitBreakerOpen" in doc).map((doc) => [doc.Provider, doc.CircuitBreakerOpen])
        ).toEqual([
          ["mock", 0],
          ["enrichment", 0],
          ["bedrock", 1]
        ])
        expect(docs).toHaveLength(4)
      })
  )

  it.scoped("publishes no breaker for a local enrichment table or analyser: they name none", () =>
    Effect.gen(function* () {
      const lines: Array<string> = []
      const context = yield* Layer.build(
        Layer.mergeAll(
          MemoryQueue.layer({ attempts: 3, backoffMs: 10, shutdownTimeoutMs: 100 }),
          MemoryBreaker.layer,
          MockCrm.layer,
          MockEnricher.layer,
          remoteAnalyzer
        )
      )
      yield* emitInto(lines).pipe(Effect.provide(context))
      yield* TestClock.adjust(Duration.millis(1))
      expect(parseEmf(lines.join("\n")).flatMap((doc) => ("Provider" in doc ? [doc.Provider] : []))).toEqual([
        "mock",
        "bedrock"
      ])
    })
  )

  it.effect("is off unless CLOUDWATCH_METRICS=EMF, and refuses a bad setting by name", () =>
    Effect.gen(function* () {
      const read = (env: Record<string, string>) =>
        Effect.withConfigProvider(CloudWatchEmf.config, ConfigProvider.fromMap(new Map(Object.entries(env))))
      expect((yield* read({})).mode).toBe("OFF")
      const bad = yield* Effect.flip(read({ CLOUDWATCH_METRICS: "PUT", CLOUDWATCH_METRICS_INTERVAL_MS: "10" }))
      expect(String(bad)).toContain("CLOUDWATCH_METRICS")
    })
  )

  it.scopedLive(
    "the ingest and consumer programs print EMF lines on stdout, next to their JSON logs, when enabled",
    () =>
      Effect.gen(function* () {
        const iso = yield* makeIsolation()
        const env = programEnv(
          iso,
          { CRM_PROVIDER: "MOCK" },
          {
            LOG_FORMAT: "json",
            CLOUDWATCH_METRICS: "EMF",
            CLOUDWATCH_NAMESPACE: "RevenueFlow/Test",
            CLOUDWATCH_METRICS_INTERVAL_MS: "1000"
          }
        )
        const programs = yield* startAll([startIngest(env), startConsumer(env)] as const)
        for (const program of programs) {
          yield* Effect.suspend(() =>
            parseEmf(program.output()).length >= 2 ? Effect.void : Effect.fail("not yet")
          ).pipe(Effect.retry({ times: 120, schedule: Schedule.spaced("250 millis") }), Effect.ignore)
          const docs = parseEmf(program.output())
          expect(docs.length, program.name).toBeGreaterThanOrEqual(2)
          expect(docs[0]).toMatchObject({
            Queue: env.QUEUE_NAME ?? "lead-processing",
            QueueDepth: 0,
            DeadLetters: 0
          })
          // the breakers live in the consumer (here the CRM's alone: the heuristic analyser and the mock enrichment
          // name none), each in a document of its own: the ingest publishes the queue figures alone
          const consumer = program === programs[1]
          for (const doc of docs)
            expect(doc._aws.CloudWatchMetrics.map((d) => d.Namespace)).toEqual(["RevenueFlow/Test"])
          const [, second] = docs
          if (consumer) expect(second).toMatchObject({ Provider: "mock", CircuitBreakerOpen: 0 })
          else expect(docs.filter((doc) => "Provider" in doc)).toEqual([])
          expect(second).not.toHaveProperty(consumer ? "QueueDepth" : "Provider")
          // the logs are still there, one JSON object per line
          expect(program.output()).toMatch(/^\{"time":.*"level":/m)
        }
      }),
    120_000
  )
})
