import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import type { LeadStatus } from "../../src/domain/lead.js"
import { LeadInput } from "../../src/domain/lead.js"
import { acceptLead } from "../../src/pipeline/accept.js"
import { LeadStore } from "../../services/LeadStore.js"

/** Decode a body the way the ingest does, then accept it (durable in the store, then enqueued). */
export const submit = (body: Record<string, unknown>) =>
  Effect.flatMap(Schema.decodeUnknown(LeadInput)(body), (lead) => acceptLead(lead, "api"))

/** Poll until the lead is in one of `statuses` (fails after `timeoutMs`). */
export const awaitStatus = (leadId: string, statuses: ReadonlyArray<LeadStatus>, timeoutMs = 10_000) =>
  Effect.flatMap(LeadStore, (store) =>
    store.get(leadId).pipe(
      Effect.filterOrFail(
        (lead) => statuses.includes(lead.status),
        (lead) => new Error(`lead ${leadId} is ${lead.status}, waiting for ${statuses.join("|")}`)
      ),
      Effect.retry(Schedule.spaced("10 millis")),
      Effect.timeoutFail({
        duration: timeoutMs,
        onTimeout: () => new Error(`timed out waiting for ${statuses.join("|")}`)
      })
    )
  )

/** A valid lead body with a fresh email; override any field. */
export const sampleLead = (overrides: Record<string, unknown> = {}) => ({
  email: `lead-${Math.random().toString(36).slice(2, 10)}@northwind-analytics.com`,
  campaignId: "spring-launch",
  firstName: "Ada",
  lastName: "Lovelace",
  title: "VP Engineering",
  activity: { demoRequested: true, pricingPageVisits: 3, pageViews: 14 },
  ...overrides
})
