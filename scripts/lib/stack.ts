import * as Effect from "effect/Effect"
import type { Isolation } from "./isolation.js"
import { freePort, type Program, startProgram } from "./processes.js"

/** The HubSpot executor pointed at a local fake (or the recording proxy in front of it). */
export const hubSpotEnv = (baseUrl: string, token = "pat-na1-fake-token"): Record<string, string> => ({
  CRM_PROVIDER: "HUBSPOT",
  HUBSPOT_BASE_URL: baseUrl,
  HUBSPOT_ACCESS_TOKEN: token,
  // the burst limit the local fakes of the integration tests and chaos runs are started with
  HUBSPOT_BURST_LIMIT: "100000"
})

/**
 * The environment every program of one isolated run shares: the run's Postgres schema and Redis prefix / queue,
 * a CRM, quiet logs, and fast timings a test can wait for. `extra` wins.
 */
export const programEnv = (
  isolation: Isolation,
  crm: Record<string, string>,
  extra: Record<string, string> = {}
): Record<string, string> => ({
  ...isolation.env,
  ...crm,
  HOST: "127.0.0.1",
  LOG_LEVEL: "Info",
  DATABASE_POOL_SIZE: "5",
  ANALYZER: "HEURISTIC",
  ENRICHMENT_PROVIDER: "MOCK",
  JOB_BACKOFF_MS: "200",
  JOB_BACKOFF_JITTER: "0.5",
  SHUTDOWN_TIMEOUT_MS: "5000",
  SWEEP_INTERVAL_MS: "2000",
  SWEEP_MIN_AGE_MS: "3000",
  // a claimed action outlives the CRM call it guards (start-up refuses otherwise)
  CRM_TIMEOUT_MS: "5000",
  IDEMPOTENCY_IN_PROGRESS_TTL_MS: "10000",
  ...extra
})

/** Start the ingest on a free PORT (ready when /readyz says 200). */
export const startIngest = (env: Record<string, string>, name = "ingest") =>
  Effect.flatMap(freePort, (port) => startProgram({ program: "ingest", name, env: { ...env, PORT: String(port) } }))

/**
 * Start a consumer with its metrics on a free METRICS_PORT: started once its /readyz says 200 (Redis and Postgres
 * answer), or with `readyWhen: "listening"` once it answers at all (to start one while a dependency is down).
 */
export const startConsumer = (
  env: Record<string, string>,
  name = "consumer",
  readyWhen: "ready" | "listening" = "ready"
) =>
  Effect.flatMap(freePort, (port) =>
    startProgram({ program: "consumer", name, env: { ...env, METRICS_PORT: String(port) }, readyWhen })
  )

/** Start several programs at once (tsx start-up dominates; in parallel it is paid once). */
export const startAll = <const T extends ReadonlyArray<Effect.Effect<Program, unknown, unknown>>>(programs: T) =>
  Effect.all(programs, { concurrency: "unbounded" })
