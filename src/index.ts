/**
 * RevenueFlow's public API (the core): the services (tags, interfaces, errors), the domain rules and schemas, the
 * pipeline stages, the HTTP API, configuration (from the environment or from code), the presets that pick every
 * backend from configuration, and the dependency-free layers (memory, mock, heuristic, HTTP enrichment, metrics,
 * logging, tracing). It loads no provider client: Postgres, Redis, BullMQ, Salesforce, HubSpot, Bedrock, Secrets
 * Manager, OTLP and MCP live behind subpaths (`revenueflow/postgres`, ...) and the presets import them only when
 * the configuration selects them. Test environments: `revenueflow/testing`.
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
export * as TraceContext from "./domain/traceContext.js"
export { type ErrorText, errorText, maskEmail, redact, redactText } from "./domain/redact.js"
export { actionKey, type CrmAction, isToolName, ToolName, ToolParams, toolNames } from "./domain/tools.js"

// Pipeline
export { type Accepted, acceptLead } from "./pipeline/accept.js"
export { runConsumer } from "./pipeline/consumer.js"
export { type ActionOutcome, executeAction, type RunActionOptions, runAction } from "./pipeline/execute.js"
export { fateOf } from "./pipeline/fate.js"
export { deadLetter, processLead } from "./pipeline/process.js"
export {
  type ReplayError,
  type ReplayOutcome,
  type ReplayResult,
  replayAll,
  replayLead
} from "./pipeline/replay.js"
export { runSweeper, sweepOnce } from "./pipeline/sweeper.js"

// HTTP
export { IngestApi } from "./http/api.js"
export { Problem } from "./http/problem.js"
export { HttpApiServed, IngestApiLive } from "./http/server.js"
/** Provide as `true` where no API key is set: the guarded routes then refuse a DNS name other than localhost (403). */
export { CheckHostHeader } from "./http/intakeHandlers.js"
export { HttpServerLive } from "./http/serverLive.js"
export { causeResponse, problemMiddleware } from "./http/serving.js"

// MCP (the server itself, with the SDK, is the `revenueflow/mcp` subpath)
/** The /mcp endpoint HttpServerLive serves: provide McpEndpointLive to your own ingest server to answer /mcp. */
export { layer as McpEndpointLive, McpEndpoint } from "./mcp/endpoint.js"

// Configuration
/** AppConfig from the environment (or the installed ConfigProvider). */
export { layer as AppConfigLive } from "../layers/config.js"
export {
  type AppConfigOptions,
  layerWith,
  providerOf,
  type Secret,
  type SettingValue,
  settingNames,
  settingsOf
} from "../layers/config.js"
export { InvalidConfiguration } from "../layers/shared/config.js"
/** Redis could not answer (layerFromConfig's error with REDIS_URL set): its tag, without loading ioredis. */
export { RedisUnavailable } from "../layers/shared/RedisUnavailable.js"
export { missingPackageOf } from "../layers/shared/optionalPackage.js"
export { throughBreaker } from "../layers/shared/breakerNames.js"

// Presets: every backend chosen by configuration, provider clients imported only when selected
export { checkConfig, checkIngestConfig, layerFromConfig, layerIngestFromConfig } from "../layers/presets.js"

// Layers without provider clients (the others: revenueflow/postgres, /redis, /bullmq, /salesforce, /hubspot,
// /bedrock, /aws, /otlp, /mcp; test environments: revenueflow/testing)
export * as MemoryCircuitBreaker from "../layers/memory/CircuitBreaker.js"
export * as MemoryIdempotency from "../layers/memory/Idempotency.js"
export * as MemoryJobQueue from "../layers/memory/JobQueue.js"
export * as MemoryLeadStore from "../layers/memory/LeadStore.js"
export * as MemoryAuditLog from "../layers/memory/AuditLog.js"
export * as MemoryRateLimiter from "../layers/memory/RateLimiter.js"
export * as MockCrm from "../layers/mock/CrmExecutor.js"
export * as MockEnricher from "../layers/mock/Enricher.js"
export * as HeuristicAnalyzer from "../layers/heuristic/Analyzer.js"
export * as HttpEnricher from "../layers/http/Enricher.js"
export * as PrometheusMetrics from "../layers/observability/Metrics.js"
export * as Logging from "../layers/observability/Logger.js"
export * as Tracing from "../layers/observability/Tracing.js"
