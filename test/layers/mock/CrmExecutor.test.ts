import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as MockCrm from "../../../layers/mock/CrmExecutor.js"
import { type CrmCall, CrmExecutor, CrmPermanentError } from "../../../services/CrmExecutor.js"

const call = (n: number): CrmCall => ({
  tool: "match_account",
  params: { leadKey: "a".repeat(64), email: `lead${n}@acme.com`, domain: "acme.com" },
  actionKey: `key-${n}`
})

describe("mock CRM journal", () => {
  it.effect("keeps the most recent 10,000 calls, oldest first, however many were made", () =>
    Effect.gen(function* () {
      const crm = yield* CrmExecutor
      const control = yield* MockCrm.MockCrmControl
      for (let n = 0; n < 25_001; n++) yield* crm.execute(call(n))
      const calls = yield* control.calls
      expect(calls).toHaveLength(10_000)
      expect(calls[0]?.actionKey).toBe("key-15001")
      expect(calls.at(-1)?.actionKey).toBe("key-25000")
      expect((yield* control.applied).map((c) => c.actionKey)).toEqual(calls.map((c) => c.actionKey))
    }).pipe(Effect.provide(MockCrm.layerWith()))
  )

  it.effect("the programs' mock (layerConfig) keeps no journal: it answers every call and retains none", () =>
    Effect.gen(function* () {
      const crm = yield* CrmExecutor
      const control = yield* MockCrm.MockCrmControl
      const results = []
      for (let n = 0; n < 3; n++) results.push(yield* crm.execute(call(n)))
      expect(results.map((r) => r.crmId)).toEqual(results.map(() => expect.stringMatching(/^001[0-9a-f]{15}$/)))
      expect(yield* control.calls).toEqual([])
      expect(yield* control.applied).toEqual([])
      // injected failures still work without a journal
      yield* control.failNext(new CrmPermanentError({ provider: "mock", status: 400, message: "nope" }))
      expect((yield* Effect.flip(crm.execute(call(3))))._tag).toBe("CrmPermanentError")
    }).pipe(Effect.provide(MockCrm.layerConfig))
  )
})
