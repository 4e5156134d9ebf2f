import * as HttpApi from "@effect/platform/HttpApi"
import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import * as HttpApiSchema from "@effect/platform/HttpApiSchema"
import type * as HttpMethod from "@effect/platform/HttpMethod"
import * as OpenApi from "@effect/platform/OpenApi"
import * as Schema from "effect/Schema"
import { LeadInput, LeadStatus } from "../domain/lead.js"
import { documented, finishDocument, publicRoute, securedBy } from "./openapi.js"
import { directRoutes } from "./routes.js"
import { Problem, type ProblemStatus } from "./problem.js"
import {
  DeadLetterList,
  HubSpotWebhookBody,
  LeadAudit,
  LeadList,
  LeadView,
  MarketoWebhookBody,
  OpsState,
  ReplayAccepted
} from "./views.js"

export { ActionView, LeadView } from "./views.js"

const Health = Schema.Struct({
  status: Schema.String,
  checks: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.String }))
}).annotations({ identifier: "Health" })

/** Problem details as the server sends them: application/problem+json, not application/json. */
const ProblemJson = HttpApiSchema.withEncoding(Problem, { kind: "Json", contentType: "application/problem+json" })

/** Declares the problem+json answers an endpoint gives, one per status (the handlers build those responses). */
const problems = <
  Name extends string,
  Method extends HttpMethod.HttpMethod,
  Path,
  UrlParams,
  Payload,
  Headers,
  Success,
  Error,
  R,
  RE
>(
  endpoint: HttpApiEndpoint.HttpApiEndpoint<Name, Method, Path, UrlParams, Payload, Headers, Success, Error, R, RE>,
  first: ProblemStatus,
  ...rest: ReadonlyArray<ProblemStatus>
) => {
  let declared = endpoint.addError(ProblemJson, { status: first })
  for (const status of rest) declared = declared.addError(ProblemJson, { status })
  return declared
}

const IdPath = Schema.Struct({ id: Schema.String })
const limitText = "How many to return: a whole number from 1 to 500, written in decimal digits (default 50)"
/**
 * `limit` as the query string carries it: decimal digits only. Number() would also read "0x10", "1e1", "+5", " 1"
 * and "1.0", which nobody means as a count; the pattern (in the OpenAPI document too) says what is taken.
 */
const LimitText = Schema.String.pipe(Schema.pattern(/^[0-9]{1,3}$/)).annotations({
  description: limitText,
  examples: ["50"]
})
const Limit = Schema.Struct({
  // exact: a query parameter is there or not (never `undefined`), so a bad one is one issue, not two
  limit: Schema.optionalWith(
    Schema.compose(LimitText, Schema.NumberFromString.pipe(Schema.int(), Schema.between(1, 500))).annotations({
      description: limitText,
      // one message for every way it can be wrong ("abc", "1.5", "0", "1e8", "0x10"), which says what it must be
      message: () => ({ message: "must be a whole number from 1 to 500", override: true })
    }),
    { exact: true }
  )
}).annotations({
  // a parameter the route does not take (`?status=FAILED`) is a 400 naming it, not silently ignored
  parseOptions: { onExcessProperty: "error" }
})

