/**
 * The routes the servers answer without the HttpApi's router: their methods and paths, which the HttpApi's
 * declaration (api.ts) uses for the same endpoints, so the two cannot differ. The ingest's node:http server answers
 * them as soon as it listens, before the HttpApi is loaded (./intake.ts); the consumer's metrics server answers the
 * ops routes alone (src/programs/metricsServer.ts).
 */
export const directRoutes = {
  /** The intake: one request per lead. */
  createLead: { method: "POST", path: "/leads" },
  marketo: { method: "POST", path: "/webhooks/marketo" },
  hubspot: { method: "POST", path: "/webhooks/hubspot" },
  /** Liveness, readiness and Prometheus metrics (never behind the API keys: probes and scrapers have none). */
  healthz: { method: "GET", path: "/healthz" },
  readyz: { method: "GET", path: "/readyz" },
  metrics: { method: "GET", path: "/metrics" }
} as const

/** The intake routes' names, as the HttpApi names their endpoints. */
export const intakeRouteNames = ["createLead", "marketo", "hubspot"] as const
export type IntakeRouteName = (typeof intakeRouteNames)[number]
/** The ops routes' names. */
export const opsRouteNames = ["healthz", "readyz", "metrics"] as const
export type OpsRouteName = (typeof opsRouteNames)[number]
