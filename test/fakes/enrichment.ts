import * as Effect from "effect/Effect"
import { serveFake } from "./bedrock.js"

/** A scripted enrichment answer that overrides the table for one call. */
export type EnrichmentReply =
  | { readonly status: number }
  | { readonly hangMs: number }
  /** 200 and the start of a body, then nothing for that long (a provider stalling mid-answer). */
  | { readonly stallBodyMs: number }

/**
 * A Clearbit-style provider: GET /v2/companies/find?domain=x with "Authorization: Bearer <apiKey>".
 * Known domains answer 200 with a provider record (extra fields included), unknown ones 404, a wrong key 401.
 * A domain put in the provider's queue (`queue`) answers 202 with no body, as Clearbit's Company API does while it
 * looks a company up that it has not indexed lately ("not an error", retry later), then the table's answer.
 */
export const makeFakeEnrichment = (apiKey: string, companies: Readonly<Record<string, Record<string, unknown>>>) =>
  Effect.gen(function* () {
    const script: Array<EnrichmentReply> = []
    const queued = new Map<string, { remaining: number; retryAfter: string | undefined }>()
    let currentKey = apiKey
    let outage: number | undefined
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
      else if (reply !== undefined && "stallBodyMs" in reply) {
        res.writeHead(200, { "content-type": "application/json" })
        res.write('{"name":')
        await new Promise((resolve) => setTimeout(resolve, reply.stallBodyMs))
        res.end('"Stalled Inc"}')
        return
      } else if (reply !== undefined) return send(reply.status, { error: { type: "scripted" } })
      if (outage !== undefined) return send(outage, { error: { type: "outage" } })
      const domain = url.searchParams.get("domain") ?? ""
      const lookup = queued.get(domain)
      if (lookup !== undefined && lookup.remaining > 0) {
        lookup.remaining--
        res.writeHead(202, lookup.retryAfter === undefined ? {} : { "retry-after": lookup.retryAfter })
        res.end()
        return
      }
      const company = companies[domain]
      return company === undefined ? send(404, { error: { type: "unknown_record" } }) : send(200, company)
    })
    return {
      ...server,
      /** Queue answers for the next calls, in order. */
      script: (...replies: ReadonlyArray<EnrichmentReply>) => script.push(...replies),
      /**
       * The provider is still looking `domain` up: its next `times` lookups answer 202 (with `Retry-After` when given,
       * seconds or an HTTP-date), later ones the table's answer. `Infinity` keeps it queued.
       */
      queue: (domain: string, times: number, retryAfter?: string) => {
        queued.set(domain, { remaining: times, retryAfter })
      },
      /** Answer every authenticated lookup with `status` from now on (an outage: 503), or, undefined, as before. */
      outage: (status: number | undefined) => {
        outage = status
      },
      /** Accept only this key from now on, as a provider-side rotation would. */
      rotateKey: (key: string) => {
        currentKey = key
      },
      /** The domain asked for by each request so far. */
      domains: () => server.requests.map((r) => new URL(r.path, "http://fake").searchParams.get("domain"))
    }
  })
