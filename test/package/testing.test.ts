// revenueflow/testing under @effect/vitest's defaults (it.effect / it.scoped run on TestClock), as an embedder's
// first test writes it: the environments and awaitStatus wait for real work, so they run on the real clock.
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { AnalysisFailed, Analyzer, runConsumer } from "../../src/index.js"
import { awaitStatus, memoryEnv, sampleLead, submit } from "../../layers/testing/index.js"

const withConsumer = <A, E>(env: Layer.Layer<A, E>) => Layer.scopedDiscard(runConsumer).pipe(Layer.provideMerge(env))

describe("revenueflow/testing on TestClock (it.scoped / it.effect)", () => {
  it.scoped(
    "a lead goes through the pipeline",
    () =>
      Effect.gen(function* () {
        const { lead } = yield* submit(sampleLead())
        const done = yield* awaitStatus(lead.id, ["SYNCED", "FAILED", "REJECTED"])
        expect(done.status).toBe("SYNCED")
      }).pipe(Effect.provide(withConsumer(memoryEnv()))),
    15_000
  )

  it.scoped(
    "a lead whose analysis keeps failing is retried with its backoff, then FAILED",
    () => {
      const Broken = Layer.succeed(
        Analyzer,
        Analyzer.of({ analyze: () => Effect.fail(new AnalysisFailed({ message: "model down" })) })
      )
      return Effect.gen(function* () {
        const { lead } = yield* submit(sampleLead())
        const done = yield* awaitStatus(lead.id, ["SYNCED", "FAILED", "REJECTED"])
        expect(done.status).toBe("FAILED")
        expect(done.error).toContain("model down")
      }).pipe(Effect.provide(withConsumer(Layer.merge(memoryEnv(), Broken))))
    },
    15_000
  )

  it.effect(
    "awaitStatus gives up after its timeout with a tagged error naming the status it saw",
    () =>
      Effect.gen(function* () {
        // no consumer: the lead stays QUEUED
        const { lead } = yield* submit(sampleLead())
        const error = yield* Effect.flip(awaitStatus(lead.id, ["SYNCED"], 200))
        expect(error._tag).toBe("AwaitStatusTimeout")
        expect(error.lastStatus).toBe("QUEUED")
        expect(error.message).toBe(`lead ${lead.id} is QUEUED after 200 ms, waiting for SYNCED`)
        const caught = yield* awaitStatus(lead.id, ["SYNCED"], 50).pipe(
          Effect.as("settled"),
          Effect.catchTag("AwaitStatusTimeout", () => Effect.succeed("caught by its tag"))
        )
        expect(caught).toBe("caught by its tag")
      }).pipe(Effect.provide(memoryEnv())),
    15_000
  )
})
