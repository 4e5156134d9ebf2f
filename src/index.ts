/**
 * RevenueFlow's public API: the services (tags, interfaces, errors), the pipeline stages, the domain rules and
 * schemas, and the layers that provide each service. Provide the layers you want; `layerFromConfig` picks them
 * from the environment the way the programs do.
 */

// Services
export * from "../services/AppConfig.js"
export * from "../services/Analyzer.js"
export * from "../services/AuditLog.js"
export * from "../services/CircuitBreaker.js"
export * from "../services/CrmExecutor.js"
export * from "../services/Enricher.js"
export * from "../services/Idempotency.js"
export * from "../services/JobQueue.js"
export * from "../services/LeadStore.js"
export * from "../services/Metrics.js"
export * from "../services/RateLimiter.js"
export * from "../services/SecretsRefresh.js"

// Domain
export * from "./domain/analysis.js"
export * from "./domain/enrichment.js"
export { computedFacts, ground } from "./domain/grounding.js"
export { GuardBlocked, guardAction } from "./domain/guard.js"
export * from "./domain/lead.js"
export { leadKey } from "./domain/leadKey.js"
export { planActions } from "./domain/plan.js"
export {
  hubSpotLeadStatuses,
  type LeadStatusMap,
  PlannedLeadStatus,
  parseLeadStatusMap,
  plannedLeadStatuses,
  salesforceLeadStatuses
} from "./domain/leadStatus.js"
export * from "./domain/record.js"
export { type ErrorText, errorText, maskEmail, redact, redactText } from "./domain/redact.js"
export { actionKey, type CrmAction, isToolName, ToolName, ToolParams, toolNames } from "./domain/tools.js"

// Pipeline
export { type Accepted, acceptLead } from "./pipeline/accept.js"
export { runConsumer } from "./pipeline/consumer.js"
export { type ActionOutcome, executeAction, type RunActionOptions, runAction } from "./pipeline/execute.js"
export { fateOf } from "./pipeline/fate.js"
export { deadLetter, processLead } from "./pipeline/process.js"
export { replayAll, replayLead } from "./pipeline/replay.js"
export { runSweeper, sweepOnce } from "./pipeline/sweeper.js"

// HTTP
export { IngestApi } from "./http/api.js"
export { HttpServerLive, IngestApiLive } from "./http/server.js"

// MCP (the server itself, with the SDK, is the `revenueflow/mcp` subpath)
/** The /mcp endpoint HttpServerLive serves: provide McpEndpointLive to your own ingest server to answer /mcp. */
export { layer as McpEndpointLive, McpEndpoint } from "./mcp/endpoint.js"

// Layers
/** AppConfig from the environment (or the installed ConfigProvider). */
export { layer as AppConfigLive } from "../layers/config.js"
export { checkConfig, checkIngestConfig, layerFromConfig, layerIngestFromConfig } from "../layers/presets.js"
export * as MemoryCircuitBreaker from "../layers/memory/CircuitBreaker.js"
export * as MemoryIdempotency from "../layers/memory/Idempotency.js"
export * as MemoryJobQueue from "../layers/memory/JobQueue.js"
export * as MemoryLeadStore from "../layers/memory/LeadStore.js"
export * as MemoryAuditLog from "../layers/memory/AuditLog.js"
export * as MemoryRateLimiter from "../layers/memory/RateLimiter.js"
export * as PostgresStores from "../layers/postgres/stores.js"
export * as RedisClient from "../layers/redis/RedisClient.js"
export * as RedisRateLimiter from "../layers/redis/RateLimiter.js"
export * as RedisIdempotency from "../layers/redis/Idempotency.js"
export * as BullMqJobQueue from "../layers/bullmq/JobQueue.js"
export * as MockCrm from "../layers/mock/CrmExecutor.js"
export * as MockEnricher from "../layers/mock/Enricher.js"
export * as SalesforceCrm from "../layers/salesforce/CrmExecutor.js"
export * as HubSpotCrm from "../layers/hubspot/CrmExecutor.js"
export * as HeuristicAnalyzer from "../layers/heuristic/Analyzer.js"
export * as BedrockAnalyzer from "../layers/bedrock/Analyzer.js"
export * as HttpEnricher from "../layers/http/Enricher.js"
export * as SecretsConfig from "../layers/aws/SecretsConfig.js"
export * as PrometheusMetrics from "../layers/observability/Metrics.js"
export * as Logging from "../layers/observability/Logger.js"
export * as Tracing from "../layers/observability/Tracing.js"
export * as Otlp from "../layers/observability/Otlp.js"
