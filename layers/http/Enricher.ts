import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as Cache from "effect/Cache"
import * as Clock from "effect/Clock"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Redacted from "effect/Redacted"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import { companyDomain, Enrichment, isFreeMailDomain } from "../../src/domain/enrichment.js"
import { dropHidden } from "../../src/domain/text.js"
import { Enricher, EnrichmentFailed } from "../../services/Enricher.js"
import { throughBreaker } from "../shared/breakerNames.js"
import { ENRICHMENT_BREAKER } from "../../src/domain/breakers.js"
import { liveRedacted } from "../shared/liveConfig.js"
import { credential, positiveInt, validated } from "../shared/config.js"

/** Settings of the HTTP enrichment provider. */
export interface HttpEnricherOptions {
  readonly baseUrl: string
  /** Read on every call, so a rotated key is used without a restart. */
  readonly apiKey: Effect.Effect<Redacted.Redacted<string>, ConfigError.ConfigError>
  /** Deadline of one HTTP attempt. */
  readonly timeoutMs: number
  /** Extra attempts after a 5xx / 429 / timeout / network error, with jittered exponential backoff. */
  readonly retries: number
  readonly retryBaseMs: number
  /** How long an answer (a company or "unknown") is reused; failures are never cached. */
  readonly cacheTtlMs: number
  readonly cacheCapacity: number
  /**
   * How many times to ask again when the provider answers 202 (lookup queued: Clearbit is still indexing the company,
   * "not an error, retry later"); default 2. Once spent, the lead goes on without enrichment, as for an unknown
   * company, and the answer is not cached, so the next lead of that company asks again.
   */
  readonly pendingRetries?: number | undefined
  /** The wait before asking again after a 202 without Retry-After; default 2000 ms (a lookup takes a few seconds). */
  readonly pendingWaitMs?: number | undefined
}

/** The longest Retry-After a 202 is waited for; a provider asking for longer gets no further call for this lead. */
export const MAX_PENDING_WAIT_MS = 10_000

/** The provider's company record (Clearbit-style); only the fields we map are declared, the rest is dropped. */
const ProviderCompany = Schema.Struct({
  name: Schema.String,
  domain: Schema.optionalWith(Schema.String, { nullable: true }),
  foundedYear: Schema.optionalWith(Schema.Number, { nullable: true }),
  tags: Schema.optionalWith(Schema.Array(Schema.String), { nullable: true }),
  tech: Schema.optionalWith(Schema.Array(Schema.String), { nullable: true }),
  category: Schema.optionalWith(Schema.Struct({ industry: Schema.optionalWith(Schema.String, { nullable: true }) }), {
    nullable: true
  }),
  geo: Schema.optionalWith(
    Schema.Struct({
      city: Schema.optionalWith(Schema.String, { nullable: true }),
      country: Schema.optionalWith(Schema.String, { nullable: true })
    }),
    { nullable: true }
  ),
  metrics: Schema.optionalWith(
    Schema.Struct({
      employees: Schema.optionalWith(Schema.Number, { nullable: true }),
      annualRevenue: Schema.optionalWith(Schema.Number, { nullable: true })
    }),
    { nullable: true }
  )
})

const defined = <A extends Record<string, unknown>>(record: A): A =>
  Object.fromEntries(Object.entries(record).filter(([, value]) => value !== undefined)) as A

/** The provider's text as free text is kept: controls, bidi overrides, invisible characters, lone surrogates dropped. */
const clean = (text: string | undefined): string | undefined => (text === undefined ? undefined : dropHidden(text))

/**
 * Maps the provider's record onto our Enrichment schema. Its text is the provider's, not the lead's: cleaned as the
 * lead's free text is on intake, so a NUL or a bidi override in a company name reaches neither the model's prompt nor
 * the CRM (where the guard would refuse the firmographics sync and note that quote it).
 */
export const toEnrichment = (domain: string, company: typeof ProviderCompany.Type): Enrichment =>
  Enrichment.make(
    defined({
      domain: company.domain ?? domain,
      name: dropHidden(company.name),
      industry: clean(company.category?.industry),
      employees: company.metrics?.employees,
      annualRevenue: company.metrics?.annualRevenue,
      country: clean(company.geo?.country),
      city: clean(company.geo?.city),
      foundedYear: company.foundedYear,
      technologies: company.tech?.map(dropHidden),
      tags: company.tags?.map(dropHidden)
    })
  )

const decodeCompany = Schema.decodeUnknown(ProviderCompany)

const answered = (enrichment: Option.Option<Enrichment>): Answer => ({ _tag: "Answered", enrichment })

/** The name of the provider's circuit breaker (its calls' state in the gauge, the console and the EMF lines). */
export { ENRICHMENT_BREAKER }

/** A failure worth another attempt (5xx, 429, timeout, network); anything else fails at once. */
class Transient extends Data.TaggedError("Transient")<{ readonly message: string }> {}
class Permanent extends Data.TaggedError("Permanent")<{ readonly message: string }> {}

