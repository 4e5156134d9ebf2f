import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Pglite from "../../layers/postgres/pglite.js"
import { errorText } from "../../src/domain/redact.js"
import { AuditLog } from "../../services/AuditLog.js"
import { LeadStore } from "../../services/LeadStore.js"
import { layerEmptyStores, layerPostgresTest, sampleAnalysis, sampleGrounding } from "./fixtures.js"
import { accept, entry } from "./storeTest.js"

/**
 * An audit row never fails to be written for its content: the CRM has acted when its row is written, so a result, an
 * error or parameters holding what Postgres cannot store (NUL anywhere, an unpaired surrogate in jsonb) are stored
 * with U+FFFD in its place, and read back so.
 */
const backends: ReadonlyArray<readonly [string, Layer.Layer<LeadStore | AuditLog, unknown>]> = [
  ["Postgres", layerPostgresTest],
  ["PGlite", layerEmptyStores.pipe(Layer.provide(Pglite.layerMemory))]
]

describe.each(backends)("audit rows whose text Postgres cannot store (%s)", (_name, layer) => {
  it.live("a CRM result, parameters, error and CRM id holding NUL or an unpaired surrogate store with U+FFFD", () =>
    Effect.gen(function* () {
      const audit = yield* AuditLog
      const { lead } = yield* accept()
      const [succeeded, failed] = yield* audit.recordEach([
        entry(lead.id, {
          params: { subject: "nul\u0000here", list: ["\ud800", "ok 😀"], "key\u0000": 1 },
          crmId: "00T\u0000001",
          result: { id: "00T001", note: "half \udc00 of a pair", nested: { text: "a\u0000\u0000b" } }
        }),
        entry(lead.id, { status: "FAILED", error: errorText("CRM said: bad\u0000value \ud83d"), result: undefined })
      ])
      const expected = {
        params: { subject: "nul\ufffdhere", list: ["\ufffd", "ok 😀"], "key\ufffd": 1 },
        crmId: "00T\ufffd001",
        result: { id: "00T001", note: "half \ufffd of a pair", nested: { text: "a\ufffd\ufffdb" } }
      }
      expect(succeeded).toMatchObject(expected)
      expect(failed?.error).toBe("CRM said: bad\ufffdvalue \ufffd")
      const rows = yield* audit.listForLead(lead.id)
      expect(rows).toHaveLength(2)
      expect(rows[0]).toMatchObject(expected)
      expect(rows[1]?.error).toBe("CRM said: bad\ufffdvalue \ufffd")
    }).pipe(Effect.provide(layer))
  )

  it.live("text that only looks like such an escape, and paired surrogates, are stored as they are", () =>
    Effect.gen(function* () {
      const audit = yield* AuditLog
      const { lead } = yield* accept()
      const params = { subject: "a literal \\u0000 and \\ud800, and 😀 𝄞" }
      const row = yield* audit.record(entry(lead.id, { params, result: { text: "\\udc00" } }))
      expect(row.params).toStrictEqual(params)
      expect(row.result).toStrictEqual({ text: "\\udc00" })
    }).pipe(Effect.provide(layer))
  )

  it.live(
    "a lead's analysis and error holding NUL or an unpaired surrogate store with U+FFFD (the job is not stuck)",
    () =>
      Effect.gen(function* () {
        const store = yield* LeadStore
        const { lead } = yield* accept()
        // a model's reasoning can hold what Postgres refuses, as a CRM's error text can
        const analysis = { ...sampleAnalysis, reasoning: "echoed \u0000 and half a pair \ud800" }
        const saved = yield* store.saveAnalysis(lead.id, analysis, { ...sampleGrounding, analysis })
        expect(saved.analysis.reasoning).toBe("echoed \ufffd and half a pair \ufffd")
        yield* store.transition(lead.id, ["RECEIVED"], "QUEUED")
        const failed = yield* store.transition(lead.id, ["QUEUED"], "FAILED", {
          error: errorText("CRM said: bad\u0000value")
        })
        expect(failed.error).toBe("CRM said: bad\ufffdvalue")
        const stored = yield* store.get(lead.id)
        expect(stored.analysis?.reasoning).toBe("echoed \ufffd and half a pair \ufffd")
        expect(stored.error).toBe("CRM said: bad\ufffdvalue")
      }).pipe(Effect.provide(layer))
  )
})
