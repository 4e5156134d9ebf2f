import { describe, expect, it } from "@effect/vitest"
import type * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Effect from "effect/Effect"
import { acceptUntrusted, storeUnavailable, unavailable } from "../../src/http/leadAnswers.js"
import { healthy, ingestReadiness, scrape } from "../../src/http/opsAnswers.js"
import { problem } from "../../src/http/problem.js"
import { framed } from "../../src/http/serving.js"
import { memoryEnv, sampleLead } from "../support/env.js"

/**
 * The answers the ingest's server builds carry no-store and nosniff themselves, so `framed` hands them on as they
 * are: the accepted lead's answer (the hot path) is not copied to add two headers.
 */

const route = { method: "POST", path: "/leads" }

/** The answer as `framed` hands it on, and whether that is the very response the handler gave (no copy). */
const throughFramed = (response: HttpServerResponse.HttpServerResponse) =>
  Effect.map(
    framed(route, () => Effect.succeed(response))({ method: "POST", url: "/leads", headers: {} } as never),
    (answer) => ({ answer, uncopied: answer === response })
  )

const expectBuiltUnsniffedUncached = (response: HttpServerResponse.HttpServerResponse, what: string) =>
  Effect.map(throughFramed(response), ({ answer, uncopied }) => {
    expect(response.headers["cache-control"], what).toBe("no-store")
    expect(response.headers["x-content-type-options"], what).toBe("nosniff")
    expect(uncopied, what).toBe(true)
    expect(answer.headers.location, what).toBe(response.headers.location)
  })

describe("the ingest's answers are built uncached and unsniffed", () => {
  it.live("an accepted lead (202 and the duplicate's 200), the 503s, a problem, the ops answers", () =>
    Effect.gen(function* () {
      const lead = sampleLead()
      const created = yield* acceptUntrusted(lead, "api")
      expect(created.status).toBe(202)
      expect(created.headers.location).toMatch(/^\/leads\//)
      yield* expectBuiltUnsniffedUncached(created, "202")
      const duplicate = yield* acceptUntrusted(lead, "api")
      expect(duplicate.status).toBe(200)
      yield* expectBuiltUnsniffedUncached(duplicate, "200")
      yield* expectBuiltUnsniffedUncached(unavailable, "503 unconfirmed")
      yield* expectBuiltUnsniffedUncached(storeUnavailable, "503 store")
      yield* expectBuiltUnsniffedUncached(problem(401, "no key", { headers: { "www-authenticate": "Bearer" } }), "401")
      yield* expectBuiltUnsniffedUncached(healthy, "/healthz")
      yield* expectBuiltUnsniffedUncached(yield* ingestReadiness, "/readyz")
      yield* expectBuiltUnsniffedUncached(yield* scrape, "/metrics")
    }).pipe(Effect.provide(memoryEnv()))
  )
})
