import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import { type AssetName, asset, files } from "./assets.js"

/**
 * The API reference page: Swagger UI (swagger-ui-dist, pinned in package.json) served by the ingest, reading
 * /openapi.json. No CDN: it works offline and behind a firewall. validatorUrl null: Swagger UI would otherwise send
 * the document to an online validator.
 */
const docsPage = `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <title>RevenueFlow ingest API</title>
    <link rel="stylesheet" href="/docs/assets/swagger-ui.css" />
  </head>
  <body>
    <div id="swagger-ui"></div>
    <script src="/docs/assets/swagger-ui-bundle.js"></script>
    <script>
      window.ui = SwaggerUIBundle({
        url: "/openapi.json",
        dom_id: "#swagger-ui",
        deepLinking: true,
        validatorUrl: null,
        tryItOutEnabled: false
      })
    </script>
  </body>
</html>
`

/** A static file; versioned by the package (docs) or the release (console), so it may be cached briefly. */
const serve = (name: AssetName) =>
  asset(name).pipe(
    Effect.map((body) =>
      HttpServerResponse.uint8Array(body, {
        contentType: files[name],
        headers: { "cache-control": "public, max-age=300", "x-content-type-options": "nosniff" }
      })
    )
  )

/** GET /docs (API reference) and GET /console (the operator console), with their static files. */
export const layer: Layer.Layer<never, never, never> = HttpApiBuilder.Router.use((router) =>
  Effect.all([
    router.get("/docs", Effect.succeed(HttpServerResponse.html(docsPage))),
    router.get("/docs/assets/swagger-ui-bundle.js", serve("swagger-ui-bundle.js")),
    router.get("/docs/assets/swagger-ui.css", serve("swagger-ui.css")),
    router.get("/console", serve("console.html")),
    router.get("/console/console.js", serve("console.js")),
    router.get("/console/console.css", serve("console.css"))
  ])
)
