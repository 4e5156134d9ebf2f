import * as Effect from "effect/Effect"
import { serveFake } from "./bedrock.js"

/** A scripted enrichment answer that overrides the table for one call. */
export type EnrichmentReply = { readonly status: number } | { readonly hangMs: number }

/**
 * A Clearbit-style provider: GET /v2/companies/find?domain=x with "Authorization: Bearer <apiKey>".
 * Known domains answer 200 with a provider record (extra fields included), unknown ones 404, a wrong key 401.
 */
export const makeFakeEnrichment = (apiKey: string, companies: Readonly<Record<string, Record<string, unknown>>>) =>
  Effect.gen(function* () {
    const script: Array<EnrichmentReply> = []
    let currentKey = apiKey
    const server = yield* serveFake(async (request, res) => {
      const url = new URL(request.path, "http://fake")
      const send = (status: number, body: unknown) => {
        res.writeHead(status, { "content-type": "application/json" })
        res.end(JSON.stringify(body))
      }
      if (request.headers.authorization !== `Bearer ${currentKey}`)
        return send(401, { error: { type: "auth_required" } })
      if (request.method !== "GET" || url.pathname !== "/v2/companies/find") return send(404, { error: "no route" })
      const reply = script.shift()
      if (reply !== undefined && "hangMs" in reply) await new Promise((resolve) => setTimeout(resolve, reply.hangMs))
      else if (reply !== undefined) return send(reply.status, { error: { type: "scripted" } })
      const company = companies[url.searchParams.get("domain") ?? ""]
      return company === undefined ? send(404, { error: { type: "unknown_record" } }) : send(200, company)
    })
    return {
      ...server,
      /** Queue answers for the next calls, in order. */
      script: (...replies: ReadonlyArray<EnrichmentReply>) => script.push(...replies),
      /** Accept only this key from now on, as a provider-side rotation would. */
      rotateKey: (key: string) => {
        currentKey = key
      },
      /** The domain asked for by each request so far. */
      domains: () => server.requests.map((r) => new URL(r.path, "http://fake").searchParams.get("domain"))
    }
  })
