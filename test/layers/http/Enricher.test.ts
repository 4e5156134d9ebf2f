import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Logger from "effect/Logger"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Schedule from "effect/Schedule"
import * as TestClock from "effect/TestClock"
import { ENRICHMENT_BREAKER, type HttpEnricherOptions, make, retryAfterMs } from "../../../layers/http/Enricher.js"
import * as MemoryBreaker from "../../../layers/memory/CircuitBreaker.js"
import { CircuitBreaker } from "../../../services/CircuitBreaker.js"
import { makeFakeEnrichment } from "../../fakes/enrichment.js"

const apiKey = "sk_test_enrichment_DO_NOT_LOG"

const acme = {
  id: "c-1",
  name: "Acme Robotics",
  legalName: "Acme Robotics Inc.",
  domain: "acme-robotics.com",
  category: { sector: "Information Technology", industry: "Software", subIndustry: "Robotics" },
  geo: { city: "Austin", country: "United States", countryCode: "US", lat: 30.2 },
  metrics: { employees: 850, annualRevenue: null, raised: 12_000_000 },
  foundedYear: 2011,
  tech: ["aws", "salesforce"],
  tags: ["B2B"],
  logo: "https://logo.example/acme.png"
}

const setup = (overrides: Partial<HttpEnricherOptions> = {}) =>
  Effect.gen(function* () {
    const fake = yield* makeFakeEnrichment(apiKey, { "acme-robotics.com": acme })
    const enricher = yield* make({
      baseUrl: fake.url,
      apiKey: Effect.succeed(Redacted.make(apiKey)),
      timeoutMs: 1_000,
      retries: 2,
      retryBaseMs: 10,
      cacheTtlMs: 60_000,
      cacheCapacity: 100,
      ...overrides
    }).pipe(Effect.provide(FetchHttpClient.layer))
    return { fake, enricher }
  })

describe("HTTP enricher", () => {
  it.scopedLive("maps the provider record to Enrichment (extra fields dropped) and caches it per domain", () =>
    Effect.gen(function* () {
      const { fake, enricher } = yield* setup()
      const first = yield* enricher.enrich("acme-robotics.com")
      const second = yield* enricher.enrich("WWW.Acme-Robotics.com")
      expect(first).toEqual(
        Option.some({
          domain: "acme-robotics.com",
          name: "Acme Robotics",
          industry: "Software",
          employees: 850,
          country: "United States",
          city: "Austin",
          foundedYear: 2011,
          technologies: ["aws", "salesforce"],
          tags: ["B2B"]
        })
      )
      expect(second).toEqual(first)
      expect(fake.requests).toHaveLength(1)
      expect(fake.requests[0]!.headers.authorization).toBe(`Bearer ${apiKey}`)
    })
  )

  it.scopedLive("never looks up a free-mail domain", () =>
    Effect.gen(function* () {
      const { fake, enricher } = yield* setup()
      expect(yield* enricher.enrich("gmail.com")).toEqual(Option.none())
      expect(yield* enricher.enrich("Outlook.com")).toEqual(Option.none())
      expect(fake.requests).toHaveLength(0)
    })
  )

  it.scopedLive("answers None for a 404 and caches that too", () =>
    Effect.gen(function* () {
      const { fake, enricher } = yield* setup()
      expect(yield* enricher.enrich("unknown-co.io")).toEqual(Option.none())
      expect(yield* enricher.enrich("unknown-co.io")).toEqual(Option.none())
      expect(fake.domains()).toEqual(["unknown-co.io"])
    })
  )

  it.scopedLive("retries a 5xx with backoff, then succeeds", () =>
    Effect.gen(function* () {
      const { fake, enricher } = yield* setup()
      fake.script({ status: 500 }, { status: 503 })
      const result = yield* enricher.enrich("acme-robotics.com")
      expect(Option.map(result, (c) => c.name)).toEqual(Option.some("Acme Robotics"))
      expect(fake.requests).toHaveLength(3)
    })
  )

  it.scopedLive("fails with EnrichmentFailed after repeated timeouts, and does not cache the failure", () =>
    Effect.gen(function* () {
      const { fake, enricher } = yield* setup({ timeoutMs: 100, retries: 1 })
      fake.script({ hangMs: 1_000 }, { hangMs: 1_000 })
      const error = yield* Effect.flip(enricher.enrich("acme-robotics.com"))
      expect(error).toMatchObject({ _tag: "EnrichmentFailed", domain: "acme-robotics.com" })
      expect(error.message).toContain("no answer within 100 ms")
      expect(fake.requests).toHaveLength(2)
      expect(JSON.stringify(error)).not.toContain(apiKey)
      // The failure was not cached: the next call asks again and gets the company.
      expect(Option.isSome(yield* enricher.enrich("acme-robotics.com"))).toBe(true)
      expect(fake.requests).toHaveLength(3)
    })
  )

  it.scopedLive("a provider that stalls mid-body is cut at ENRICHMENT_TIMEOUT_MS too, then asked again", () =>
    Effect.gen(function* () {
      const { fake, enricher } = yield* setup({ timeoutMs: 200, retries: 1 })
      // headers and the start of the record, then nothing for 5 s: the lead (and its worker) must not wait for it
      fake.script({ stallBodyMs: 5_000 })
      const started = Date.now()
      const found = yield* enricher.enrich("acme-robotics.com")
      expect(Date.now() - started).toBeLessThan(2_000)
      expect(Option.isSome(found)).toBe(true)
      expect(fake.requests).toHaveLength(2)
    })
  )

  it.scopedLive("does not retry a permanent refusal (401) and names only the status", () =>
    Effect.gen(function* () {
      const { fake, enricher } = yield* setup({ apiKey: Effect.succeed(Redacted.make("wrong-key")) })
      const error = yield* Effect.flip(enricher.enrich("acme-robotics.com"))
      expect(error.message).toBe("provider answered HTTP 401")
      expect(fake.requests).toHaveLength(1)
    })
  )

  it.scoped("asks again once ENRICHMENT_CACHE_TTL_MS has passed (TestClock)", () =>
    Effect.gen(function* () {
      const { fake, enricher } = yield* setup({ cacheTtlMs: 3_600_000 })
      yield* enricher.enrich("acme-robotics.com")
      yield* TestClock.adjust("59 minutes")
      yield* enricher.enrich("acme-robotics.com")
      expect(fake.requests).toHaveLength(1)
      yield* TestClock.adjust("2 minutes")
      yield* enricher.enrich("acme-robotics.com")
      expect(fake.requests).toHaveLength(2)
    })
  )
})

