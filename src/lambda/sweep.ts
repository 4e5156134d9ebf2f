import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { checkIngestConfig } from "../../layers/ingestPreset.js"
import { AppConfig } from "../../services/AppConfig.js"
import { sweepOnce } from "../pipeline/sweeper.js"
import { IngestServicesLive } from "../programs/ingestServices.js"
import type { LambdaContext, ScheduledEvent } from "./events.js"
import { container } from "./runtime.js"

const sweep = container(() => IngestServicesLive.pipe(Layer.provide(Layer.effectDiscard(checkIngestConfig))))

/**
 * An EventBridge schedule (e.g. rate(1 minute)): one outbox sweep. Every lead left RECEIVED / QUEUED for
 * SWEEP_MIN_AGE_MS (or PROCESSING for SWEEP_PROCESSING_MIN_AGE_MS) is enqueued again. A failed sweep fails the
 * invocation (the next schedule tries again).
 */
export const sweepHandler = async (
  _event: ScheduledEvent,
  _context?: LambdaContext
): Promise<{ readonly enqueued: number }> =>
  sweep.run(
    Effect.gen(function* () {
      const config = yield* AppConfig
      const enqueued = yield* sweepOnce({
        minAgeMs: config.sweepMinAgeMs,
        processingMinAgeMs: config.sweepProcessingMinAgeMs
      })
      return { enqueued }
    })
  )

/** Releases the sweep's environment (tests). */
export const disposeSweep = () => sweep.dispose()

/** The bundle's entry (dist/lambda/sweep/index.mjs): handler "index.handler". */
export const handler = sweepHandler
