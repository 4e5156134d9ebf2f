import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import type * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import { AppConfig } from "../../services/AppConfig.js"
import { AuditLog } from "../../services/AuditLog.js"
import { LeadStore } from "../../services/LeadStore.js"
import { IngestApi } from "./api.js"
import { makeApiKeyCheck, presentedKey } from "./auth.js"
import { readJsonBody } from "./body.js"
import { problem } from "./problem.js"
import { acceptUntrusted, leadView, unavailable, viewResponse } from "./respond.js"

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/** POST /leads and GET /leads/:id, behind the optional API keys. */
export const LeadsLive = HttpApiBuilder.group(IngestApi, "leads", (handlers) =>
  Effect.gen(function* () {
    const config = yield* AppConfig
    const authorized = makeApiKeyCheck(Option.getOrElse(config.apiKeys, () => Redacted.make([])))
    const denied = problem(401, "A valid API key is required (X-API-Key or Authorization: Bearer)", {
      headers: { "www-authenticate": 'Bearer realm="revenueflow"' }
    })
    const guard = (request: HttpServerRequest.HttpServerRequest) =>
      authorized(presentedKey(request.headers)) ? Effect.void : Effect.fail(denied)

    return handlers
      .handleRaw("createLead", ({ request }) =>
        Effect.gen(function* () {
          yield* guard(request)
          const body = yield* readJsonBody(request, config.maxBodyBytes)
          return yield* acceptUntrusted(body.json, "api")
        }).pipe(Effect.merge, Effect.withSpan("http.createLead", { captureStackTrace: false }))
      )
      .handleRaw("getLead", ({ request, path }) =>
        Effect.gen(function* () {
          yield* guard(request)
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