/** The provider's answer: the company (or None for unknown), or 202 "queued" with the Retry-After it gave, if any. */
type Answer =
  | { readonly _tag: "Answered"; readonly enrichment: Option.Option<Enrichment> }
  | { readonly _tag: "Queued"; readonly retryAfterMs: number | undefined }

/** What the cache holds: the enrichment, and whether it is None only because the provider was still looking. */
interface Lookup {
  readonly enrichment: Option.Option<Enrichment>
  readonly stillQueued: boolean
}

/** Retry-After as delay-seconds or an HTTP-date, in ms from `now`; undefined when absent or unreadable. */
export const retryAfterMs = (value: string | undefined, now: number): number | undefined => {
  if (value === undefined || value.trim() === "") return undefined
  if (/^\s*\d+\s*$/.test(value)) return Number(value) * 1000
  const at = Date.parse(value)
  return Number.isNaN(at) ? undefined : Math.max(0, at - now)
}

/** The HTTP enricher: GET <baseUrl>/v2/companies/find?domain=..., cached per domain, retried on transient failures. */
export const make = (options: HttpEnricherOptions): Effect.Effect<Enricher.Service, never, HttpClient.HttpClient> =>
  Effect.gen(function* () {
    const client = yield* HttpClient.HttpClient
    const url = `${options.baseUrl.replace(/\/+$/, "")}/v2/companies/find`

    const attempt = (domain: string) =>
      Effect.gen(function* () {
        const apiKey = yield* options.apiKey.pipe(
          Effect.mapError(() => new Permanent({ message: "ENRICHMENT_API_KEY is not available" }))
        )
        const request = HttpClientRequest.get(url, { urlParams: { domain }, acceptJson: true }).pipe(
          HttpClientRequest.bearerToken(apiKey)
        )
        // the deadline covers the whole exchange, the body's read too: a provider that sends its headers and then
        // stalls mid-body would otherwise hold the lead (and its worker) for as long as the connection stays open
        const response = yield* Effect.gen(function* () {
          const answer = yield* client
            .execute(request)
            .pipe(
              Effect.catchTag("RequestError", (error) => new Transient({ message: `request failed (${error.reason})` }))
            )
          if (answer.status !== 200) {
            yield* Effect.ignore(answer.text) // release the connection
            return { status: answer.status, headers: answer.headers, body: undefined as unknown }
          }
          const body = yield* answer.json.pipe(
            Effect.mapError(() => new Transient({ message: "response body is not JSON" }))
          )
          return { status: answer.status, headers: answer.headers, body }
        }).pipe(
          Effect.timeoutFail({
            duration: Duration.millis(options.timeoutMs),
            onTimeout: () => new Transient({ message: `no answer within ${options.timeoutMs} ms` })
          })
        )
        if (response.status === 404) return answered(Option.none<Enrichment>())
        if (response.status === 202) {
          const now = yield* Clock.currentTimeMillis
          return { _tag: "Queued", retryAfterMs: retryAfterMs(response.headers["retry-after"], now) } as Answer
        }
        if (response.status >= 500 || response.status === 429) {
          return yield* new Transient({ message: `provider answered HTTP ${response.status}` })
        }
        if (response.status !== 200)
          return yield* new Permanent({ message: `provider answered HTTP ${response.status}` })
        return yield* decodeCompany(response.body).pipe(
          Effect.map((company) => answered(Option.some(toEnrichment(domain, company)))),
          // A record we cannot read is treated as "unknown company": enrichment is optional, the lead goes on.
          Effect.catchTag("ParseError", () =>
            Effect.logWarning("enrichment response has an unexpected shape; treated as unknown").pipe(
              Effect.annotateLogs({ domain }),
              Effect.as(answered(Option.none<Enrichment>()))
            )
          )
        )
      })

    const retryPolicy = Schedule.exponential(Duration.millis(options.retryBaseMs)).pipe(
      Schedule.jittered,
      Schedule.intersect(Schedule.recurs(options.retries))
    )

    const pendingRetries = options.pendingRetries ?? 2
    const pendingWaitMs = options.pendingWaitMs ?? 2000

    /**
     * A 202 is the provider still looking the company up (Clearbit: queued, "not an error", retry later): ask again
     * after its Retry-After (or `pendingWaitMs`), up to `pendingRetries` times; then go on without enrichment, as for
     * an unknown company, rather than failing the lead over data that is optional.
     */
    const lookup = (domain: string): Effect.Effect<Lookup, EnrichmentFailed> =>
      Effect.gen(function* () {
        for (let asked = 1; ; asked++) {
          const answer = yield* attempt(domain).pipe(
            Effect.retry({ schedule: retryPolicy, while: (error) => error._tag === "Transient" })
          )
          if (answer._tag === "Answered") return { enrichment: answer.enrichment, stillQueued: false }
          const wait = answer.retryAfterMs ?? pendingWaitMs
          if (asked > pendingRetries || wait > MAX_PENDING_WAIT_MS) {
            yield* Effect.logWarning(
              "enrichment lookup still queued at the provider; the lead goes on without enrichment"
            ).pipe(Effect.annotateLogs({ domain, attempts: asked }))
            return { enrichment: Option.none(), stillQueued: true }
          }
          yield* Effect.sleep(Duration.millis(wait))
        }
      }).pipe(
        Effect.mapError(
          (error) => new EnrichmentFailed({ domain, message: error.message, transient: error._tag === "Transient" })
        ),
        Effect.withSpan("enricher.http.lookup", { captureStackTrace: false, attributes: { domain } })
      )

    const cache = yield* Cache.makeWith({
      capacity: options.cacheCapacity,
      lookup,
      // failures and still-queued lookups are not kept: the next lead of the company asks again
      timeToLive: Exit.match({
        onFailure: () => Duration.zero,
        onSuccess: (found: Lookup) => (found.stillQueued ? Duration.zero : Duration.millis(options.cacheTtlMs))
      })
    })

    // A zero TTL alone still serves a failure within the same millisecond (expiry is "now > deadline").
    const fetch = (key: string) =>
      cache.get(key).pipe(
        Effect.tapError(() => cache.invalidate(key)),
        Effect.tap((found) => (found.stillQueued ? cache.invalidate(key) : Effect.void)),
        Effect.map((found) => found.enrichment)
      )

    return Enricher.of({
      breaker: ENRICHMENT_BREAKER,
      enrich: (domain) => {
        const key = companyDomain(domain)
        if (isFreeMailDomain(key)) return Effect.succeed(Option.none())
        // A kept answer is served whatever the provider's state. Only a call to the provider goes through its breaker
        // (the caller's, when it has one: the pipeline's), and only the provider being down counts against it: a
        // cached answer neither closes a breaker the provider keeps open nor dilutes its failures, and a refusal
        // (a bad key, a 4xx) is no outage.
        // (a lookup already running for the company is awaited, not counted again: one answer, one count)
        return Effect.flatMap(cache.getOption(key).pipe(Effect.tapError(() => cache.invalidate(key))), (kept) =>
          Option.isNone(kept)
            ? throughBreaker(ENRICHMENT_BREAKER, fetch(key), (error) => error.transient !== false)
            : kept.value.stillQueued
              ? Effect.as(cache.invalidate(key), kept.value.enrichment)
              : Effect.succeed(kept.value.enrichment)
        )
      }
    })
  })

