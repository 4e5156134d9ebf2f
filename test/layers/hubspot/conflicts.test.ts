import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { leadKey } from "../../../src/domain/leadKey.js"
import { type CrmAction, actionKey } from "../../../src/domain/tools.js"
import type { CrmCall, CrmError } from "../../../services/CrmExecutor.js"
import { memoryEnv, sampleLead } from "../../support/env.js"
import { hubSpotAgainstFake } from "../../support/hubspot.js"
import { awaitStatus, startConsumer, submit } from "../../support/pipeline.js"
import { call, ref, setup } from "./support.js"

/** Another lead of the same company: its own email and lead key. */
const colleague = { leadKey: leadKey("john.roe@acme.com", "spring-2025"), email: "john.roe@acme.com" }
const callFor = (lead: typeof colleague, action: CrmAction): CrmCall => ({
  ...action,
  actionKey: actionKey(lead.leadKey, action.tool, action.params)
})

/** What decides a failure's fate, as plain data (an Effect error's own structure is too deep for a readable diff). */
const fate = (error: CrmError) => ({
  _tag: error._tag,
  status: "status" in error ? error.status : undefined,
  code: "code" in error ? error.code : undefined
})
const transientConflict = { _tag: "CrmTransientError", status: 409, code: "KEYED_UPSERT_CONFLICT" }

/** How long the fake refuses an upsert of a key created moments before (HubSpot's race of two upserts). */
const RACE_MS = 600

describe("a keyed upsert that races another upsert of its key (409 CONFLICT)", () => {
  it.scopedLive("two leads of one new domain: the second's sync is retried (transient), then joins the company", () =>
    Effect.gen(function* () {
      // search lags (the fake's default), so neither sync finds the company: both upsert it by the company key
      const { fake, crm } = yield* setup({}, { upsertRaceMs: RACE_MS })
      const first = yield* crm.execute(call({ tool: "sync_firmographics", params: { ...ref, domain: "acme.com" } }))
      const second = callFor(colleague, { tool: "sync_firmographics", params: { ...colleague, domain: "acme.com" } })
      const refused = yield* Effect.flip(crm.execute(second))
      expect(fake.raced()).toBe(1)
      expect(fate(refused)).toEqual(transientConflict)
      expect(fake.records.companies).toHaveLength(1)

      yield* Effect.sleep(RACE_MS)
      const retried = yield* crm.execute(second)
      expect(retried.crmId).toBe(first.crmId)
      expect(retried.detail).toMatchObject({ object: "company", created: false })
      expect(fake.records.companies).toHaveLength(1)
      expect(fake.associations.size).toBe(2)
    })
  )

  it.scopedLive("a retry racing its own task, note or deal upsert is retried, and makes none twice", () =>
    Effect.gen(function* () {
      const { fake, crm } = yield* setup({}, { upsertRaceMs: RACE_MS })
      const actions = [
        call({
          tool: "create_task",
          params: { ...ref, subject: "Call Jane", priority: "High", dueDate: "2026-06-01" }
        }),
        call({ tool: "log_activity", params: { ...ref, subject: "Scored 82", description: "Fit: high" } }),
        call({
          tool: "create_opportunity",
          params: { ...ref, name: "Acme - New", stage: "appointmentscheduled", closeDate: "2026-09-30" }
        })
      ]
      const done = yield* Effect.forEach(actions, (action) => crm.execute(action))
      // each again at once, as a job retried while its first upsert was still in flight
      for (const action of actions) {
        expect(fate(yield* Effect.flip(crm.execute(action)))).toEqual(transientConflict)
      }
      expect(fake.raced()).toBe(3)
      yield* Effect.sleep(RACE_MS)
      const again = yield* Effect.forEach(actions, (action) => crm.execute(action))
      expect(again.map((result) => result.crmId)).toEqual(done.map((result) => result.crmId))
      expect([fake.records.tasks, fake.records.notes, fake.records.deals].map((rows) => rows?.length)).toEqual([
        1, 1, 1
      ])
    })
  )

  it.scopedLive("a 409 HubSpot answers a company upsert is transient whatever its message", () =>
    Effect.gen(function* () {
      const { fake, crm } = yield* setup()
      fake.failNext(
        {
          status: 409,
          body: { status: "error", message: "Conflict", correlationId: "c0ffee", category: "CONFLICT" }
        },
        1,
        (req) => req.path === "/crm/v3/objects/companies/batch/upsert"
      )
      const sync = call({ tool: "sync_firmographics", params: { ...ref, domain: "acme.com" } })
      expect(fate(yield* Effect.flip(crm.execute(sync)))).toEqual(transientConflict)
      yield* crm.execute(sync)
      expect(fake.records.companies).toHaveLength(1)
    })
  )

  it.scopedLive("through the pipeline: two leads of one new domain at once both end SYNCED, with one company", () =>
    Effect.gen(function* () {
      const { fake, crm } = yield* hubSpotAgainstFake({ upsertRaceMs: 1000 })
      // retries wait at least 250, 500, 1000 ms: past the race within a few attempts
      const env = memoryEnv({ env: { JOB_BACKOFF_MS: "500", JOB_ATTEMPTS: "6" } })
      const done = yield* Effect.gen(function* () {
        // initech.com is in the mock enricher's table, so each lead plans a company sync
        const leads = yield* Effect.forEach(["ann@initech.com", "bob@initech.com"], (address) =>
          submit(sampleLead({ email: address }))
        )
        yield* startConsumer
        return yield* Effect.forEach(leads, ({ lead }) => awaitStatus(lead.id, ["SYNCED", "FAILED"], 20_000))
      }).pipe(Effect.provide(Layer.merge(env, crm)))
      expect(fake.raced()).toBeGreaterThanOrEqual(1)
      expect(done.map((lead) => [lead.status, lead.error])).toEqual([
        ["SYNCED", undefined],
        ["SYNCED", undefined]
      ])
      expect(fake.records.companies?.map((company) => company.properties.revenueflow_company_key)).toEqual([
        "initech.com"
      ])
    })
  )
})
