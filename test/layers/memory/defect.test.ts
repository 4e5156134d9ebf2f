// A bug in an app's own layer (a defect: a throw, not a typed failure) on the memory queue, as an embedder first tests
// a custom layer: the lead's error and the log name the defect, as BullMQ's and SQS's do.
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { CrmExecutor, LeadStore, runConsumer } from "../../../src/index.js"
import { awaitStatus, memoryEnv, sampleLead, submit } from "../../../layers/testing/index.js"
import { makeLogCapture } from "../../support/logCapture.js"

const ThrowingCrm = Layer.succeed(
  CrmExecutor,
  CrmExecutor.of({
    provider: "throwing",
    execute: () =>
      Effect.sync(() => {
        throw new TypeError("cannot read x of undefined")
      })
  })
)

describe("memory queue, a processor that dies", () => {
  it.live("the lead is FAILED with the defect named, and the defect is logged", () => {
    const logs = makeLogCapture()
    const env = Layer.scopedDiscard(runConsumer).pipe(
      Layer.provideMerge(Layer.merge(memoryEnv(), ThrowingCrm)),
      Layer.provide(logs.layer)
    )
    return Effect.gen(function* () {
      const { lead } = yield* submit(sampleLead())
      const done = yield* awaitStatus(lead.id, ["SYNCED", "FAILED", "REJECTED"])
      expect(done.status).toBe("FAILED")
      expect(done.error).toContain("defect: cannot read x of undefined")
      const stored = yield* Effect.flatMap(LeadStore, (store) => store.get(lead.id))
      expect(stored.error).toContain("defect: cannot read x of undefined")
      const logged = logs.lines.filter((line) => line.includes("cannot read x of undefined"))
      expect(logged.length).toBeGreaterThan(0)
      expect(logged[0]).toContain(lead.id)
    }).pipe(Effect.provide(env))
  })
})
