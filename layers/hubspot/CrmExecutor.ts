import * as http from "node:http"
import * as https from "node:https"
import type { Duplex } from "node:stream"
import { FilterOperatorEnum } from "@hubspot/api-client/lib/codegen/crm/companies/index.js"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as FiberRef from "effect/FiberRef"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Ref from "effect/Ref"
import { answered, emptyBudget, release, reserve } from "../../src/domain/callBudget.js"
import { UNEXPECTED_RESPONSE_CODE, classify, isAuthFailure } from "../../src/domain/crmErrors.js"
import {
  type ApiUsage,
  type CrmCall,
  type CrmError,
  CrmExecutor,
  CrmRateLimited,
  type CrmResult
} from "../../services/CrmExecutor.js"
import { liveRedacted } from "../shared/liveConfig.js"
import { SecretsRefresh } from "../../services/SecretsRefresh.js"
import { Metrics } from "../../services/Metrics.js"
import { type HubSpotApis, makeApis } from "./apis.js"
import { HubSpotCallFailed, callHubSpot, parseRateLimitHeaders } from "./call.js"
import { type HubSpotOptions, defaultBurst, hubSpotConfig } from "./config.js"
import { makeDefinitionsCache, toDefinitions } from "./properties.js"
import { callCost, type FoundCompany, type HubSpotApi, makeTools, type UpsertType } from "./tools.js"

export const PROVIDER = "hubspot"

/**
 * An agent whose sockets destroy themselves after `timeoutMs` without traffic: Node only emits "timeout",
 * and the client listens for nothing, so a hung request would otherwise hold its socket until the peer
 * gives up. The executor's Effect deadline is what the caller sees; this frees the socket.
 */
