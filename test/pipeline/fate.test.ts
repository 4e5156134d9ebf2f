import { describe, expect, it } from "@effect/vitest"
import * as Schema from "effect/Schema"
import { AnalysisFailed } from "../../services/Analyzer.js"
import { CircuitOpen } from "../../services/CircuitBreaker.js"
import { CrmPermanentError, CrmRateLimited, CrmTransientError } from "../../services/CrmExecutor.js"
import { EnrichmentFailed } from "../../services/Enricher.js"
import { IdempotencyUnavailable } from "../../services/Idempotency.js"
import { JobDelay, JobPermanent, JobRetry, QueueUnavailable } from "../../services/JobQueue.js"
import { LeadNotFound, StaleTransition } from "../../services/LeadStore.js"
import { RateLimited, RateLimiterUnavailable } from "../../services/RateLimiter.js"
import { GuardBlocked } from "../../src/domain/guard.js"
import { fateOf, type PipelineFailure } from "../../src/pipeline/fate.js"

const address = "jürgen.müller@example.de"

describe("fateOf: the job fate of every pipeline failure", () => {
  it("limits, an open breaker and a CRM 429 delay the job by their retry-after, spending no attempt", () => {
    for (const failure of [
      new RateLimited({ tier: "lead", retryAfterMs: 1200 }),
      new CircuitOpen({ name: "crm", retryAfterMs: 1200 }),
      new CrmRateLimited({ provider: "hubspot", retryAfterMs: 1200, message: "TEN_SECONDLY_ROLLING" })
    ]) {
      const fate = fateOf(failure)
      expect(fate).toBeInstanceOf(JobDelay)
      expect(fate).toMatchObject({ delayMs: 1200 })
      expect((fate as JobDelay).reason.startsWith(`${failure._tag}: `)).toBe(true)
    }
    expect(fateOf(new RateLimited({ tier: "crm", retryAfterMs: 0 }))).toMatchObject({ delayMs: 1 })
  })

  it("a throttled model delays; any other analysis failure retries", () => {
    expect(fateOf(new AnalysisFailed({ message: "ThrottlingException", retryAfterMs: 800 }))).toEqual(
      new JobDelay({ delayMs: 800, reason: "model throttled: ThrottlingException" })
    )
    expect(fateOf(new AnalysisFailed({ message: "bad tool output" }))).toEqual(
      new JobRetry({ reason: "analysis failed: bad tool output" })
    )
  })

  it("a CRM refusal, a guard block and a missing lead dead-letter at once, with no address in the reason", () => {
    const refused = fateOf(new CrmPermanentError({ provider: "salesforce", message: `invalid email: ${address}` }))
    expect(refused).toBeInstanceOf(JobPermanent)
    expect((refused as JobPermanent).reason).toMatch(/^CRM rejected the request: invalid email: \S+/)
    expect((refused as JobPermanent).reason).not.toContain(address)
    expect(fateOf(new GuardBlocked({ tool: "delete_lead", rule: "allow-list", reason: "not allowed" }))).toEqual(
      new JobPermanent({ reason: "safety guard blocked delete_lead: not allowed" })
    )
    expect(fateOf(new LeadNotFound({ leadId: "l-1" }))).toEqual(new JobPermanent({ reason: "lead l-1 does not exist" }))
  })

  it("infrastructure that may come back retries, naming the failure, with no address in the reason", () => {
    const failures: ReadonlyArray<PipelineFailure> = [
      new StaleTransition({ leadId: "l-1", expected: ["QUEUED"], actual: "SYNCED" }),
      new QueueUnavailable({ message: "Redis down" }),
      new RateLimiterUnavailable({ message: "Redis down" }),
      new IdempotencyUnavailable({ message: "Redis down" }),
      new CrmTransientError({ provider: "hubspot", message: `502 for ${address}`, status: 502 }),
      new EnrichmentFailed({ domain: "example.de", message: "timeout" })
    ]
    for (const failure of failures) {
      const fate = fateOf(failure)
      expect(fate).toBeInstanceOf(JobRetry)
      expect((fate as JobRetry).reason.startsWith(`${failure._tag}: `)).toBe(true)
      expect((fate as JobRetry).reason).not.toContain(address)
    }
  })

  it("a fate already decided is kept as it is", () => {
    for (const fate of [
      new JobDelay({ delayMs: 5, reason: "claim held" }),
      new JobRetry({ reason: "x" }),
      new JobPermanent({ reason: "y" })
    ]) {
      expect(fateOf(fate)).toBe(fate)
    }
  })

  it("a failure the union does not list is a compile error, not a silent retry (checked by tsc, see typecheck)", () => {
    class Unplanned extends Schema.TaggedError<Unplanned>()("Unplanned", { message: Schema.String }) {}
    // @ts-expect-error fateOf decides only the failures PipelineFailure lists
    const decide = () => fateOf(new Unplanned({ message: "new" }))
    // at run time an unknown tag is a defect (Match throws), never a retry
    expect(decide).toThrow()
  })
})
