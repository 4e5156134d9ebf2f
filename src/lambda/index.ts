/**
 * revenueflow/lambda: AWS Lambda handlers over the same pipeline as the programs, plain `async (event, context)`.
 * - ingestHandler: API Gateway HTTP API (payload format 2.0) and Lambda Function URL events.
 * - consumerHandler: SQS events (event source mapping with ReportBatchItemFailures).
 * - sweepHandler: an EventBridge schedule, or `{}` for a manual invoke (the outbox sweep).
 * Each builds its environment once per container from the environment variables (README "Serverless"), and keeps it
 * (pools, clients) until `dispose()`: Lambda just freezes the container, a test or a local harness releases it.
 */
import { disposeConsumer } from "./consumer.js"
import { disposeIngest } from "./ingest.js"
import { disposeSweep } from "./sweep.js"

export { consumerHandler, disposeConsumer } from "./consumer.js"
export type * from "./events.js"
export { disposeIngest, ingestHandler, toRequest, toResult, UnreadableRequest } from "./ingest.js"
export { lambdaDefaults } from "./runtime.js"
export { disposeSweep, sweepHandler } from "./sweep.js"

/**
 * Releases every handler's environment (its database pool, queue and Redis clients), so a process that called the
 * handlers outside Lambda (a test, a local harness) can exit. A handler called afterwards builds its environment again.
 */
export const dispose = async (): Promise<void> => {
  await Promise.all([disposeIngest(), disposeConsumer(), disposeSweep()])
}
