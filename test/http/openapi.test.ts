import { Validator } from "@seriousme/openapi-schema-validator"
import * as HttpApi from "@effect/platform/HttpApi"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import type * as AST from "effect/SchemaAST"
import * as Schema from "effect/Schema"
import { LeadInput, strictParseOptions } from "../../src/domain/lead.js"
import { hubspotToLeadInput } from "../../src/domain/webhooks/hubspot.js"
import { marketoToLeadInput } from "../../src/domain/webhooks/marketo.js"
import { IngestApi } from "../../src/http/api.js"
import { memoryEnv, sampleLead } from "../support/env.js"
import { withApi } from "./harness.js"

// biome-ignore lint/suspicious/noExplicitAny: the OpenAPI document as JSON
type Json = any

/** Each route's schemas, from the HttpApi itself: the payload, and the answer's schema per status. */
interface RouteSchemas {
  readonly name: string
  readonly payload: Option.Option<AST.AST>
  readonly answers: ReadonlyMap<number, AST.AST>
}

const routes = (): Map<string, RouteSchemas> => {
  const out = new Map<string, RouteSchemas>()
  HttpApi.reflect(IngestApi, {
    onGroup: () => {},
    onEndpoint: ({ endpoint, successes, errors }) => {
      const answers = new Map<number, AST.AST>()
      for (const [status, { ast }] of [...successes, ...errors]) if (Option.isSome(ast)) answers.set(status, ast.value)
      const path = endpoint.path.replace(/:(\w+)/g, "{$1}")
      out.set(`${endpoint.method.toLowerCase()} ${path}`, {
        name: endpoint.name,
        payload: Option.map(endpoint.payloadSchema, (schema) => schema.ast),
        answers
      })
    }
  })
  return out
}

/** Decodes an example with a schema as strictly as the server decodes input: every error, no unknown keys. */
const check = (ast: AST.AST, example: unknown) =>
  Schema.decodeUnknownEither(Schema.make(ast))(example, strictParseOptions).pipe(
    Either.mapLeft((error) => error.message)
  )

const served = <A>(body: (spec: Json) => Effect.Effect<A, unknown>) =>
  withApi(memoryEnv(), (api) => Effect.flatMap(api.get("/openapi.json"), (reply) => body(reply.json)))

