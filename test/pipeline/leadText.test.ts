import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import type { Analysis } from "../../src/domain/analysis.js"
import { processLead } from "../../src/pipeline/process.js"
import { Analyzer } from "../../services/Analyzer.js"
import { JobPermanent } from "../../services/JobQueue.js"
import { LeadStore } from "../../services/LeadStore.js"
import { memoryEnv, sampleLead } from "../support/env.js"
import { makeLogCapture } from "../support/logCapture.js"
import { submit } from "../support/pipeline.js"

/** A lead whose own text a model's answer and a model service's refusal may quote. */
const person = {
  firstName: "Grace",
  lastName: "Hopper",
  email: "grace.hopper@globex.com",
  phone: "+1 415 555 0100",
  company: "Globex",
  utmTerm: "Grace Hopper",
  attributes: { referral: "Grace Hopper, 415.555.0100" }
}
const quotesThePerson = /grace|hopper|4155550100|555.0100/i

const answering = (analysis: Analysis) => Analyzer.of({ analyze: () => Effect.succeed(analysis) })

describe("what the pipeline stores and logs of a lead's own text", () => {
  it.scopedLive("a REJECTED lead's reasons, in leads.error and the log line, quote none of the lead's text", () => {
    const logs = makeLogCapture()
    return Effect.gen(function* () {
      const { lead } = yield* submit(sampleLead(person))
      const analysis: Analysis = {
        fitScore: 40,
        intent: "Medium Fit",
        decision: "Nurture",
        reasoning: "quotes Grace Hopper",
        evidence: [
          { claimType: "SCORE", source: "MARKETING", fieldPath: "utmTerm", value: "Grace H." },
          { claimType: "SCORE", source: "MARKETING", fieldPath: "attributes.referral", value: "Grace" },
          { claimType: "SCORE", source: "MARKETING", fieldPath: "attributes.Grace Hopper 4155550100", value: 1 }
        ]
      }
      yield* processLead({ leadId: lead.id, attemptsMade: 0, maxAttempts: 1 }).pipe(
        Effect.provideService(Analyzer, answering(analysis))
      )
      const stored = yield* Effect.flatMap(LeadStore, (store) => store.get(lead.id))
      expect(stored.status).toBe("REJECTED")
      expect(stored.error).toContain('"utmTerm": claimed value does not match the MARKETING data')
      expect(stored.error).toContain('no field "attributes.*** *** [phone]"')
      expect(stored.error).not.toMatch(quotesThePerson)
      const line = logs.lines.find((text) => text.includes("REJECTED by grounding"))
      expect(line).toBeDefined()
      expect(line).not.toMatch(quotesThePerson)
    }).pipe(Effect.provide(memoryEnv()), Effect.provide(logs.layer))
  })

  it.live("a model service's refusal quoting the lead is masked before it becomes the job's fate", () =>
    Effect.gen(function* () {
      const { lead } = yield* submit(sampleLead(person))
      const refusing = Analyzer.of({
        analyze: () =>
          Effect.fail(
            new JobPermanent({
              reason:
                "Bedrock refused the request (ValidationException, HTTP 400): input 'Dear Grace Hopper, " +
                "call 4155550100 or mail grace.hopper%40globex.com' is too long. Check BEDROCK_MODEL_ID=x"
            })
          )
      })
      const fate = yield* Effect.flip(
        processLead({ leadId: lead.id, attemptsMade: 0, maxAttempts: 1 }).pipe(
          Effect.provideService(Analyzer, refusing)
        )
      )
      expect(fate._tag).toBe("JobPermanent")
      const reason = (fate as JobPermanent).reason
      expect(reason).toContain("input 'Dear *** ***, call [phone] or mail ***@globex.com' is too long")
      expect(reason).not.toMatch(quotesThePerson)
    }).pipe(Effect.provide(memoryEnv()))
  )
})
