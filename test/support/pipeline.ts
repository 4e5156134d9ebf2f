import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import type { LeadStatus } from "../../src/domain/lead.js"
import { LeadInput } from "../../src/domain/lead.js"
import * as Schema from "effect/Schema"
import { acceptLead } from "../../src/pipeline/accept.js"
import { runConsumer } from "../../src/pipeline/consumer.js"
import { LeadStore } from "../../services/LeadStore.js"

/** Decode a body the way ingest does, then accept it. */
export const submit = (body: Record<string, unknown>) =>
  Effect.flatMap(Schema.decodeUnknown(LeadInput)(body), (lead) => acceptLead(lead, "api"))

/** Start the consumer in the current scope. */
export const startConsumer = runConsumer

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
