import * as HttpApi from "@effect/platform/HttpApi"
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import type * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as OpenApi from "@effect/platform/OpenApi"
import * as Effect from "effect/Effect"
import * as JSONSchema from "effect/JSONSchema"
import { operationExamples, problemExamples } from "./examples.js"
import { Problem } from "./problem.js"

// biome-ignore lint/suspicious/noExplicitAny: the OpenAPI document is plain JSON, shaped by the platform
type Json = Record<string, any>

/** Security requirements: the API keys (either header), a webhook's own check, or none. */
export const securedBy = (scheme: "apiKey" | "marketoToken" | "hubspotSignature"): ReadonlyArray<Json> =>
  scheme === "apiKey" ? [{ apiKey: [] }, { bearer: [] }] : [{ [scheme]: [] }]
/** Probes and scrapers carry no key. */
export const publicRoute: ReadonlyArray<Json> = []

/** The security schemes the ingest checks (the handlers check them; see leads.ts and webhooks.ts). */
const securitySchemes = {
  apiKey: {
    type: "apiKey",
    in: "header",
    name: "X-API-Key",
    description: "One of INGEST_API_KEYS. Required only when INGEST_API_KEYS is set."
  },
  bearer: { type: "http", scheme: "bearer", description: "The same API key as Authorization: Bearer <key>." },
  marketoToken: {
    type: "apiKey",
    in: "header",
    name: "X-RevenueFlow-Token",
    description: "The shared token (MARKETO_WEBHOOK_TOKEN) set as a custom header on the Marketo webhook."
  },
  hubspotSignature: {
    type: "apiKey",
    in: "header",
    name: "X-HubSpot-Signature-v3",
    description: "HubSpot's v3 signature (HMAC-SHA256 with HUBSPOT_APP_SECRET) with X-HubSpot-Request-Timestamp."
  }
}

const descriptions: Readonly<Record<number, string>> = {
  200: "OK",
  202: "Accepted",
  400: "The request is invalid; `errors` names each bad field (problem details)",
  401: "Authentication is missing or wrong (problem details)",
  404: "No such lead (problem details)",
  409: "The lead is not in a state that allows this (problem details)",
  413: "The body is larger than MAX_BODY_BYTES (problem details)",
  415: "The body is not application/json (problem details)",
  503: "The lead store is unavailable; retry after Retry-After seconds (problem details)"
}

const intakeDescriptions: Readonly<Record<number, string>> = {
  202: "A new lead: stored and queued",
  200: "A duplicate (same email and campaign): the stored lead; nothing new is queued"
}

const problemRef = { $ref: "#/components/schemas/Problem" }

/** True when a response's schema is (or includes) the platform's decode error or our Problem. */
const isProblemLike = (content: Json | undefined) =>
  content !== undefined &&
  ("application/problem+json" in content ||
    /HttpApiDecodeError|components\/schemas\/Problem"/.test(JSON.stringify(content)))

/**
 * An endpoint's OpenAPI transform: its security, a description for every answer, problem details declared as the
 * server sends them (application/problem+json), and the examples of examples.ts on each body.
 */
export const documented =
  (name: string, security: ReadonlyArray<Json>) =>
  (operation: Json): Json => {
    const op: Json = { ...operation, security: [...security] }
    // a path id is any string: only a body or a query parameter can fail to decode
    const hasInput = op.requestBody !== undefined || (op.parameters ?? []).some((p: Json) => p.in === "query")
    const examples = operationExamples[name] ?? {}
    const isIntake = op.requestBody !== undefined && op.responses["202"] !== undefined
    const responses: Json = {}
    for (const [status, response] of Object.entries(op.responses as Json)) {
      const code = Number(status)
      if (code >= 400 && isProblemLike(response.content)) {
        // the platform adds its decode error to every route; a route without input cannot answer it
        if (code === 400 && !hasInput) continue
        responses[status] = {
          description: descriptions[code] ?? "Error",
          content: { "application/problem+json": { schema: problemRef, example: problemExamples[code] } }
        }
        continue
      }
      const example = examples.responses?.[code]
      const content =
        response.content === undefined
          ? undefined
          : Object.fromEntries(
              Object.entries(response.content as Json).map(([type, media]) => [
                type,
                example === undefined ? media : { ...media, example }
              ])
            )
      responses[status] = {
        ...response,
        description: (isIntake ? intakeDescriptions[code] : undefined) ?? descriptions[code] ?? response.description,
        ...(content ? { content } : {})
      }
    }
    op.responses = responses
    if (op.requestBody !== undefined && examples.request !== undefined) {
      const content = op.requestBody.content as Json
      op.requestBody = {
        ...op.requestBody,
        content: Object.fromEntries(
          Object.entries(content).map(([type, media]) => [type, { ...media, example: examples.request }])
        )
      }
    }
    op.parameters = (op.parameters ?? []).map((parameter: Json) =>
      parameter.in === "path" && parameter.name === "id"
        ? { ...parameter, description: "The lead's id (a UUID)" }
        : parameter
    )
    return op
  }

/** The whole document: the security schemes, and the decode-error schemas no route refers to any more. */
export const finishDocument = (spec: Json): Json => {
  const schemas: Json = { ...spec.components.schemas }
  const text = JSON.stringify(spec.paths)
  for (const unused of ["HttpApiDecodeError", "Issue", "PropertyKey"]) {
    if (!text.includes(`#/components/schemas/${unused}"`)) delete schemas[unused]
  }
  schemas.Problem = (JSONSchema.make(Problem, { target: "openApi3.1" }) as Json).$defs.Problem
  return { ...spec, components: { ...spec.components, schemas, securitySchemes } }
}

/**
 * GET `path`: the API's OpenAPI document, as `HttpApiBuilder.middlewareOpenApi` serves it, but built on the first
 * request instead of at start-up (walking every endpoint's schemas costs ~100 ms of CPU that no probe or lead needs).
 */
export const layerDocument = (path: HttpRouter.PathInput = "/openapi.json") =>
  HttpApiBuilder.Router.use((router) =>
    Effect.gen(function* () {
      const { api } = yield* HttpApi.Api
      const response = yield* Effect.cached(
        Effect.suspend(() => HttpServerResponse.json(OpenApi.fromApi(api)).pipe(Effect.orDie))
      )
      yield* router.get(path, response)
    })
  )