describe("HTTP enricher: 202, the provider still looking the company up (Clearbit: queued, retry later)", () => {
  /** Runs `effect` with its log lines collected (message and annotations). */
  const withLogs = <A, E, R>(effect: Effect.Effect<A, E, R>) => {
    const lines: Array<{ message: string; annotations: Record<string, unknown> }> = []
    const logger = Logger.make(({ message, annotations }) => {
      lines.push({
        message: (Array.isArray(message) ? message : [message]).map(String).join(" "),
        annotations: Object.fromEntries(annotations)
      })
    })
    return Effect.map(effect.pipe(Effect.provide(Logger.replace(Logger.defaultLogger, logger))), (a) => ({
      result: a,
      lines
    }))
  }

  it.scopedLive("asks again after a short wait and gets the company, once the provider has it", () =>
    Effect.gen(function* () {
      const { fake, enricher } = yield* setup({ pendingWaitMs: 200 })
      fake.queue("acme-robotics.com", 1)
      const started = Date.now()
      const result = yield* enricher.enrich("acme-robotics.com")
      expect(Option.map(result, (c) => c.name)).toEqual(Option.some("Acme Robotics"))
      expect(Date.now() - started).toBeGreaterThanOrEqual(190)
      expect(fake.domains()).toEqual(["acme-robotics.com", "acme-robotics.com"])
      // the company is cached as any answer is
      yield* enricher.enrich("acme-robotics.com")
      expect(fake.requests).toHaveLength(2)
    })
  )

  it.scopedLive("waits the provider's Retry-After instead, when it gives one", () =>
    Effect.gen(function* () {
      const { fake, enricher } = yield* setup({ pendingWaitMs: 10 })
      fake.queue("acme-robotics.com", 1, "1")
      const started = Date.now()
      const result = yield* enricher.enrich("acme-robotics.com")
      expect(Option.isSome(result)).toBe(true)
      expect(Date.now() - started).toBeGreaterThanOrEqual(950)
      expect(fake.requests).toHaveLength(2)
    })
  )

  it.scopedLive(
    "still queued after the retries: the lead goes on without enrichment (no EnrichmentFailed), with a log line, not cached",
    () =>
      Effect.gen(function* () {
        const { fake, enricher } = yield* setup({ pendingRetries: 2, pendingWaitMs: 20 })
        fake.queue("acme-robotics.com", Number.POSITIVE_INFINITY)
        const { result, lines } = yield* withLogs(enricher.enrich("acme-robotics.com"))
        expect(result).toEqual(Option.none())
        expect(fake.requests).toHaveLength(3)
        const warning = lines.find((line) => line.message.includes("still queued"))
        expect(warning?.annotations).toMatchObject({ domain: "acme-robotics.com", attempts: 3 })
        expect(JSON.stringify(lines)).not.toContain(apiKey)
        // not cached as "unknown": the next lead of the company asks again, and gets it once the provider has it
        fake.queue("acme-robotics.com", 0)
        expect(Option.isSome(yield* enricher.enrich("acme-robotics.com"))).toBe(true)
        expect(fake.requests).toHaveLength(4)
      })
  )

  it.scopedLive("a Retry-After longer than the enricher waits: no further call, the lead goes on at once", () =>
    Effect.gen(function* () {
      const { fake, enricher } = yield* setup()
      fake.queue("acme-robotics.com", Number.POSITIVE_INFINITY, "120")
      const started = Date.now()
      expect(yield* enricher.enrich("acme-robotics.com")).toEqual(Option.none())
      expect(fake.requests).toHaveLength(1)
      expect(Date.now() - started).toBeLessThan(1000)
    })
  )

  it.scopedLive(
    "drops the provider's controls, bidi overrides and lone surrogates from its text, as intake does a lead's",
    () =>
      Effect.gen(function* () {
        const dirty = {
          ...acme,
          domain: "dirty.example",
          name: "Acme\u0000 Robo\u202Etics",
          category: { industry: "Soft\u0007ware\ud800" },
          geo: { city: "Aus\u200Btin", country: "United\u0000 States" },
          tech: ["aws\u0000"],
          tags: ["B2B\u202E"]
        }
        const fake = yield* makeFakeEnrichment(apiKey, { "dirty.example": dirty })
        const enricher = yield* make({
          baseUrl: fake.url,
          apiKey: Effect.succeed(Redacted.make(apiKey)),
          timeoutMs: 1_000,
          retries: 0,
          retryBaseMs: 10,
          cacheTtlMs: 60_000,
          cacheCapacity: 100
        }).pipe(Effect.provide(FetchHttpClient.layer))
        const enrichment = yield* enricher.enrich("dirty.example")
        expect(enrichment).toEqual(
          Option.some({
            domain: "dirty.example",
            name: "Acme Robotics",
            industry: "Software",
            employees: 850,
            country: "United States",
            city: "Austin",
            foundedYear: 2011,
            technologies: ["aws"],
            tags: ["B2B"]
          })
        )
      })
  )

  it("reads Retry-After as seconds or an HTTP-date", () => {
    const now = Date.parse("2026-12-07T04:00:00Z")
    expect(retryAfterMs("3", now)).toBe(3000)
    expect(retryAfterMs("Mon, 07 Dec 2026 04:00:05 GMT", now)).toBe(5000)
    expect(retryAfterMs("Mon, 07 Dec 2026 03:59:00 GMT", now)).toBe(0)
    expect(retryAfterMs(undefined, now)).toBeUndefined()
    expect(retryAfterMs("soon", now)).toBeUndefined()
  })
})

