import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { checkIngestConfig } from "../../layers/ingestPreset.js"
import { AppConfig } from "../../services/AppConfig.js"
import { sweepOnce } from "../pipeline/sweeper.js"
import { IngestServicesLive } from "../programs/ingestServices.js"
import type { LambdaContext, ScheduledEvent } from "./events.js"
import { logError } from "./log.js"
import { container } from "./runtime.js"
import { describeEvent, sweepTrigger } from "./shapes.js"

const sweep = container("sweep", () => IngestServicesLive.pipe(Layer.provide(Layer.effectDiscard(checkIngestConfig))))

/**
 * An EventBridge schedule (e.g. rate(1 minute)): one outbox sweep. Every lead left RECEIVED / QUEUED for
 * SWEEP_MIN_AGE_MS (or PROCESSING for SWEEP_PROCESSING_MIN_AGE_MS) is enqueued again; one already sent (QUEUED,
 * PROCESSING) is sent again only after SWEEP_RESEND_MIN_AGE_MS, as SQS does not tell a lead already has a message. A
 * failed sweep fails the invocation (the next schedule tries again).
 *
 * It runs for EventBridge's "Scheduled Event" (source aws.events) or for `{}`: what `aws lambda invoke` sends without
 * a payload, and what the deploy-time migrations send the migrate function (this bundle). Any other event (the
 * function wired to a queue or an API, `null`) is logged, naming its shape, and refused with a thrown error.
 */
export const sweepHandler = async (
  event: ScheduledEvent | Record<string, never>,
  _context?: LambdaContext
): Promise<{ readonly enqueued: number }> => {
  if (sweepTrigger(event as unknown) === undefined) {
    const received = describeEvent(event)
    logError("sweep invoked with an unsupported event: nothing swept", { received })
    throw new Error(
      `sweepHandler runs for an EventBridge scheduled event or {} (a manual invoke); it was invoked with ${received}`
    )
  }
  return sweep.run(
    Effect.gen(function* () {
      const config = yield* AppConfig
      const enqueued = yield* sweepOnce({
        minAgeMs: config.sweepMinAgeMs,
        processingMinAgeMs: config.sweepProcessingMinAgeMs,
        resendMinAgeMs: config.sweepResendMinAgeMs
      })
      return { enqueued }
    })
  )
}

/** Releases the sweep's environment (tests). */
export const disposeSweep = () => sweep.dispose()

/** The bundle's entry (dist/lambda/sweep/index.mjs): handler "index.handler". */
export const handler = sweepHandler
