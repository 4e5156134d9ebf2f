import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as Metrics from "../../layers/observability/Metrics.js"
import { jsonLogger } from "../../layers/observability/Logger.js"
import { runConsumer } from "../../src/pipeline/consumer.js"
import { withApi } from "../http/harness.js"
import { memoryEnv, sampleLead } from "../support/env.js"
import { awaitStatus } from "../support/pipeline.js"

/**
 * The memory pipeline with the production metrics layer (process metrics included) and a tight per-lead limit: a
 * window long enough that a busy machine cannot spread five actions across two of them.
 */
const env = Layer.merge(memoryEnv({ env: { RATE_LIMIT_PER_LEAD: "3", RATE_LIMIT_WINDOW_MS: "3000" } }), Metrics.layer)

const sample = (text: string, name: string, labels: Record<string, string>) => {
  const line = text
    .split("\n")
    .find(
      (l) => l.startsWith(`${name}{`) && Object.entries(labels).every(([key, value]) => l.includes(`${key}="${value}"`))
    )
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(" ") + 1))
}

describe("/metrics after a pipeline run", () => {
  it.live("exposes every RevenueFlow metric with its labels", () =>
    withApi(env, (api) =>
      Effect.gen(function* () {
        yield* Effect.forkScoped(Effect.scoped(Effect.zipRight(runConsumer, Effect.never)))
        const posted = yield* Effect.forEach(
          [
            sampleLead({ email: "grace@globex.com" }),
            sampleLead({ email: "hal@globex.com", attributes: { "demo.hallucinate": true } }),
            sampleLead({ email: "bounce@globex.invalid" })
          ],
          (body) => api.postJson("/leads", body)
        )
        const ids = posted.map((reply) => (reply.json as { id: string }).id)
        yield* awaitStatus(ids[0]!, ["SYNCED"], 15_000)
        yield* awaitStatus(ids[1]!, ["REJECTED"])
        yield* awaitStatus(ids[2]!, ["FAILED"])
        const text = (yield* api.get("/metrics")).text

        expect(sample(text, "revenueflow_leads_ingested_total", { source: "api", outcome: "accepted" })).toBe(3)
        for (const status of ["SYNCED", "REJECTED", "FAILED"]) {
          expect(sample(text, "revenueflow_leads_finished_total", { status })).toBe(1)
        }
        for (const stage of ["enrich", "analyze", "crm"]) {
          expect(sample(text, "revenueflow_pipeline_stage_duration_seconds_count", { stage })).toBeGreaterThan(0)
        }
        expect(
          sample(text, "revenueflow_crm_actions_total", { tool: "upsert_lead", provider: "mock", status: "success" })
        ).toBe(1)
        expect(
          sample(text, "revenueflow_crm_actions_total", {
            tool: "upsert_lead",
            provider: "mock",
            status: "CrmPermanentError"
          })
        ).toBe(1)
        expect(
          sample(text, "revenueflow_crm_action_duration_seconds_count", { tool: "create_task", provider: "mock" })
        ).toBe(1)
        expect(sample(text, "revenueflow_circuit_breaker_state", { provider: "mock" })).toBe(0)
        // five actions for one lead against a limit of three per window: the lead tier refused
        expect(sample(text, "revenueflow_rate_limit_refusals_total", { tier: "lead" })).toBeGreaterThan(0)
        expect(sample(text, "revenueflow_grounding_outcomes_total", { outcome: "VALID" })).toBe(2)
        expect(sample(text, "revenueflow_grounding_outcomes_total", { outcome: "REJECTED" })).toBe(1)
        for (const state of ["waiting", "active", "delayed", "completed", "failed"]) {
          expect(sample(text, "revenueflow_queue_jobs", { state })).toBeTypeOf("number")
        }
        expect(sample(text, "revenueflow_queue_jobs", { state: "failed" })).toBe(1)
        expect(text).toMatch(/^revenueflow_queue_oldest_waiting_job_age_seconds \d/m)
        expect(text).toMatch(/^revenueflow_queue_dead_letters 1$/m)
        // declared even before a model or a CRM reports usage
        expect(text).toContain("# TYPE revenueflow_ai_tokens_total counter")
        expect(text).toContain("# TYPE revenueflow_ai_request_duration_seconds histogram")
        expect(text).toContain("# TYPE revenueflow_crm_api_usage_ratio gauge")
        // default process metrics
        expect(text).toMatch(/^process_cpu_user_seconds_total \d/m)
        expect(text).toMatch(/^nodejs_heap_size_used_bytes \d/m)
      })
    )
  )
})

describe("JSON log lines", () => {
  it.effect("are JSON with level, time, message, annotations and span ids, and no raw email or phone", () =>
    Effect.gen(function* () {
      const lines: Array<string> = []
      const capture = Logger.replace(
        Logger.defaultLogger,
        Logger.map(jsonLogger, (line) => {
          lines.push(line)
        })
      )
      yield* Effect.logWarning("CRM rejected jane.doe@acme.com, call +1 (415) 555-0100").pipe(
        Effect.annotateLogs({ leadId: "6f1c1c1e-3c39-4a5e-9a4e-0c1d2e3f4a5b", email: "jane.doe@acme.com" }),
        Effect.withSpan("pipeline.process"),
        Effect.provide(capture)
      )
      expect(lines).toHaveLength(1)
      const entry = JSON.parse(lines[0]!) as Record<string, unknown>
      expect(entry).toMatchObject({ level: "warn", leadId: "6f1c1c1e-3c39-4a5e-9a4e-0c1d2e3f4a5b" })
      expect(typeof entry.time).toBe("string")
      expect(entry.traceId).toMatch(/^[0-9a-f]+$/)
      expect(entry.spanId).toMatch(/^[0-9a-f]+$/)
      expect(lines[0]).not.toContain("jane.doe@acme.com")
      expect(lines[0]).not.toContain("555-0100")
      expect(entry.message).toContain("@acme.com")
    })
  )
})
