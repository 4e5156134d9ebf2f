import { describe, expect, it } from "@effect/vitest"
import * as Arbitrary from "effect/Arbitrary"
import * as Effect from "effect/Effect"
import * as FastCheck from "effect/FastCheck"
import * as Layer from "effect/Layer"
import { Email } from "../../src/domain/lead.js"
import { AuditLog } from "../../services/AuditLog.js"
import { LeadStore } from "../../services/LeadStore.js"
import { memoryEnv, sampleLead } from "../support/env.js"
import { salesforceAgainstFake } from "../support/salesforce.js"
import { awaitStatus, startConsumer, submit } from "../support/pipeline.js"

/** Addresses the lead schema accepts and Salesforce (Email Address Internationalization off) refuses: non-ASCII. */
const refusedBySalesforce = Arbitrary.make(Email).filter(
  (email) => /[^\p{ASCII}]/u.test(email.slice(0, email.lastIndexOf("@"))) && email.length <= 80
)

describe("a CRM error echoing the lead's address (Salesforce through jsforce)", () => {
  it.scopedLive("leads.error and crm_actions.error hold the address masked, never the address", () =>
    Effect.gen(function* () {
      const { fake, crm } = yield* salesforceAgainstFake()
      const emails = [
        "jürgen.müller@globex.de",
        "josé.ñúñez@initech.es",
        ...new Set(FastCheck.sample(refusedBySalesforce, { numRuns: 10 }))
      ]
      yield* Effect.gen(function* () {
        const leads = yield* Effect.forEach(emails, (email, i) =>
          Effect.map(submit(sampleLead({ email, campaignId: `echo-${i}` })), ({ lead }) => ({ email, lead }))
        )
        yield* startConsumer
        const store = yield* LeadStore
        const audit = yield* AuditLog
        for (const { email, lead } of leads) {
          yield* awaitStatus(lead.id, ["FAILED"], 15_000)
          const domain = email.slice(email.lastIndexOf("@") + 1)
          const failed = yield* store.get(lead.id)
          const rows = yield* audit.listForLead(lead.id)
          const texts = [failed.error ?? "", ...rows.map((row) => row.error ?? "")]
          expect(failed.error).toContain(`invalid email address: ***@${domain}`)
          expect(rows.find((row) => row.status === "FAILED")?.error).toContain(`invalid email address: ***@${domain}`)
          for (const text of texts) expect(text.replaceAll("***@", "@")).not.toContain(email)
        }
        // the fake saw the real address: it is the stored copies that are masked
        expect(fake.requests.some((request) => request.body.includes(emails[0]!))).toBe(true)
      }).pipe(Effect.provide(Layer.merge(memoryEnv(), crm)))
    })
  )
})
