import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import type * as ParseResult from "effect/ParseResult"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import type { LeadStatus } from "../../src/domain/lead.js"
import { LeadInput } from "../../src/domain/lead.js"
import type { LeadRecord } from "../../src/domain/record.js"
import { type Accepted, acceptLead } from "../../src/pipeline/accept.js"
import type { JobQueue } from "../../services/JobQueue.js"
import { LeadStore, type StoreUnavailable } from "../../services/LeadStore.js"
import type { Metrics } from "../../services/Metrics.js"

/** Decode a body the way the ingest does, then accept it (durable in the store, then enqueued). */
export const submit = (
  body: Record<string, unknown>
): Effect.Effect<Accepted, ParseResult.ParseError | StoreUnavailable, LeadStore | JobQueue | Metrics> =>
  Effect.flatMap(Schema.decodeUnknown(LeadInput)(body), (lead) => acceptLead(lead, "api"))

/** `awaitStatus` gave up: the lead did not reach one of the awaited statuses in time. */
export class AwaitStatusTimeout extends Data.TaggedError("AwaitStatusTimeout")<{
  readonly leadId: string
  readonly awaited: ReadonlyArray<LeadStatus>
  /** The status last read (undefined: the lead was never read, e.g. not found). */
  readonly lastStatus: LeadStatus | undefined
  readonly timeoutMs: number
  readonly message: string
}> {}

/**
 * Poll until the lead is in one of `statuses`; fails with AwaitStatusTimeout after `timeoutMs`. It polls and times
 * out on the clock of its environment: `memoryEnv()` / `productionEnv()` provide the real one (`liveClock`), under
 * @effect/vitest's TestClock (`it.effect`, `it.scoped`) too. With an environment of your own under TestClock,
 * provide `liveClock` as well, or the wait never ends.
 */
export const awaitStatus = (
  leadId: string,
  statuses: ReadonlyArray<LeadStatus>,
  timeoutMs = 10_000
): Effect.Effect<LeadRecord, AwaitStatusTimeout, LeadStore> =>
  Effect.flatMap(LeadStore, (store) => {
    let lastStatus: LeadStatus | undefined
    return store.get(leadId).pipe(
      Effect.tap((lead) => {
        lastStatus = lead.status
      }),
      Effect.filterOrFail((lead) => statuses.includes(lead.status)),
      Effect.retry(Schedule.spaced("10 millis")),
      // the retry never gives up: only the timeout ends the wait
      Effect.orDie,
      Effect.timeoutFail({
        duration: timeoutMs,
        onTimeout: () =>
          new AwaitStatusTimeout({
            leadId,
            awaited: statuses,
            lastStatus,
            timeoutMs,
            message: `lead ${leadId} is ${lastStatus ?? "not found"} after ${timeoutMs} ms, waiting for ${statuses.join("|")}`
          })
      })
    )
  })

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