/** The HTTP enricher over a caller-supplied HttpClient. */
export const layerWith = (options: HttpEnricherOptions): Layer.Layer<Enricher, never, HttpClient.HttpClient> =>
  Layer.effect(Enricher, make(options))

/** ENRICHMENT_* settings; the API key is checked at start-up, then read live on each call. */
export const config = Config.all({
  baseUrl: Config.url("ENRICHMENT_BASE_URL").pipe(Config.map((u) => u.toString())),
  apiKey: credential("ENRICHMENT_API_KEY"),
  timeoutMs: positiveInt("ENRICHMENT_TIMEOUT_MS", 3000),
  retries: validated("ENRICHMENT_RETRIES", Config.integer(), {
    message: "must be an integer from 0 to 10",
    validation: (n) => n >= 0 && n <= 10
  }).pipe(Config.withDefault(2)),
  retryBaseMs: positiveInt("ENRICHMENT_RETRY_BASE_MS", 200),
  cacheTtlMs: positiveInt("ENRICHMENT_CACHE_TTL_MS", 3_600_000),
  cacheCapacity: positiveInt("ENRICHMENT_CACHE_CAPACITY", 10_000),
  pendingRetries: validated("ENRICHMENT_PENDING_RETRIES", Config.integer(), {
    message: "must be an integer from 0 to 5",
    validation: (n) => n >= 0 && n <= 5
  }).pipe(Config.withDefault(2)),
  pendingWaitMs: validated("ENRICHMENT_PENDING_WAIT_MS", Config.integer(), {
    message: `must be an integer from 1 to ${MAX_PENDING_WAIT_MS}`,
    validation: (n) => n >= 1 && n <= MAX_PENDING_WAIT_MS
  }).pipe(Config.withDefault(2000))
})

/** The HTTP enricher from ENRICHMENT_* config over fetch (ENRICHMENT_PROVIDER=HTTP). */
export const layerConfig: Layer.Layer<Enricher, ConfigError.ConfigError> = Layer.unwrapEffect(
  Effect.gen(function* () {
    const settings = yield* config
    const apiKey = yield* liveRedacted("ENRICHMENT_API_KEY")
    return layerWith({ ...settings, apiKey })
  })
).pipe(Layer.provide(FetchHttpClient.layer))
