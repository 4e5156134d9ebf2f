import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Schedule from "effect/Schedule"
import * as Salesforce from "../../layers/salesforce/CrmExecutor.js"
import { defaultFields } from "../../layers/salesforce/config.js"
import { makeLogCapture, withMessage } from "../support/logCapture.js"
import { startFakeSalesforce } from "../fakes/salesforce.js"
import { memoryEnv, sampleLead } from "../support/env.js"
import { awaitStatus, startConsumer, submit } from "../support/pipeline.js"

/** What an operator running at LOG_LEVEL=Info sees. */
const atInfo = (lines: ReadonlyArray<string>) =>
  lines.filter((line) => /level=(INFO|WARN|WARNING|ERROR|FATAL)\b/.test(line))
describe("the consumer's Info log through a CRM outage", () => {
  it.scopedLive(
    "CRM errors once per failed call (ids, tool, status, code; no PII), the breaker's state changes once each, token refreshes with their reason",
    () => {
      const logs = makeLogCapture()
      return Effect.gen(function* () {
        const fake = yield* Effect.acquireRelease(
          Effect.promise(() => startFakeSalesforce({ clientId: "rf", clientSecret: "s3cret-value" })),
          (f) => Effect.promise(() => f.close())
        )
        const crm = Salesforce.layer({
          loginUrl: fake.url,
          apiVersion: "62.0",
          auth: { _tag: "ClientCredentials", clientId: "rf", clientSecret: Redacted.make("s3cret-value") },
          timeoutMs: 2000,
          fields: defaultFields
        })
        const env = Layer.merge(
          memoryEnv({
            env: { JOB_ATTEMPTS: "10" },
            breaker: { consecutiveFailures: 3, probeSchedule: Schedule.spaced("300 millis") }
          }),
          crm
        )
        const email = "grace.hopper@globex.com"
        const sobjects = (r: { path: string }) => r.path.includes("/sobjects/")
        // three 503s (whose message quotes the lead's email), then a session Salesforce has expired
        fake.failNext(
          { status: 503, body: [{ errorCode: "SERVER_UNAVAILABLE", message: `cannot process ${email} now` }] },
          3,
          sobjects
        )
        fake.failNext(
          { status: 401, body: [{ errorCode: "INVALID_SESSION_ID", message: "Session expired or invalid" }] },
          1,
          sobjects
        )
        const lead = yield* Effect.gen(function* () {
          const { lead } = yield* submit(sampleLead({ email, company: "Globex" }))
          yield* startConsumer
          yield* awaitStatus(lead.id, ["SYNCED"], 20_000)
          return lead
        }).pipe(Effect.provide(env))

        const info = atInfo(logs.lines)
        const failed = withMessage(info, "CRM call failed")
        // the 401 was answered by a refresh and a retry within the same call: not a failed call
        expect(failed, info.join("\n")).toHaveLength(3)
        const unavailable = failed.filter((line) => line.includes("status=503"))
        expect(unavailable).toHaveLength(3)
        for (const line of unavailable) {
          expect(line).toContain(`leadId=${lead.id}`)
          expect(line).toContain("tool=upsert_lead")
          expect(line).toContain("provider=salesforce")
          expect(line).toContain("code=SERVER_UNAVAILABLE")
          expect(line).toContain(`detail="cannot process ***@globex.com now"`)
        }
        expect(withMessage(info, "circuit breaker opened")).toHaveLength(1)
        expect(withMessage(info, "circuit breaker opened")[0]).toContain('reason="3 consecutive failures"')
        expect(withMessage(info, "circuit breaker closed")).toHaveLength(1)
        const refreshed = withMessage(info, "CRM token refreshed")
        expect(refreshed).toHaveLength(1)
        expect(refreshed[0]).toContain("provider=salesforce")
        expect(refreshed[0]).toMatch(/reason="[^"]*401[^"]*"/)
        // nothing personal and no secret anywhere in the log, at any level
        for (const line of logs.lines) {
          expect(line, line).not.toContain("grace.hopper")
          expect(line).not.toContain("s3cret-value")
        }
      }).pipe(Effect.provide(logs.layer))
    },
    40_000
  )
})
