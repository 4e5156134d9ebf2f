/**
 * revenueflow/lambda: AWS Lambda handlers over the same pipeline as the programs, plain `async (event, context)`.
 * - ingestHandler: API Gateway HTTP API (payload format 2.0) and Lambda Function URL events.
 * - consumerHandler: SQS events (event source mapping with ReportBatchItemFailures).
 * - sweepHandler: an EventBridge schedule, or `{}` for a manual invoke (the outbox sweep).
 * Each builds its environment once per container from the environment variables (README "Serverless").
 */
export { consumerHandler } from "./consumer.js"
export type * from "./events.js"
export { ingestHandler, toRequest, toResult, UnreadableRequest } from "./ingest.js"
export { lambdaDefaults } from "./runtime.js"
export { sweepHandler } from "./sweep.js"
