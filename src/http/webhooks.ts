import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as Effect from "effect/Effect"
import { AppConfig } from "../../services/AppConfig.js"
import { IngestApi } from "./api.js"
import { fromPlatform } from "./body.js"
import { makeHubspotWebhook, makeMarketoWebhook } from "./intakeHandlers.js"

/** POST /webhooks/marketo and POST /webhooks/hubspot in the HttpApi. */
export const WebhooksLive = HttpApiBuilder.group(IngestApi, "webhooks", (handlers) =>
  Effect.gen(function* () {
    const config = yield* AppConfig
    const marketo = makeMarketoWebhook(config)
    const hubspot = makeHubspotWebhook(config)
    return handlers
      .handleRaw("marketo", ({ request }) => marketo(fromPlatform(request)))
      .handleRaw("hubspot", ({ request }) => hubspot(fromPlatform(request)))
  })
)