const statusText = `Only leads in these statuses, comma-separated: ${LeadStatus.literals.join(", ")} (default: every status)`
const oneStatus = `(?:${LeadStatus.literals.join("|")})`
const StatusList = Schema.transform(
  Schema.String.pipe(Schema.pattern(new RegExp(`^${oneStatus}(?:,${oneStatus}){0,5}$`))).annotations({
    description: statusText,
    examples: ["FAILED,REJECTED"]
  }),
  Schema.Array(LeadStatus),
  {
    strict: true,
    decode: (text) => [...new Set(text.split(","))] as Array<LeadStatus>,
    encode: (list) => list.join(",")
  }
).annotations({
  description: statusText,
  message: () => ({
    message: `must be one or more of ${LeadStatus.literals.join(", ")}, comma-separated`,
    override: true
  })
})
const afterText = "Where the page starts: the `next` of the page before (leave it out for the newest leads)"
/** `next` of a page of GET /leads: the last lead's update time (microseconds since 1970) and id. */
export const LeadCursorText = Schema.String.pipe(
  Schema.pattern(/^[0-9]{1,18}\.[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/)
).annotations({
  description: afterText,
  examples: ["1796614653115907.6f1c2a4e-1d2b-4c3a-9e8f-0a1b2c3d4e5f"],
  message: () => ({ message: "must be the `next` of an earlier page of GET /leads", override: true })
})
/** A route that takes no query parameters says so when given one (`/ops/state?status=FAILED`), as the lists do. */
// (an empty Struct takes any object, whatever the parse options say: each key is refused by name here instead)
const NoParams = Schema.Struct({}).pipe(
  Schema.filter((params) => {
    const names = Object.keys(params)
    return names.length === 0 || names.map((name) => ({ path: [name], message: "is unexpected" }))
  })
)
const LeadListParams = Schema.Struct({
  limit: Limit.fields.limit,
  status: Schema.optionalWith(StatusList, { exact: true }),
  after: Schema.optionalWith(LeadCursorText, { exact: true })
}).annotations({ parseOptions: { onExcessProperty: "error" } })

/** What every lead intake (POST /leads and the webhooks) can answer besides success. */
const intakeProblems = [400, 401, 413, 415, 503] as const

/** An intake route (one request per lead): 202 for a new lead, 200 with the stored lead for a duplicate. */
const intake = <Name extends string, Payload>(
  endpoint: HttpApiEndpoint.HttpApiEndpoint<Name, "POST", never, never, Payload>,
  ...more: ReadonlyArray<ProblemStatus>
) =>
  problems(
    endpoint.addSuccess(LeadView, { status: 202 }).addSuccess(LeadView, { status: 200 }),
    ...intakeProblems,
    ...more
  )

/**
 * The routes behind the API keys also answer 403 when no keys are set and the Host is a name other than localhost
 * or one of INGEST_ALLOWED_HOSTS (a page rebinding its DNS name to this machine), or another site's page sent the
 * request (an Origin neither its own nor on a host INGEST_ALLOWED_HOSTS lists; Sec-Fetch-Site: cross-site, unless
 * the Origin is on such a host).
 */
const foreignHost = 403

const createLead = intake(
  HttpApiEndpoint.post("createLead", directRoutes.createLead.path).setPayload(LeadInput),
  foreignHost
)
  .annotate(OpenApi.Description, "Accept a lead: 202 when new (queued), 200 with the stored lead for a duplicate.")
  .annotate(OpenApi.Transform, documented("createLead", securedBy("apiKey")))

const marketo = intake(HttpApiEndpoint.post("marketo", directRoutes.marketo.path).setPayload(MarketoWebhookBody))
  .annotate(
    OpenApi.Description,
    "Marketo webhook (JSON template); authenticated by the X-RevenueFlow-Token header (MARKETO_WEBHOOK_TOKEN)."
  )
  .annotate(OpenApi.Transform, documented("marketo", securedBy("marketoToken")))

const hubspot = intake(HttpApiEndpoint.post("hubspot", directRoutes.hubspot.path).setPayload(HubSpotWebhookBody))
  .annotate(
    OpenApi.Description,
    "HubSpot workflow webhook; verified by X-HubSpot-Signature-v3 over the raw body (HUBSPOT_APP_SECRET)."
  )
  .annotate(OpenApi.Transform, documented("hubspot", securedBy("hubspotSignature")))

/**
 * The intake endpoints: the hot path, which the ingest program's node:http server answers itself (./intake.ts) with
 * the handlers the HttpApi serves (./intakeHandlers.ts), at the method and path of ./routes.ts, which these use.
 */
export const intakeEndpoints = [createLead, marketo, hubspot] as const

/** Lead intake, lookup and replay. */
export class LeadsGroup extends HttpApiGroup.make("leads")
  .add(createLead)
  .add(
    problems(
      HttpApiEndpoint.get("listLeads", "/leads").setUrlParams(LeadListParams).addSuccess(LeadList),
      400,
      401,
      foreignHost,
      503
    )
      .annotate(
        OpenApi.Description,
        "The most recently updated leads, newest first (emails masked), of every status or of `status`; when " +
          "more follow, `next` is where the next page starts (`after`)."
      )
      .annotate(OpenApi.Transform, documented("listLeads", securedBy("apiKey")))
  )
  .add(
    problems(
      HttpApiEndpoint.get("getLead", "/leads/:id").setPath(IdPath).addSuccess(LeadView),
      401,
      foreignHost,
      404,
      503
    )
      .annotate(OpenApi.Description, "A lead: its input, state, analysis, grounding and CRM actions.")
      .annotate(OpenApi.Transform, documented("getLead", securedBy("apiKey")))
  )
  .add(
    problems(
      HttpApiEndpoint.get("leadAudit", "/leads/:id/audit").setPath(IdPath).addSuccess(LeadAudit),
      401,
      foreignHost,
      404,
      503
    )
      .annotate(
        OpenApi.Description,
        "What happened to a lead, for operators: its input with PII masked, analysis, grounding verdict and every " +
          "CRM action's audit row."
      )
      .annotate(OpenApi.Transform, documented("leadAudit", securedBy("apiKey")))
  )
  .add(
    problems(
      HttpApiEndpoint.post("replayLead", "/leads/:id/replay")
        .setPath(IdPath)
        .addSuccess(ReplayAccepted, { status: 202 }),
      401,
      foreignHost,
      404,
      409,
      503
    )
      .annotate(
        OpenApi.Description,
        "Replay a dead-lettered (FAILED) lead: it is queued again with fresh attempts and runs on this server's " +
          "consumer. 409 when the lead is not FAILED."
      )
      .annotate(OpenApi.Transform, documented("replayLead", securedBy("apiKey")))
  ) {}

/** Marketing-platform webhooks. */
export class WebhooksGroup extends HttpApiGroup.make("webhooks").add(marketo).add(hubspot) {}

/** What an operator looks at: dead letters and the state of the queue, breakers and rate limits. */
export class OperationsGroup extends HttpApiGroup.make("operations")
  .add(
    problems(
      HttpApiEndpoint.get("deadLetters", "/dead-letters").setUrlParams(Limit).addSuccess(DeadLetterList),
      400,
      401,
      foreignHost,
      503
    )
      .annotate(OpenApi.Description, "Dead-lettered (FAILED) leads with their reasons, oldest first (emails masked).")
      .annotate(OpenApi.Transform, documented("deadLetters", securedBy("apiKey")))
  )
  .add(
    problems(
      HttpApiEndpoint.get("opsState", "/ops/state").setUrlParams(NoParams).addSuccess(OpsState),
      400,
      401,
      foreignHost
    )
      .annotate(
        OpenApi.Description,
        "Backends, queue counts, leads per status, circuit breakers and rate-limit tiers; a part that cannot be " +
          "read now is null."
      )
      .annotate(OpenApi.Transform, documented("opsState", securedBy("apiKey")))
  ) {}

const healthz = HttpApiEndpoint.get("healthz", directRoutes.healthz.path)
  .addSuccess(Health)
  .annotate(OpenApi.Description, "The process is up.")
  .annotate(OpenApi.Transform, documented("healthz", publicRoute))

const readyz = HttpApiEndpoint.get("readyz", directRoutes.readyz.path)
  .addSuccess(Health)
  .addError(Health, { status: 503 })
  .annotate(OpenApi.Description, "Ready when the lead store answers; the queue's state is reported, not required.")
  .annotate(OpenApi.Transform, documented("readyz", publicRoute))

const metrics = HttpApiEndpoint.get("metrics", directRoutes.metrics.path)
  .addSuccess(HttpApiSchema.Text({ contentType: "text/plain; version=0.0.4; charset=utf-8" }))
  .annotate(OpenApi.Description, "Prometheus metrics (text exposition format).")
  .annotate(OpenApi.Transform, documented("metrics", publicRoute))

/** The ops endpoints the ingest's node:http server also answers itself (./intake.ts), as ./opsAnswers.ts answers. */
export const directOpsEndpoints = [healthz, readyz, metrics] as const

/** Liveness, readiness and Prometheus metrics (never behind the API keys: probes and scrapers have none). */
export class OpsGroup extends HttpApiGroup.make("ops").add(healthz).add(readyz).add(metrics) {}

/** The ingest HTTP API. */
export class IngestApi extends HttpApi.make("revenueflow")
  .add(LeadsGroup)
  .add(WebhooksGroup)
  .add(OperationsGroup)
  .add(OpsGroup)
  .annotate(OpenApi.Title, "RevenueFlow ingest")
  .annotate(OpenApi.Version, "0.1.0")
  .annotate(
    OpenApi.Description,
    "Marketing leads in, audited CRM writes out. Errors are RFC 9457 problem details (application/problem+json)."
  )
  .annotate(OpenApi.Transform, finishDocument) {}

/**
 * Every route the API declares: its method and path (`/leads/:id`), for 405 answers naming what a path takes. Call it
 * on the first request no route takes, not at start (the Lambda handler loads this module cold).
 */
export const declaredRoutes = (): ReadonlyArray<{ readonly method: string; readonly path: string }> => {
  const routes: Array<{ readonly method: string; readonly path: string }> = []
  HttpApi.reflect(IngestApi, {
    onGroup: () => {},
    onEndpoint: ({ endpoint }) => {
      routes.push({ method: endpoint.method, path: endpoint.path })
    }
  })
  return routes
}
