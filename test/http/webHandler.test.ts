import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { HttpApiWeb } from "../../src/http/server.js"
import { memoryEnv, sampleLead } from "../support/env.js"
import { type Reply, withApi } from "./harness.js"

interface Case {
  readonly name: string
  readonly headers: Record<string, string>
  readonly body: string | Buffer
}

const json = { "content-type": "application/json" }
const lead = JSON.stringify(sampleLead({ email: "web.handler@globex.com" }))
// in order: accepted, the same lead again, bad JSON, bad UTF-8, too large, wrong type, a field the schema refuses
const cases: ReadonlyArray<Case> = [
  { name: "accepted", headers: json, body: lead },
  { name: "duplicate", headers: json, body: lead },
  { name: "bad JSON", headers: json, body: '{"email": ' },
  { name: "bad UTF-8", headers: json, body: Buffer.from([0x7b, 0x22, 0xc3, 0x28, 0x22, 0x7d]) },
  { name: "oversized", headers: json, body: JSON.stringify({ ...sampleLead(), pad: "x".repeat(70 * 1024) }) },
  { name: "wrong type", headers: { "content-type": "text/plain" }, body: lead },
  { name: "schema", headers: json, body: JSON.stringify({ email: "not an address" }) }
]

/** What a client compares: status, content type and the body without the per-lead fields (ids, times). */
const shape = (status: number, contentType: string | null, text: string) => {
  const body = JSON.parse(text)
  const { id: _id, createdAt: _c, updatedAt: _u, lead: _lead, ...rest } = body
  return { status, contentType, body: rest }
}

describe("the ingest API through HttpApiBuilder.toWebHandler (web Request / Response)", () => {
  it.live(
    "POST /leads answers as the Node server does: 202, 200 duplicate, 400s, 413, 415 with the same problems",
    () =>
      Effect.gen(function* () {
        const viaNode = yield* withApi(memoryEnv(), (api) =>
          Effect.forEach(cases, (c) =>
            api
              .send("POST", "/leads", { headers: c.headers, body: c.body })
              .pipe(
                Effect.map((reply: Reply) => shape(reply.status, String(reply.headers["content-type"]), reply.text))
              )
          )
        )
        const { handler, dispose } = HttpApiBuilder.toWebHandler(HttpApiWeb.pipe(Layer.provideMerge(memoryEnv())))
        const viaWeb: Array<ReturnType<typeof shape>> = []
        try {
          for (const c of cases) {
            const response = yield* Effect.promise(() =>
              handler(
                new Request("https://ingest.example.com/leads", {
                  method: "POST",
                  headers: c.headers,
                  body: typeof c.body === "string" ? c.body : new Uint8Array(c.body)
                })
              )
            )
            const text = yield* Effect.promise(() => response.text())
            viaWeb.push(shape(response.status, response.headers.get("content-type"), text))
          }
          // an unknown route and a lead read back are answered too
          const missing = yield* Effect.promise(() => handler(new Request("https://ingest.example.com/nowhere")))
          expect(missing.status).toBe(404)
          expect(missing.headers.get("content-type")).toMatch(/^application\/problem\+json/)
        } finally {
          yield* Effect.promise(dispose)
        }
        expect(viaNode.map((r) => r.status)).toEqual([202, 200, 400, 400, 413, 415, 400])
        expect(viaWeb).toEqual(viaNode)
      })
  )
})