const timeoutAgent = (baseUrl: string, timeoutMs: number): http.Agent => {
  const Base = baseUrl.startsWith("https:") ? https.Agent : http.Agent
  const agent = new Base({ keepAlive: true })
  const create = (agent as unknown as { createConnection: (...args: Array<unknown>) => Duplex }).createConnection
  ;(agent as unknown as { createConnection: (...args: Array<unknown>) => Duplex }).createConnection = (...args) => {
    const socket = create.apply(agent, args) as Duplex & { setTimeout: (ms: number, cb: () => void) => void }
    socket.setTimeout(timeoutMs, () => socket.destroy(new Error("socket timeout")))
    return socket
  }
  return agent
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null
/** A CRM object as the API answers it (SimplePublicObject and kin): an id and its properties. */
const isCrmObject = (value: unknown): boolean =>
  isObject(value) && typeof value.id === "string" && value.id !== "" && isObject(value.properties)
/** A batch or list answer whose `results` each pass `item`. */
const resultsOf =
  (item: (value: unknown) => boolean) =>
  (value: unknown): boolean =>
    isObject(value) && Array.isArray(value.results) && value.results.every(item)
const isUpserted = (value: unknown): boolean =>
  isCrmObject(value) && typeof (value as { _new?: unknown })._new === "boolean"
const isDefinition = (value: unknown): boolean =>
  isObject(value) && typeof value.name === "string" && typeof value.type === "string"

/** A domain as HubSpot may hold it: as given, and with `www.` (or without it, when given with it). */
const domainSpellings = (domain: string): ReadonlyArray<string> =>
  domain.toLowerCase().startsWith("www.") ? [domain, domain.slice(4)] : [domain, `www.${domain}`]

/**
 * The HubSpot CrmExecutor: @hubspot/api-client's generated APIs with no client retries or limiter (and none another
 * Client of the process sets: see apis.ts), one token re-read per 401.
 */
export const make = (options: HubSpotOptions) =>
  Effect.gen(function* () {
    /** The CRM's own API usage as last reported, so the CRM-wide rate-limit tier can tighten near its quota. */
    const lastUsage = yield* Ref.make(Option.none<ApiUsage>())
    const agent = yield* Effect.acquireRelease(
      Effect.sync(() => timeoutAgent(options.baseUrl, options.timeoutMs)),
      (a) => Effect.sync(() => a.destroy())
    )
    const readToken = Redacted.isRedacted(options.accessToken)
      ? Effect.succeed(options.accessToken)
      : options.accessToken
    // The queue owns retries and the RateLimiter owns pacing: none of the client's own, whatever other Clients say.
    const connect = (token: Redacted.Redacted<string>): HubSpotApis =>
      makeApis({ accessToken: Redacted.value(token), basePath: options.baseUrl, httpAgent: agent })
    const initial = yield* readToken
    const state = yield* Ref.make({ token: initial, client: connect(initial) })

    const burst = options.burst ?? defaultBurst
    /** This process's view of HubSpot's rolling burst window, from X-HubSpot-RateLimit-Remaining. */
    const budget = yield* Ref.make(emptyBudget)
    /** The calls the running action has sent, so what it reserved and did not use is given back. */
    const sentByAction = FiberRef.unsafeMake<{ sent: number } | undefined>(undefined)
    const report = (used: number, limit: number, window: "daily" | "interval") =>
      options.onApiUsage === undefined ? Effect.void : options.onApiUsage(used, limit, window)

    const onHeaders = (headers: Readonly<Record<string, string>>) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => {
        const { daily, interval } = parseRateLimitHeaders(headers)
        return Effect.all([
          daily === undefined
            ? Effect.void
            : Effect.zipRight(Ref.set(lastUsage, Option.some(daily)), report(daily.used, daily.limit, "daily")),
          interval === undefined
            ? Effect.void
            : Effect.zipRight(
                Ref.update(budget, (b) => ({ ...b, reading: { ...interval, at: now } })),
                report(interval.max - interval.remaining, interval.max, "interval")
              )
        ])
      })

    type Info<A> = { readonly data: A; readonly headers: Record<string, string>; readonly httpStatusCode: number }
    const once = <A>(client: HubSpotApis, send: (c: HubSpotApis) => Promise<Info<A>>) =>
      Effect.flatMap(FiberRef.get(sentByAction), (action) => {
        if (action !== undefined) action.sent++
        return callHubSpot(options.timeoutMs, () => send(client), onHeaders).pipe(
          Effect.ensuring(Ref.update(budget, (b) => answered(b, undefined)))
        )
      })

    // A rejected token is read again: if the secret was rotated, retry once with the new one. A success is checked to be
    // shaped as the API answers (`valid`): the client hands a 2xx body it cannot parse as JSON (a proxy's HTML page) on
    // as an object with no fields, which would otherwise surface as a TypeError where its fields are read.
    const run = <A>(what: string, valid: (data: unknown) => boolean, send: (c: HubSpotApis) => Promise<Info<A>>) =>
      Effect.flatMap(Ref.get(state), (current) =>
        once(current.client, send).pipe(
          Effect.catchIf(
            (e) => isAuthFailure(e.failure),
            (rejected) =>
              Effect.flatMap(readToken, (token) => {
                if (Redacted.value(token) === Redacted.value(current.token)) return Effect.fail(rejected)
                const next = { token, client: connect(token) }
                const logged = Effect.logInfo("CRM token refreshed").pipe(
                  Effect.annotateLogs({
                    provider: "hubspot",
                    reason: "the token was rejected (401); a rotated one was read"
                  })
                )
                return Effect.zipRight(Ref.set(state, next), Effect.zipRight(logged, once(next.client, send)))
              })
          ),
          Effect.flatMap((res) =>
            valid(res.data)
              ? Effect.succeed(res.data)
              : Effect.fail(
                  new HubSpotCallFailed({
                    failure: {
                      status: res.status,
                      code: UNEXPECTED_RESPONSE_CODE,
                      message: `HubSpot answered ${what} with ${res.status} and a body that is not the API's (a proxy's or gateway's page?)`
                    }
                  })
                )
          )
        )
      )

    const batchApi = (c: HubSpotApis, type: UpsertType) => c[type].batchApi

    // Read through `run` like every other call: its answer's rate-limit headers count, its failure fails the action.
    const definitions = yield* makeDefinitionsCache((type) =>
      Effect.map(
        run(`the ${type} property definitions read`, resultsOf(isDefinition), (c) =>
          c.properties.coreApi.getAllWithHttpInfo(type, false)
        ),
        (res) => toDefinitions(res.results)
      )
    )

    const api: HubSpotApi = {
      upsert: (type, idProperty, id, properties) =>
        Effect.flatMap(
          run(`the ${type} batch upsert`, resultsOf(isUpserted), (c) =>
            batchApi(c, type).upsertWithHttpInfo({ inputs: [{ idProperty, id, properties }] })
          ),
          (res): Effect.Effect<{ id: string; created: boolean }, HubSpotCallFailed> => {
            const result = res.results[0]
            const errors = "errors" in res ? res.errors : undefined
            if (result === undefined || (errors !== undefined && errors.length > 0)) {
              // A 207 multi-status: the batch was accepted but this input was refused (validation).
              return Effect.fail(
                new HubSpotCallFailed({
                  failure: { status: 400, body: errors?.[0] ?? { message: "batch upsert returned no result" } }
                })
              )
            }
            return Effect.succeed({ id: result.id, created: result._new })
          }
        ),
      // HubSpot keeps a company's domain as it was typed: one made by hand may hold `www.acme.com`, which an EQ on
      // `acme.com` misses (and the sync would make a second company). Both spellings in one search (its filter groups
      // are alternatives); the exact one first, else the oldest.
      findCompanyByDomain: (domain) =>
        Effect.map(
          run("the company search", resultsOf(isCrmObject), (c) =>
            c.companies.searchApi.doSearchWithHttpInfo({
              filterGroups: domainSpellings(domain).map((value) => ({
                filters: [{ propertyName: "domain", operator: FilterOperatorEnum.Eq, value }]
              })),
              properties: ["domain", "name"],
              sorts: ["createdate"],
              limit: 10,
              after: "0"
            })
          ),
          (res) => {
            const company =
              res.results.find((found) => found.properties.domain?.toLowerCase() === domain.toLowerCase()) ??
              res.results[0]
            return company === undefined ? undefined : { id: company.id, name: company.properties.name ?? undefined }
          }
        ),
      companyName: (id) =>
        Effect.map(
          run("a company read", isCrmObject, (c) => c.companies.basicApi.getByIdWithHttpInfo(id, ["name"])),
          (res) => res.properties.name ?? undefined
        ),
      companyByKey: (idProperty, key) =>
        run("a company read by key", isCrmObject, (c) =>
          c.companies.basicApi.getByIdWithHttpInfo(key, ["name"], undefined, undefined, false, idProperty)
        ).pipe(
          Effect.map((res): FoundCompany => ({ id: res.id, name: res.properties.name ?? undefined })),
          Effect.catchIf(
            (error) => error.failure.status === 404,
            () => Effect.succeed(undefined)
          )
        ),
      contactByEmail: (email, properties) =>
        run("a contact read", isCrmObject, (c) =>
          c.contacts.basicApi.getByIdWithHttpInfo(email, [...properties], undefined, undefined, false, "email")
        ).pipe(
          Effect.map((res) => ({ id: res.id, properties: res.properties })),
          Effect.catchIf(
            (error) => error.failure.status === 404,
            () => Effect.succeed(undefined)
          )
        ),
      update: (type, id, properties) =>
        Effect.asVoid(
          run(`the ${type} update`, isCrmObject, (c) =>
            type === "deals"
              ? c.deals.basicApi.updateWithHttpInfo(id, { properties })
              : type === "contacts"
                ? c.contacts.basicApi.updateWithHttpInfo(id, { properties })
                : c.companies.basicApi.updateWithHttpInfo(id, { properties })
          )
        ),
      associate: (from, fromId, to, toId) =>
        Effect.asVoid(
          run("the association", resultsOf(isObject), (c) =>
            c.associations.basicApi.createDefaultWithHttpInfo(from, fromId, to, toId)
          )
        ),
      definitions: definitions.get,
      forgetDefinitions: definitions.forget,
      now: Clock.currentTimeMillis
    }

    const tools = makeTools(api, options.properties, options.leadStatuses)

    // An action starts only when the calls it may make fit in what HubSpot last said remains of its burst window
    // (less what this process has sent since): else it is delayed until that window has passed, before any 429.
    // `admit` only looks (the pipeline asks it before taking rate-limit permits); `execute` reserves.
    const reserveCalls = (cost: number, commit = true) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) =>
        Effect.flatMap(
          Ref.modify(budget, (b) => {
            const result = reserve(b, cost, now)
            return [result.retryAfterMs, commit ? result.budget : b] as const
          }),
          (retryAfterMs) =>
            retryAfterMs === undefined
              ? Effect.void
              : Effect.fail(
                  new CrmRateLimited({
                    provider: PROVIDER,
                    retryAfterMs,
                    message: `HubSpot's burst window has fewer than ${cost} calls left (X-HubSpot-RateLimit-Remaining)`
                  })
                )
        )
      )

    const execute = (call: CrmCall): Effect.Effect<CrmResult, CrmError> => {
      const cost = callCost(call)
      return Effect.flatMap(reserveCalls(cost), () => {
        const action = { sent: 0 }
        return tools(call).pipe(
          // the token in use is scrubbed from the error's text wherever HubSpot or a proxy echoed it
          Effect.catchAll((error) =>
            Effect.flatMap(Effect.zip(Clock.currentTimeMillis, Ref.get(state)), ([now, { token }]) =>
              Effect.fail(classify(PROVIDER, error.failure, now, [token]))
            )
          ),
          // an action that made more calls than it reserved (a rare path: see callCost) has nothing to give back
          Effect.ensuring(Ref.update(budget, (b) => release(b, Math.max(0, cost - action.sent)))),
          Effect.locally(sentByAction, action)
        )
      }).pipe(Effect.withSpan("crm.hubspot", { captureStackTrace: false, attributes: { "crm.tool": call.tool } }))
    }

    return CrmExecutor.of({
      provider: PROVIDER,
      execute,
      admit: (call) => reserveCalls(callCost(call), false),
      apiUsage: Ref.get(lastUsage),
      callCost,
      callWindow: burst
    })
  })

