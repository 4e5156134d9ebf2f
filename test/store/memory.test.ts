import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as TestClock from "effect/TestClock"
import * as MemoryAuditLog from "../../layers/memory/AuditLog.js"
import * as MemoryLeadStore from "../../layers/memory/LeadStore.js"
import { LeadStore } from "../../services/LeadStore.js"
import { newLeadKey, sampleLead } from "./fixtures.js"
import { storeSuite } from "./storeSuite.js"

const layer = Layer.merge(MemoryLeadStore.layer, MemoryAuditLog.layer)

storeSuite("memory stores", { shared: Layer.empty, fresh: layer, checksLeadIds: false })

describe("memory LeadStore on the TestClock", () => {
  it.effect("listByStatus ages leads by Effect's Clock", () =>
    Effect.gen(function* () {
      const store = yield* LeadStore
      const { lead } = yield* store.accept({ leadKey: newLeadKey(), source: "hubspot", lead: sampleLead() })
      const stuck = (olderThanMs: number) => store.listByStatus({ statuses: ["RECEIVED"], olderThanMs, limit: 10 })
      expect(yield* stuck(30_000)).toStrictEqual([])
      yield* TestClock.adjust("30 seconds")
      expect(yield* stuck(30_000)).toStrictEqual([lead])
      yield* store.transition(lead.id, ["RECEIVED"], "QUEUED")
      expect(yield* stuck(30_000)).toStrictEqual([])
    }).pipe(Effect.provide(layer))
  )
})