describe("the OpenAPI document", () => {
  it.live("is a valid OpenAPI 3.1 document (checked by an OpenAPI validator)", () =>
    served((spec) =>
      Effect.promise(async () => {
        const validator = new Validator()
        const result = await validator.validate(spec)
        expect(result.errors ?? [], JSON.stringify(result.errors, null, 1)).toEqual([])
        expect(result.valid).toBe(true)
      })
    )
  )

  it.live("every example in it passes its route's schema (requests and every answer)", () =>
    served((spec) =>
      Effect.sync(() => {
        const schemas = routes()
        let checked = 0
        for (const [path, methods] of Object.entries(spec.paths as Json)) {
          for (const [method, op] of Object.entries(methods as Json) as Array<[string, Json]>) {
            const route = schemas.get(`${method} ${path}`)
            expect(route, `${method} ${path} is in the HttpApi`).toBeDefined()
            if (route === undefined) continue
            const request = op.requestBody?.content?.["application/json"]?.example
            if (op.requestBody !== undefined) {
              expect(request, `${op.operationId} has a request example`).toBeDefined()
              expect(Option.isSome(route.payload)).toBe(true)
              if (Option.isSome(route.payload))
                expect(check(route.payload.value, request)).toEqual(Either.right(expect.anything()))
              checked++
            }
            for (const [status, response] of Object.entries(op.responses as Json) as Array<[string, Json]>) {
              for (const [type, media] of Object.entries(response.content ?? {}) as Array<[string, Json]>) {
                expect(media.example, `${op.operationId} ${status} ${type} has an example`).toBeDefined()
                const ast = route.answers.get(Number(status))
                expect(ast, `${op.operationId} declares ${status}`).toBeDefined()
                if (ast === undefined || type.startsWith("text/")) continue
                expect(check(ast, media.example), `${op.operationId} ${status}`).toEqual(
                  Either.right(expect.anything())
                )
                checked++
              }
            }
          }
        }
        expect(checked).toBeGreaterThan(30)
      })
    )
  )

  it.live("the webhook examples map to leads the intake accepts", () =>
    served((spec) =>
      Effect.sync(() => {
        const decode = Schema.decodeUnknownEither(LeadInput)
        const marketo = spec.paths["/webhooks/marketo"].post.requestBody.content["application/json"].example
        const hubspot = spec.paths["/webhooks/hubspot"].post.requestBody.content["application/json"].example
        expect(Either.isRight(decode(marketoToLeadInput(marketo), strictParseOptions))).toBe(true)
        expect(Either.isRight(decode(hubspotToLeadInput(hubspot), strictParseOptions))).toBe(true)
      })
    )
  )

  it.live("says what the server does: 200 and 202 on intake, problem+json errors, security, text/plain metrics", () =>
    served((spec) =>
      Effect.sync(() => {
        for (const path of ["/leads", "/webhooks/marketo", "/webhooks/hubspot"]) {
          const op = spec.paths[path].post
          // 403: POST /leads is behind the API keys, so with none it answers only localhost and the allowed hosts
          expect(Object.keys(op.responses).sort()).toEqual([
            "200",
            "202",
            "400",
            "401",
            ...(path === "/leads" ? ["403"] : []),
            "413",
            "415",
            "503"
          ])
          expect(op.requestBody.content["application/json"].schema).toBeDefined()
          for (const status of ["400", "401", "413", "415", "503"]) {
            expect(Object.keys(op.responses[status].content)).toEqual(["application/problem+json"])
            expect(op.responses[status].content["application/problem+json"].schema).toEqual({
              $ref: "#/components/schemas/Problem"
            })
          }
        }
        expect(Object.keys(spec.paths["/leads/{id}"].get.responses).sort()).toEqual(["200", "401", "403", "404", "503"])
        expect(Object.keys(spec.paths["/leads/{id}/replay"].post.responses).sort()).toEqual([
          "202",
          "401",
          "403",
          "404",
          "409",
          "503"
        ])
        expect(Object.keys(spec.paths["/metrics"].get.responses["200"].content)[0]).toMatch(/^text\/plain/)
        expect(spec.components.securitySchemes.apiKey).toEqual(
          expect.objectContaining({ type: "apiKey", in: "header", name: "X-API-Key" })
        )
        expect(spec.paths["/leads"].post.security).toEqual([{ apiKey: [] }, { bearer: [] }])
        expect(spec.paths["/healthz"].get.security).toEqual([])
        // `limit` says what it takes: decimal digits, 1 to 500 (not "a string to be decoded into a number")
        for (const path of ["/leads", "/dead-letters"]) {
          const limit = spec.paths[path].get.parameters.find((p: { readonly name: string }) => p.name === "limit")
          expect(limit, path).toMatchObject({ in: "query", required: false })
          expect(limit.schema).toMatchObject({ type: "string", pattern: "^[0-9]{1,3}$" })
          expect(limit.schema.description).toContain("1 to 500")
        }
        const text = JSON.stringify(spec)
        expect(text).not.toContain("a string to be decoded into a number")
        expect(text).not.toContain("a string that will be trimmed")
        expect(text).not.toContain("HttpApiDecodeError")
      })
    )
  )

  it.live("the server answers as documented: a 404 is problem+json, /metrics text/plain, a duplicate 200", () =>
    withApi(memoryEnv(), (api) =>
      Effect.gen(function* () {
        const spec = (yield* api.get("/openapi.json")).json
        const missing = yield* api.get("/leads/0b9f8a52-3c1e-4c57-9d7b-2f8e6d1a4c30")
        expect(missing.status).toBe(404)
        expect(Object.keys(spec.paths["/leads/{id}"].get.responses["404"].content)).toEqual([
          missing.headers["content-type"]
        ])
        const metrics = yield* api.get("/metrics")
        expect(String(Object.keys(spec.paths["/metrics"].get.responses["200"].content)[0]).split(";")[0]).toBe(
          String(metrics.headers["content-type"]).split(";")[0]
        )
        const lead = sampleLead()
        expect((yield* api.postJson("/leads", lead)).status).toBe(202)
        const duplicate = yield* api.postJson("/leads", lead)
        expect(duplicate.status).toBe(200)
        expect(spec.paths["/leads"].post.responses["200"]).toBeDefined()
      })
    )
  )
})