/** The HubSpot executor from explicit options (tests, embedding apps); its HTTP agent closes with the scope. */
export const layer = (options: HubSpotOptions): Layer.Layer<CrmExecutor> => Layer.scoped(CrmExecutor, make(options))

/** The HubSpot executor from HUBSPOT_* / CRM_TIMEOUT_MS; reports API usage to Metrics when it is provided. */
export const layerConfig: Layer.Layer<CrmExecutor, import("effect/ConfigError").ConfigError> = Layer.scoped(
  CrmExecutor,
  Effect.gen(function* () {
    const options = yield* hubSpotConfig
    const metrics = yield* Effect.serviceOption(Metrics)
    // After a 401 the token is read again: ask the secret store for fresh values first, so a rotated token is used.
    const refresh = Option.match(yield* Effect.serviceOption(SecretsRefresh), {
      onNone: () => Effect.void,
      onSome: (secrets) => secrets.refresh
    })
    const current = yield* liveRedacted("HUBSPOT_ACCESS_TOKEN")
    return yield* make({
      ...options,
      accessToken: Effect.zipRight(refresh, Effect.orDie(current)),
      onApiUsage: Option.match(metrics, {
        onNone: () => undefined,
        onSome: (m) => (used: number, limit: number, window: "daily" | "interval") =>
          m.crmApiUsage(PROVIDER, used, limit, window)
      })
    })
  })
)
