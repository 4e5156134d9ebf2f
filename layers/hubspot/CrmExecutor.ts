import * as http from "node:http"
import * as https from "node:https"
import type { Duplex } from "node:stream"
import { Client } from "@hubspot/api-client"
import { FilterOperatorEnum } from "@hubspot/api-client/lib/codegen/crm/companies/index.js"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Ref from "effect/Ref"
import { classify, isAuthFailure } from "../../src/domain/crmErrors.js"
import { type ApiUsage, type CrmCall, type CrmError, CrmExecutor, type CrmResult } from "../../services/CrmExecutor.js"
import { liveRedacted } from "../aws/liveConfig.js"
import { SecretsRefresh } from "../../services/SecretsRefresh.js"
import { Metrics } from "../../services/Metrics.js"
import { HubSpotCallFailed, callHubSpot, parseRateLimitHeaders } from "./call.js"
import { type HubSpotOptions, hubSpotConfig } from "./config.js"
import { type HubSpotApi, makeTools } from "./tools.js"

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

/** The HubSpot CrmExecutor: @hubspot/api-client with no client retries or limiter, one token re-read per 401. */
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
    const connect = (token: Redacted.Redacted<string>) =>
      new Client({
        accessToken: Redacted.value(token),
        basePath: options.baseUrl,
        // The queue owns retries and the RateLimiter owns pacing: none of the client's own.
        numberOfApiCallRetries: 0,
        httpAgent: agent
      })
    const initial = yield* readToken
    const state = yield* Ref.make({ token: initial, client: connect(initial) })

    const onHeaders = (headers: Readonly<Record<string, string>>) => {
      const usage = parseRateLimitHeaders(headers)
      if (usage === undefined) return Effect.void
      const remember = Ref.set(lastUsage, Option.some(usage))
      return options.onApiUsage === undefined
        ? remember
        : Effect.zipRight(remember, options.onApiUsage(usage.used, usage.limit))
    }

    type Info<A> = { readonly data: A; readonly headers: Record<string, string>; readonly httpStatusCode: number }
    const once = <A>(client: Client, send: (c: Client) => Promise<Info<A>>) =>
      callHubSpot(options.timeoutMs, () => send(client), onHeaders)

    // A rejected token is read again: if the secret was rotated, retry once with the new one.
    const run = <A>(send: (c: Client) => Promise<Info<A>>) =>
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
          Effect.map((res) => res.data)
        )
      )

    const batchApi = (c: Client, type: "contacts" | "deals" | "tasks" | "notes") =>
      type === "contacts"
        ? c.crm.contacts.batchApi
        : type === "deals"
          ? c.crm.deals.batchApi
          : type === "tasks"
            ? c.crm.objects.tasks.batchApi
            : c.crm.objects.notes.batchApi

    const api: HubSpotApi = {
      upsert: (type, idProperty, id, properties) =>
        Effect.flatMap(
          run((c) => batchApi(c, type).upsertWithHttpInfo({ inputs: [{ idProperty, id, properties }] })),
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
      findCompanyByDomain: (domain) =>
        Effect.map(
          run((c) =>
            c.crm.companies.searchApi.doSearchWithHttpInfo({
              filterGroups: [{ filters: [{ propertyName: "domain", operator: FilterOperatorEnum.Eq, value: domain }] }],
              properties: ["domain", "name"],
              sorts: ["createdate"],
              limit: 1,
              after: "0"
            })
          ),
          (res) => res.results[0]?.id
        ),
      createCompany: (properties) =>
        Effect.map(
          run((c) => c.crm.companies.basicApi.createWithHttpInfo({ properties, associations: [] })),
          (res) => res.id
        ),
      update: (type, id, properties) =>
        Effect.asVoid(
          run((c) =>
            type === "deals"
              ? c.crm.deals.basicApi.updateWithHttpInfo(id, { properties })
              : c.crm.companies.basicApi.updateWithHttpInfo(id, { properties })
          )
        ),
      associate: (from, fromId, to, toId) =>
        Effect.asVoid(run((c) => c.crm.associations.v4.basicApi.createDefaultWithHttpInfo(from, fromId, to, toId))),
      now: Clock.currentTimeMillis
    }

    const tools = makeTools(api, options.properties)

    const execute = (call: CrmCall): Effect.Effect<CrmResult, CrmError> =>
      tools(call).pipe(
        Effect.catchAll((error) =>
          Effect.flatMap(Clock.currentTimeMillis, (now) => Effect.fail(classify(PROVIDER, error.failure, now)))
        ),
        Effect.withSpan("crm.hubspot", { captureStackTrace: false, attributes: { "crm.tool": call.tool } })
      )

    return CrmExecutor.of({ provider: PROVIDER, execute, apiUsage: Ref.get(lastUsage) })
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
        onSome: (m) => (used: number, limit: number) => m.crmApiUsage(PROVIDER, used, limit)
      })
    })
  })
)
