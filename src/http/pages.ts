import { createHash } from "node:crypto"
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import { type AssetName, asset, files } from "./assets.js"

/**
 * The API reference page: Swagger UI (swagger-ui-dist, pinned in package.json) served by the ingest, reading
 * /openapi.json. No CDN: it works offline and behind a firewall. validatorUrl null: Swagger UI would otherwise send
 * the document to an online validator.
 */
const docsInit = `
      window.ui = SwaggerUIBundle({
        url: "/openapi.json",
        dom_id: "#swagger-ui",
        deepLinking: true,
        validatorUrl: null,
        tryItOutEnabled: false
      })
    `
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
    <script>${docsInit}</script>
  </body>
</html>
`

/**
 * What a browser may do with a page: scripts, styles and requests from this server only, and no framing by another
 * site (the console's Replay button must not be clickable through someone else's page). The docs page's one inline
 * script is allowed by its hash; Swagger UI sets inline styles and draws its icons from data: URLs.
 */
const pageHeaders = (scriptSources: string, styleSources: string) => ({
  "content-security-policy": [
    "default-src 'self'",
    `script-src ${scriptSources}`,
    `style-src ${styleSources}`,
    "img-src 'self' data:",
    "font-src 'self' data:",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'"
  ].join("; "),
  "x-frame-options": "DENY",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer"
})

const docsHeaders = pageHeaders(
  `'self' 'sha256-${createHash("sha256").update(docsInit).digest("base64")}'`,
  "'self' 'unsafe-inline'"
)
const consoleHeaders = pageHeaders("'self'", "'self'")

/** Each file's ETag: a hash of its bytes, so a release that changes a file changes its tag. */
const etags = new WeakMap<Uint8Array, string>()
const etagOf = (body: Uint8Array): string => {
  let etag = etags.get(body)
  if (etag === undefined) {
    etag = `"${createHash("sha256").update(body).digest("base64url").slice(0, 32)}"`
    etags.set(body, etag)
  }
  return etag
}

/** If-None-Match names this tag (weakly compared, as RFC 9110 says for it), or is `*`. */
const stillFresh = (ifNoneMatch: string | undefined, etag: string): boolean =>
  (ifNoneMatch ?? "").split(",").some((tag) => {
    const candidate = tag.trim()
    return candidate === "*" || candidate.replace(/^W\//, "") === etag
  })

/**
 * A static file, revalidated on every use (`no-cache` with an ETag: 304 and no body while it is unchanged). A page and
 * its script must come from one release: with a lifetime, a browser would run a new console.html with the old
 * console.js (or the docs page with another Swagger UI) for as long as that lasted after an upgrade.
 */
const serve = (name: AssetName, headers: Record<string, string> = {}) =>
  Effect.gen(function* () {
    const body = yield* asset(name)
    const request = yield* HttpServerRequest.HttpServerRequest
    const etag = etagOf(body)
    const common = { "cache-control": "no-cache", etag, "x-content-type-options": "nosniff", ...headers }
    return stillFresh(request.headers["if-none-match"], etag)
      ? HttpServerResponse.empty({ status: 304, headers: common })
      : HttpServerResponse.uint8Array(body, { contentType: files[name], headers: common })
  })

/** GET /docs (API reference) and GET /console (the operator console), with their static files. */
export const layer: Layer.Layer<never, never, never> = HttpApiBuilder.Router.use((router) =>
  Effect.all([
    router.get(
      "/docs",
      Effect.succeed(
        HttpServerResponse.text(docsPage, { contentType: "text/html; charset=utf-8", headers: docsHeaders })
      )
    ),
    router.get("/docs/assets/swagger-ui-bundle.js", serve("swagger-ui-bundle.js")),
    router.get("/docs/assets/swagger-ui.css", serve("swagger-ui.css")),
    router.get("/console", serve("console.html", consoleHeaders)),
    router.get("/console/console.js", serve("console.js")),
    router.get("/console/console.css", serve("console.css"))
  ])
)
