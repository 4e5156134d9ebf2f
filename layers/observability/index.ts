/**
 * `revenueflow/observability`: Prometheus metrics, the redacting logger, tracing, CloudWatch EMF, and the OTLP
 * exporter (optional peers: @effect/opentelemetry and the @opentelemetry packages, used by Otlp only).
 */
export * as CloudWatchEmf from "./CloudWatchEmf.js"
export * as Logging from "./Logger.js"
export * as PrometheusMetrics from "./Metrics.js"
export * as Otlp from "./Otlp.js"
export * as Tracing from "./Tracing.js"
