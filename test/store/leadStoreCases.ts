import { expect } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { errorText } from "../../src/domain/redact.js"
import { LeadStore } from "../../services/LeadStore.js"
import { newLeadKey, sampleAnalysis, sampleGrounding, sampleLead } from "./fixtures.js"
import { accept, type StoreTest, UUID } from "./storeTest.js"

/** LeadStore behaviour: accept, get, transition, saveAnalysis, listByStatus, listRecent, countByStatus. */
export const leadStoreCases = (test: StoreTest) => {
  test("accept stores a new lead as RECEIVED and returns it as the domain type", () =>
    Effect.gen(function* () {
      const leadKey = newLeadKey()
      const { created, lead } = yield* accept({}, leadKey)
      expect(created).toBe(true)
      expect(lead.id).toMatch(UUID)
      expect(lead).toMatchObject({ leadKey, source: "api", status: "RECEIVED" })
      expect(lead.input).toStrictEqual(sampleLead())
      expect(lead.createdAt).toBeInstanceOf(Date)
      expect(lead.updatedAt.getTime()).toBe(lead.createdAt.getTime())
      expect(lead).not.toHaveProperty("analysis")
      expect(lead).not.toHaveProperty("error")
      expect(yield* Effect.flatMap(LeadStore, (s) => s.get(lead.id))).toStrictEqual(lead)
    }))

  test("accept of a known key returns the existing lead and changes nothing", () =>
    Effect.gen(function* () {
      const leadKey = newLeadKey()
      const first = yield* accept({}, leadKey)
      const second = yield* accept({ firstName: "Grace", company: "Other Inc" }, leadKey)
      expect(second.created).toBe(false)
      expect(second.lead).toStrictEqual(first.lead)
      const stored = yield* Effect.flatMap(LeadStore, (s) => s.get(first.lead.id))
      expect(stored.input.firstName).toBe("Ada")
      expect((yield* Effect.flatMap(LeadStore, (s) => s.countByStatus)).RECEIVED).toBe(1)
    }))

  test("50 concurrent accepts of one key create exactly one lead", () =>
    Effect.gen(function* () {
      const leadKey = newLeadKey()
      const results = yield* Effect.all(
        Array.from({ length: 50 }, () => accept({}, leadKey)),
        { concurrency: "unbounded" }
      )
      expect(results.filter((r) => r.created)).toHaveLength(1)
      expect(new Set(results.map((r) => r.lead.id)).size).toBe(1)
      expect((yield* Effect.flatMap(LeadStore, (s) => s.countByStatus)).RECEIVED).toBe(1)
    }))

  test("200 concurrent accepts of 100 keys (each twice, some QUEUED) create each lead once with its own data", () =>
    Effect.gen(function* () {
      const store = yield* LeadStore
      const keys = Array.from({ length: 100 }, () => newLeadKey())
      const submissions = [...keys, ...keys.toReversed()].map((leadKey, i) => ({ leadKey, i }))
      const results = yield* Effect.forEach(
        submissions,
        ({ leadKey, i }) =>
          store.accept({
            leadKey,
            source: "api",
            lead: sampleLead({ firstName: `N${keys.indexOf(leadKey)}` }),
            status: i % 2 === 0 ? "QUEUED" : "RECEIVED"
          }),
        { concurrency: "unbounded" }
      )
      for (const [n, leadKey] of keys.entries()) {
        const answers = results.filter((_, i) => submissions[i]?.leadKey === leadKey)
        expect(answers.filter((r) => r.created)).toHaveLength(1)
        expect(new Set(answers.map((r) => r.lead.id)).size).toBe(1)
        expect(answers.every((r) => r.lead.leadKey === leadKey && r.lead.input.firstName === `N${n}`)).toBe(true)
      }
      const counts = yield* store.countByStatus
      expect((counts.QUEUED ?? 0) + (counts.RECEIVED ?? 0)).toBe(100)
    }))

  test("get of an unknown id fails with LeadNotFound, uuid or not", () =>
    Effect.gen(function* () {
      const store = yield* LeadStore
      for (const id of [crypto.randomUUID(), "not-a-uuid", ""]) {
        const error = yield* Effect.flip(store.get(id))
        expect(error).toMatchObject({ _tag: "LeadNotFound", leadId: id })
      }
    }))

  test("transition moves a lead from an expected state and stamps updatedAt", () =>
    Effect.gen(function* () {
      const store = yield* LeadStore
      const { lead } = yield* accept()
      yield* Effect.sleep("5 millis")
      const queued = yield* store.transition(lead.id, ["RECEIVED"], "QUEUED")
      expect(queued.status).toBe("QUEUED")
      expect(queued.updatedAt.getTime()).toBeGreaterThan(lead.updatedAt.getTime())
      expect(queued.createdAt).toStrictEqual(lead.createdAt)
      const failed = yield* store.transition(lead.id, ["QUEUED", "PROCESSING"], "FAILED", {
        error: errorText("CRM said 400")
      })
      expect(failed).toMatchObject({ status: "FAILED", error: "CRM said 400" })
      expect(yield* store.get(lead.id)).toStrictEqual(failed)
      // a replay clears the previous failure's message
      const replayed = yield* store.transition(lead.id, ["FAILED"], "QUEUED")
      expect(replayed.status).toBe("QUEUED")
      expect(replayed).not.toHaveProperty("error")
    }))

  test("transition from a state the lead is not in fails with StaleTransition and changes nothing", () =>
    Effect.gen(function* () {
      const store = yield* LeadStore
      const { lead } = yield* accept()
      const queued = yield* store.transition(lead.id, ["RECEIVED"], "QUEUED")
      const error = yield* Effect.flip(store.transition(lead.id, ["RECEIVED", "FAILED"], "PROCESSING"))
      expect(error).toMatchObject({
        _tag: "StaleTransition",
        leadId: lead.id,
        expected: ["RECEIVED", "FAILED"],
        actual: "QUEUED"
      })
      expect(yield* store.get(lead.id)).toStrictEqual(queued)
      const missing = yield* Effect.flip(store.transition(crypto.randomUUID(), ["RECEIVED"], "QUEUED"))
      expect(missing._tag).toBe("LeadNotFound")
    }))

  test("saveAnalysis keeps the first analysis: a later save changes nothing and answers with the first", () =>
    Effect.gen(function* () {
      const store = yield* LeadStore
      const { lead } = yield* accept()
      const other = { ...sampleAnalysis, fitScore: 12, reasoning: "a second, different answer" }
      const otherGrounding = { ...sampleGrounding, analysis: other }
      // two saves at once (two deliveries of one job): exactly one analysis is kept, and both are told which
      const [a, b] = yield* Effect.all(
        [
          store.saveAnalysis(lead.id, sampleAnalysis, sampleGrounding),
          store.saveAnalysis(lead.id, other, otherGrounding)
        ],
        { concurrency: 2 }
      )
      expect(b).toStrictEqual(a)
      const stored = yield* store.get(lead.id)
      expect(stored.grounding).toStrictEqual(a)
      // the analysis saved with it, not the other run's
      expect(stored.analysis).toStrictEqual(a.analysis.reasoning === other.reasoning ? other : sampleAnalysis)
      // and later
      expect(yield* store.saveAnalysis(lead.id, other, otherGrounding)).toStrictEqual(a)
    }))

  test("revise replaces a FAILED lead's input once (analysis, grounding and error cleared, QUEUED), nothing else", () =>
    Effect.gen(function* () {
      const store = yield* LeadStore
      const revise = store.revise
      if (revise === undefined) throw new Error("the store does not revise")
      const { lead } = yield* accept({ country: "USA" })
      // not FAILED: nothing changes
      expect(yield* revise(lead.id, { source: "api", lead: { ...lead.input, country: "Canada" } })).toEqual(
        Option.none()
      )
      yield* store.saveAnalysis(lead.id, sampleAnalysis, sampleGrounding)
      yield* store.transition(lead.id, ["RECEIVED"], "FAILED", { error: errorText("FIELD_INTEGRITY_EXCEPTION") })
      // two corrections at once: one wins, the other finds the lead QUEUED
      const results = yield* Effect.all(
        ["United States", "Canada"].map((country) =>
          revise(lead.id, { source: "hubspot", lead: { ...lead.input, country } })
        ),
        { concurrency: 2 }
      )
      expect(results.filter(Option.isSome)).toHaveLength(1)
      const stored = yield* store.get(lead.id)
      expect(stored).toMatchObject({ id: lead.id, leadKey: lead.leadKey, status: "QUEUED", source: "hubspot" })
      expect(["United States", "Canada"]).toContain(stored.input.country)
      expect([stored.analysis, stored.grounding, stored.error]).toEqual([undefined, undefined, undefined])
      expect(yield* revise(crypto.randomUUID(), { source: "api", lead: lead.input })).toEqual(Option.none())
    }))

  test("saveAnalysis round-trips analysis and grounding", () =>
    Effect.gen(function* () {
      const store = yield* LeadStore
      const { lead } = yield* accept()
      expect(yield* store.saveAnalysis(lead.id, sampleAnalysis, sampleGrounding)).toStrictEqual(sampleGrounding)
      const stored = yield* store.get(lead.id)
      expect(stored.analysis).toStrictEqual(sampleAnalysis)
      expect(stored.grounding).toStrictEqual(sampleGrounding)
      expect(stored.status).toBe("RECEIVED")
      expect(stored.input).toStrictEqual(lead.input)
      const missing = yield* Effect.flip(store.saveAnalysis(crypto.randomUUID(), sampleAnalysis, sampleGrounding))
      expect(missing._tag).toBe("LeadNotFound")
    }))

  test("listByStatus returns leads in the given states, least recently updated first, up to the limit", () =>
    Effect.gen(function* () {
      const store = yield* LeadStore
      const a = (yield* accept({ email: "a@example.com" })).lead
      yield* Effect.sleep("10 millis")
      const b = (yield* accept({ email: "b@example.com" })).lead
      yield* Effect.sleep("10 millis")
      const c = (yield* accept({ email: "c@example.com" })).lead
      yield* Effect.sleep("10 millis")
      yield* store.transition(a.id, ["RECEIVED"], "QUEUED")
      const ids = (statuses: ReadonlyArray<"RECEIVED" | "QUEUED" | "SYNCED">, limit = 10, olderThanMs = 0) =>
        Effect.map(store.listByStatus({ statuses, olderThanMs, limit }), (leads) => leads.map((l) => l.id))
      expect(yield* ids(["RECEIVED"])).toStrictEqual([b.id, c.id])
      expect(yield* ids(["RECEIVED", "QUEUED"])).toStrictEqual([b.id, c.id, a.id])
      expect(yield* ids(["RECEIVED", "QUEUED"], 2)).toStrictEqual([b.id, c.id])
      expect(yield* ids(["SYNCED"])).toStrictEqual([])
      expect(yield* ids(["RECEIVED", "QUEUED"], 10, 60_000)).toStrictEqual([])
      const listed = yield* store.listByStatus({ statuses: ["RECEIVED"], olderThanMs: 0, limit: 1 })
      expect(listed[0]).toStrictEqual(b)
    }))

  test("listByStatus leaves out leads updated more recently than olderThanMs", () =>
    Effect.gen(function* () {
      const store = yield* LeadStore
      const old = (yield* accept()).lead
      yield* Effect.sleep("400 millis")
      yield* accept()
      const stuck = yield* store.listByStatus({ statuses: ["RECEIVED"], olderThanMs: 300, limit: 10 })
      expect(stuck.map((l) => l.id)).toStrictEqual([old.id])
    }))

  test("listRecent returns the most recently updated leads first, up to the limit", () =>
    Effect.gen(function* () {
      const store = yield* LeadStore
      const a = (yield* accept({ email: "a@example.com" })).lead
      yield* Effect.sleep("10 millis")
      const b = (yield* accept({ email: "b@example.com" })).lead
      yield* Effect.sleep("10 millis")
      const c = (yield* accept({ email: "c@example.com" })).lead
      yield* Effect.sleep("10 millis")
      yield* store.transition(a.id, ["RECEIVED"], "QUEUED")
      const ids = (limit: number) => Effect.map(store.listRecent({ limit }), (page) => page.leads.map((l) => l.id))
      expect(yield* ids(10)).toStrictEqual([a.id, c.id, b.id])
      expect(yield* ids(2)).toStrictEqual([a.id, c.id])
      expect((yield* store.listRecent({ limit: 1 })).leads[0]).toStrictEqual(yield* store.get(a.id))
      expect((yield* store.listRecent({ limit: 3 })).next).toBeUndefined()
    }))

  test("listRecent pages through every lead once, leads updated in the same instant included, by status too", () =>
    Effect.gen(function* () {
      const store = yield* LeadStore
      // accepted together: the Postgres store inserts them in one statement, so they share updated_at to the
      // microsecond, and a page boundary falls among them
      const same = yield* Effect.all(
        Array.from({ length: 7 }, (_, i) => accept({ email: `same${i}@example.com` })),
        { concurrency: "unbounded" }
      )
      yield* Effect.sleep("5 millis")
      const later = yield* Effect.all(
        Array.from({ length: 4 }, (_, i) => accept({ email: `later${i}@example.com` })),
        { concurrency: "unbounded" }
      )
      for (const { lead } of [same[1]!, same[4]!, later[2]!]) yield* store.transition(lead.id, ["RECEIVED"], "FAILED")
      const all = (statuses?: ReadonlyArray<"RECEIVED" | "FAILED">) =>
        Effect.gen(function* () {
          const seen: Array<string> = []
          let page = yield* store.listRecent({ limit: 3, ...(statuses ? { statuses } : {}) })
          seen.push(...page.leads.map((l) => l.id))
          while (page.next !== undefined) {
            expect(page.leads).toHaveLength(3)
            page = yield* store.listRecent({ limit: 3, after: page.next, ...(statuses ? { statuses } : {}) })
            seen.push(...page.leads.map((l) => l.id))
          }
          return seen
        })
      const newestFirst = yield* Effect.map(store.listRecent({ limit: 500 }), (page) => page.leads)
      expect(newestFirst).toHaveLength(11)
      for (let i = 1; i < newestFirst.length; i++)
        expect(newestFirst[i - 1]!.updatedAt.getTime()).toBeGreaterThanOrEqual(newestFirst[i]!.updatedAt.getTime())
      expect(yield* all()).toStrictEqual(newestFirst.map((l) => l.id))
      const failed = yield* all(["FAILED"])
      expect(failed.toSorted()).toStrictEqual([same[1]!, same[4]!, later[2]!].map((r) => r.lead.id).toSorted())
      expect(failed[0]).toBe(newestFirst.find((l) => l.status === "FAILED")!.id)
      expect(yield* all(["RECEIVED"])).toStrictEqual(
        newestFirst.filter((l) => l.status === "RECEIVED").map((l) => l.id)
      )
    }))

  test("countByStatusUpTo counts each status up to its bound", () =>
    Effect.gen(function* () {
      const store = yield* LeadStore
      const leads = yield* Effect.all(Array.from({ length: 5 }, () => accept()))
      yield* store.transition(leads[0]!.lead.id, ["RECEIVED"], "SYNCED")
      expect(yield* store.countByStatusUpTo!(3)).toStrictEqual({
        RECEIVED: 3,
        QUEUED: 0,
        PROCESSING: 0,
        SYNCED: 1,
        REJECTED: 0,
        FAILED: 0
      })
      expect((yield* store.countByStatusUpTo!(10)).RECEIVED).toBe(4)
    }))

  test("countByStatus counts every status, zeros included", () =>
    Effect.gen(function* () {
      const store = yield* LeadStore
      expect(yield* store.countByStatus).toStrictEqual({
        RECEIVED: 0,
        QUEUED: 0,
        PROCESSING: 0,
        SYNCED: 0,
        REJECTED: 0,
        FAILED: 0
      })
      const leads = yield* Effect.all([accept(), accept(), accept(), accept()])
      yield* store.transition(leads[0]!.lead.id, ["RECEIVED"], "QUEUED")
      yield* store.transition(leads[1]!.lead.id, ["RECEIVED"], "SYNCED")
      yield* store.transition(leads[2]!.lead.id, ["RECEIVED"], "SYNCED")
      expect(yield* store.countByStatus).toStrictEqual({
        RECEIVED: 1,
        QUEUED: 1,
        PROCESSING: 0,
        SYNCED: 2,
        REJECTED: 0,
        FAILED: 0
      })
    }))
}
