/**
 * `revenueflow/observability`: Prometheus metrics, the redacting logger, tracing and CloudWatch EMF; no optional
 * peer. Tracing.layerConfig loads the OTLP exporter when OTEL_EXPORTER_OTLP_ENDPOINT is set; the exporter's layer
 * itself is `revenueflow/otlp` (optional peers: @effect/opentelemetry and the @opentelemetry packages).
 */
export * as CloudWatchEmf from "./CloudWatchEmf.js"
export * as Logging from "./Logger.js"
export * as PrometheusMetrics from "./Metrics.js"
export * as Tracing from "./Tracing.js"
