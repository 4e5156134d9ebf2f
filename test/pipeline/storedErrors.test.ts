import { describe, expect, it } from "@effect/vitest"
import * as Arbitrary from "effect/Arbitrary"
import * as Effect from "effect/Effect"
import * as FastCheck from "effect/FastCheck"
import * as Schema from "effect/Schema"
import { Email } from "../../src/domain/lead.js"
import { AuditLog } from "../../services/AuditLog.js"
import { JobQueue } from "../../services/JobQueue.js"
import { LeadStore } from "../../services/LeadStore.js"
import { backends, sampleLead } from "../support/env.js"
import { awaitStatus, startConsumer, submit } from "../support/pipeline.js"

/**
 * Addresses the schema accepts, moved to the reserved `.invalid` domain that the mock CRM refuses the way Salesforce
 * refuses a bad address: with the address in its error message ("Email: invalid email address: <address>").
 */
const refusedAddresses = Arbitrary.make(Email)
  .map((email) => `${email.slice(0, email.lastIndexOf("@"))}@crm-check.invalid`)
  .filter(Schema.is(Email))

describe.each(backends)("stored error text on %s", (_name, makeEnv) => {
  it.live(
    "a CRM error echoing any address the schema accepts is stored masked in leads.error and crm_actions.error",
    () =>
      Effect.gen(function* () {
        const emails = [...new Set(FastCheck.sample(refusedAddresses, { numRuns: 40 }))]
        const leads = yield* Effect.forEach(emails, (email, i) =>
          Effect.map(submit(sampleLead({ email, campaignId: `stored-errors-${i}` })), ({ lead }) => ({ email, lead }))
        )
        yield* startConsumer
        const store = yield* LeadStore
        const audit = yield* AuditLog
        for (const { lead } of leads) {
          yield* awaitStatus(lead.id, ["FAILED"], 20_000)
          const failed = yield* store.get(lead.id)
          expect(failed.error).toBe("CRM rejected the request: Email: invalid email address: ***@crm-check.invalid")
          const rows = yield* audit.listForLead(lead.id)
          const errors = rows.filter((row) => row.status === "FAILED").map((row) => row.error)
          expect(errors).toEqual(["Email: invalid email address: ***@crm-check.invalid"])
        }
        const letters = yield* Effect.flatMap(JobQueue, (queue) => queue.deadLetters(1000))
        expect(letters.length).toBe(leads.length)
        // what the queue keeps of a dead letter (BullMQ: failedReason in Redis) is masked too
        const kept = letters.map((letter) => letter.reason.replaceAll("***@", "@")).join("\n")
        for (const { email } of leads) expect(kept).not.toContain(email)
      }).pipe(Effect.scoped, Effect.provide(makeEnv())),
    { timeout: 60_000 }
  )
})