describe("HTTP enricher behind its circuit breaker (the caller's: the pipeline's)", () => {
  const breaker = MemoryBreaker.layerWith({ consecutiveFailures: 2, probeSchedule: Schedule.spaced("1 minute") })

  it.scopedLive("an outage opens it; a kept answer is still served, and neither closes it nor counts", () =>
    Effect.gen(function* () {
      const { fake, enricher } = yield* setup({ retries: 0 })
      const kept = yield* enricher.enrich("acme-robotics.com")
      expect(Option.isSome(kept)).toBe(true)
      fake.outage(503)
      for (const domain of ["initech.com", "hooli.com"]) {
        expect(yield* Effect.flip(enricher.enrich(domain))).toMatchObject({ _tag: "EnrichmentFailed", transient: true })
      }
      const breakers = yield* CircuitBreaker
      expect(yield* breakers.state(ENRICHMENT_BREAKER)).toBe("open")
      const asked = fake.requests.length
      // the company already looked up is served from the cache, without asking the provider, and the breaker stays open
      expect(yield* enricher.enrich("acme-robotics.com")).toEqual(kept)
      expect(yield* breakers.state(ENRICHMENT_BREAKER)).toBe("open")
      // any other lookup waits for the breaker, the provider not asked
      expect(yield* Effect.flip(enricher.enrich("vandelay.com"))).toMatchObject({ _tag: "CircuitOpen" })
      expect(fake.requests.length).toBe(asked)
    }).pipe(Effect.provide(breaker))
  )

  it.scopedLive("leads of one company asking at once make one lookup, counted once (a hiccup opens nothing)", () =>
    Effect.gen(function* () {
      const { fake, enricher } = yield* setup({ retries: 0 })
      // one slow 503: five leads of the company wait on the one lookup
      fake.script({ hangMs: 200 })
      fake.outage(503)
      const outcomes = yield* Effect.all(
        Array.from({ length: 5 }, () => Effect.either(enricher.enrich("initech.com"))),
        { concurrency: "unbounded" }
      )
      expect(outcomes.every((outcome) => outcome._tag === "Left")).toBe(true)
      expect(fake.requests).toHaveLength(1)
      expect(yield* Effect.flatMap(CircuitBreaker, (b) => b.state(ENRICHMENT_BREAKER))).toBe("closed")
    }).pipe(Effect.provide(breaker))
  )

  it.scopedLive("a refusal (a revoked key: 401) is no outage: it fails the lookup but leaves the breaker closed", () =>
    Effect.gen(function* () {
      const { fake, enricher } = yield* setup({ retries: 0 })
      fake.rotateKey("a-new-key")
      for (const domain of ["initech.com", "hooli.com", "vandelay.com"]) {
        expect(yield* Effect.flip(enricher.enrich(domain))).toMatchObject({
          _tag: "EnrichmentFailed",
          transient: false
        })
      }
      expect(yield* Effect.flatMap(CircuitBreaker, (b) => b.state(ENRICHMENT_BREAKER))).toBe("closed")
    }).pipe(Effect.provide(breaker))
  )
})
