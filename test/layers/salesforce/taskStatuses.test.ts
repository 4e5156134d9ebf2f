import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import type { TaskStatusValue } from "../../fakes/salesforce.js"
import { base, call, orgWithExecutor, ref } from "./org.js"

// Task Status is a restricted picklist each org edits (its own values, another default, other closed values): a value
// the org does not have refuses the whole Task (INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST). The fake refuses it as
// Salesforce does, so a status fixed in the adapter fails here as it would for a user.

const upsertLead = call({ tool: "upsert_lead", params: { ...ref, campaignId: "spring-2025" } })
const followUp = call({ tool: "create_task", params: { ...ref, subject: "Call Jane", priority: "High" } })
const activity = call({ tool: "log_activity", params: { ...ref, subject: "Scored 82", description: "Fit: high" } })

/** An org whose admins renamed the statuses: its own default, two closed values. */
const ownStatuses: ReadonlyArray<TaskStatusValue> = [
  { value: "Open", default: true },
  { value: "Waiting" },
  { value: "Done", closed: true },
  { value: "Cancelled", closed: true }
]

const statusQueries = (requests: ReadonlyArray<{ path: string; query: URLSearchParams }>) =>
  requests.filter((r) => r.path === `${base}/query` && /FROM TaskStatus/i.test(r.query.get("q") ?? ""))

describe("Salesforce Task statuses come from the org", () => {
  it.scopedLive(
    "the fake refuses a Task Status the org does not have: 400 INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
    () =>
      Effect.gen(function* () {
        const { fake } = yield* orgWithExecutor({ taskStatuses: ownStatuses, validTokens: ["00DFAKE!static"] })
        const write = (status: string) =>
          Effect.promise(async () => {
            const response = await fetch(`${fake.url}${base}/sobjects/Task`, {
              method: "POST",
              headers: { authorization: "Bearer 00DFAKE!static", "content-type": "application/json" },
              body: JSON.stringify({ Subject: "Call", Status: status })
            })
            return { status: response.status, body: (await response.json()) as unknown }
          })
        expect(yield* write("Not Started")).toEqual({
          status: 400,
          body: [
            {
              errorCode: "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
              message: "Status: bad value for restricted picklist field: Not Started",
              fields: ["Status"]
            }
          ]
        })
        expect((yield* write("Open")).status).toBe(201)
        expect(fake.records.Task?.map((t) => t.Status)).toEqual(["Open"])
      })
  )

  it.scopedLive(
    "an org with its own statuses: a follow-up task gets its default, a logged activity its closed value",
    () =>
      Effect.gen(function* () {
        const { fake, crm } = yield* orgWithExecutor({ taskStatuses: ownStatuses })
        yield* crm.execute(upsertLead)
        yield* crm.execute(followUp)
        yield* crm.execute(activity)
        yield* crm.execute(activity)
        expect(fake.records.Task?.map((t) => [t.Subject, t.Status])).toEqual([
          ["Call Jane", "Open"],
          ["Scored 82", "Done"]
        ])
        // read once per process, not once per task
        expect(statusQueries(fake.apiRequests())).toHaveLength(1)
      })
  )

  it.scopedLive("a new org's statuses: Not Started and Completed, as before", () =>
    Effect.gen(function* () {
      const { fake, crm } = yield* orgWithExecutor()
      yield* crm.execute(upsertLead)
      yield* crm.execute(followUp)
      yield* crm.execute(activity)
      expect(fake.records.Task?.map((t) => t.Status)).toEqual(["Not Started", "Completed"])
    })
  )

  it.scopedLive("statuses an admin changed while the worker runs: the refused write reads them again, once", () =>
    Effect.gen(function* () {
      const { fake, crm } = yield* orgWithExecutor()
      yield* crm.execute(upsertLead)
      yield* crm.execute(followUp)
      fake.setTaskStatuses(ownStatuses)
      const logged = yield* crm.execute(activity)
      expect(logged.crmId).toMatch(/^00T/)
      expect(fake.records.Task?.map((t) => t.Status)).toEqual(["Not Started", "Done"])
      expect(statusQueries(fake.apiRequests())).toHaveLength(2)
    })
  )
})
