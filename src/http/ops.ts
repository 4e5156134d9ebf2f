import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as Effect from "effect/Effect"
import type { JobQueue } from "../../services/JobQueue.js"
import type { LeadStore } from "../../services/LeadStore.js"
import type { Metrics } from "../../services/Metrics.js"
import { IngestApi } from "./api.js"
import { directOpsHandlers } from "./opsAnswers.js"

/** /healthz (the process is up), /readyz (the store answers; the queue is reported), /metrics. */
export const OpsLive = HttpApiBuilder.group(IngestApi, "ops", (handlers) =>
  Effect.gen(function* () {
    const services = yield* Effect.context<LeadStore | JobQueue | Metrics>()
    return handlers
      .handleRaw("healthz", () => directOpsHandlers.healthz().pipe(Effect.provide(services)))
      .handleRaw("readyz", () => directOpsHandlers.readyz().pipe(Effect.provide(services)))
      .handleRaw("metrics", () => directOpsHandlers.metrics().pipe(Effect.provide(services)))
  })
)
