import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import type * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import { AppConfig } from "../../services/AppConfig.js"
import { AuditLog } from "../../services/AuditLog.js"
import type { JobQueue } from "../../services/JobQueue.js"
import type { Metrics } from "../../services/Metrics.js"
import { LeadStore } from "../../services/LeadStore.js"
import { IngestApi } from "./api.js"
import { makeApiKeyCheck, presentedKey, type RequestHeaders } from "./auth.js"
import { fromPlatform, type IntakeRequest, readJsonBody } from "./body.js"
import { problem } from "./problem.js"
import { acceptUntrusted, leadView, unavailable, viewResponse } from "./respond.js"

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/** Answers a request without a valid API key (when keys are configured). */
const deniedResponse = problem(401, "A valid API key is required (X-API-Key or Authorization: Bearer)", {
  headers: { "www-authenticate": 'Bearer realm="revenueflow"' }
})

/** The API key check for the configured keys (INGEST_API_KEYS; none configured: open). */
const makeGuard = (config: AppConfig.Service) => {
  const authorized = makeApiKeyCheck(Option.getOrElse(config.apiKeys, () => Redacted.make([])))
  return (headers: RequestHeaders) => (authorized(presentedKey(headers)) ? Effect.void : Effect.fail(deniedResponse))
}

/** An intake route's handler: always a response (client errors included), never a failure. */
export type IntakeHandler = (
  request: IntakeRequest
) => Effect.Effect<HttpServerResponse.HttpServerResponse, never, LeadStore | JobQueue | Metrics>

/**
 * POST /leads: 401, 415, 413, 400 or the accepted lead. Served by the HttpApi handler below and, in the ingest
 * program, directly on node:http (see ./intake.ts).
 */
export const makeCreateLead = (config: AppConfig.Service): IntakeHandler => {
  const guard = makeGuard(config)
  return (request) =>
    Effect.gen(function* () {
      yield* guard(request.headers)
      const body = yield* readJsonBody(request, config.maxBodyBytes)
      return yield* acceptUntrusted(body.json, "api", { storeTimeoutMs: config.ingestStoreTimeoutMs })
    }).pipe(Effect.merge, Effect.withSpan("http.createLead", { captureStackTrace: false }))
}

/** POST /leads and GET /leads/:id, behind the optional API keys. */
export const LeadsLive = HttpApiBuilder.group(IngestApi, "leads", (handlers) =>
  Effect.gen(function* () {
    const config = yield* AppConfig
    const guard = makeGuard(config)
    const createLead = makeCreateLead(config)

    return handlers
      .handleRaw("createLead", ({ request }) => createLead(fromPlatform(request)))
      .handleRaw("getLead", ({ request, path }) =>
        Effect.gen(function* () {
          yield* guard(request.headers)
          const notFound = problem(404, `No lead with id ${JSON.stringify(path.id)}`)
          if (!UUID.test(path.id)) return notFound
          const store = yield* LeadStore
          const audit = yield* AuditLog
          return yield* Effect.all([store.get(path.id), audit.listForLead(path.id)]).pipe(
            Effect.map(([lead, actions]) => viewResponse(leadView(lead, actions), 200)),
            Effect.catchTags({
              LeadNotFound: () => Effect.succeed(notFound),
              StoreUnavailable: () => Effect.succeed(unavailable)
            })
          )
        }).pipe(Effect.merge)
      )
  })
)
