/**
 * Example bodies for the OpenAPI document, one per request and per answer. The docs page shows them as the body to
 * try, so each must pass its route's schema: test/http/openapi.test.ts decodes every one with the route's Schema.
 */
import { foreignHostDetail } from "./auth.js"

const leadId = "0b9f8a52-3c1e-4c57-9d7b-2f8e6d1a4c30"
const at = "2026-01-15T10:00:00.000Z"

const leadInput = {
  email: "grace.hopper@globex.com",
  campaignId: "spring-webinar",
  firstName: "Grace",
  lastName: "Hopper",
  company: "Globex",
  title: "VP Engineering",
  website: "https://globex.com",
  country: "US",
  activity: { pageViews: 18, pricingPageVisits: 4, demoRequested: true },
  attributes: { "crm.owner": "emea-team", "webinar.attended": true }
}

const analysis = {
  fitScore: 86,
  intent: "High Fit",
  decision: "Route to SDR",
  reasoning: "VP Engineering at a 5,000-person software company who requested a demo.",
  evidence: [
    { source: "ENRICHMENT", fieldPath: "enrichment.employees", value: 5000, claimType: "FIRMOGRAPHIC" },
    { source: "MARKETING", fieldPath: "activity.demoRequested", value: true, claimType: "BEHAVIOR" }
  ]
}

const synced = {
  id: leadId,
  leadKey: "5f2c0d3e9a7b41c8a1e6f0b2d4c6e8a0b1c3d5e7f9a1b3c5d7e9f1a3b5c7d9e1",
  source: "api",
  status: "SYNCED",
  lead: leadInput,
  analysis,
  grounding: { outcome: "VALID", reasons: [], analysis },
  actions: [
    {
      tool: "upsert_lead",
      provider: "mock",
      status: "SUCCEEDED",
      crmId: "00Q5e000001abcD",
      durationMs: 12,
      createdAt: at
    }
  ],
  createdAt: at,
  updatedAt: at
}

const accepted = {
  id: leadId,
  leadKey: synced.leadKey,
  source: "api",
  status: "QUEUED",
  lead: leadInput,
  actions: [],
  createdAt: at,
  updatedAt: at
}

const problem = (status: number, title: string, detail: string) => ({
  type: `https://revenueflow.dev/problems/${status}`,
  title,
  status,
  detail
})

/** Problem examples by status, shared by every route that answers it. */
export const problemExamples: Readonly<Record<number, unknown>> = {
  400: {
    ...problem(400, "Bad Request", "The lead is invalid; see errors for each field"),
    errors: [{ field: "email", message: "email must be a valid email address" }]
  },
  401: problem(401, "Unauthorized", "A valid API key is required (X-API-Key or Authorization: Bearer)"),
  403: problem(403, "Forbidden", foreignHostDetail("crm-tools.example.com:3000")),
  404: problem(404, "Not Found", `No lead with id "${leadId}"`),
  409: problem(409, "Conflict", "Only a FAILED lead can be replayed; this one is SYNCED"),
  413: problem(413, "Payload Too Large", "The body is larger than 65536 bytes"),
  415: problem(415, "Unsupported Media Type", "Send the body as application/json"),
  503: problem(
    503,
    "Service Unavailable",
    "The lead store did not confirm the lead; retry the same request later (if it was stored meanwhile, the retry is answered 200 with it: never stored twice)."
  )
}

export interface OperationExamples {
  readonly request?: unknown
  readonly responses?: Readonly<Record<number, unknown>>
}

/** Examples by operation (the endpoint's name). */
export const operationExamples: Readonly<Record<string, OperationExamples>> = {
  createLead: { request: leadInput, responses: { 202: accepted, 200: synced } },
  listLeads: {
    responses: {
      200: {
        leads: [
          {
            id: leadId,
            source: "api",
            status: "SYNCED",
            email: "***@globex.com",
            campaignId: "spring-webinar",
            company: "Globex",
            decision: "Route to SDR",
            grounding: "VALID",
            createdAt: at,
            updatedAt: at
          }
        ],
        next: `1796614653115907.${leadId}`
      }
    }
  },
  getLead: { responses: { 200: synced } },
  leadAudit: {
    responses: {
      200: {
        id: leadId,
        source: "api",
        status: "SYNCED",
        input: { ...leadInput, email: "***@globex.com", firstName: "***", lastName: "***" },
        analysis,
        grounding: { outcome: "VALID", reasons: [], analysis },
        actions: [
          {
            id: "7d1e2f3a-4b5c-4d6e-8f90-a1b2c3d4e5f6",
            actionKey: "9c4e1b7a2d5f8e3c6a9b0d1e4f7a2c5b8e1d4a7c0f3b6e9d2a5c8f1b4e7d0a3c",
            tool: "upsert_lead",
            provider: "mock",
            status: "SUCCEEDED",
            params: { email: "***@globex.com", company: "Globex" },
            crmId: "00Q5e000001abcD",
            durationMs: 12,
            createdAt: at
          }
        ],
        createdAt: at,
        updatedAt: at
      }
    }
  },
  replayLead: { responses: { 202: { leadId, status: "QUEUED" } } },
  marketo: {
    request: {
      email: "grace.hopper@globex.com",
      firstName: "Grace",
      lastName: "Hopper",
      company: "Globex",
      title: "VP Engineering",
      phone: null,
      website: "globex.com",
      country: "US",
      leadSource: "Webinar",
      marketoLeadId: 1042,
      programId: 2231,
      programName: "Spring webinar",
      campaignName: "Webinar follow-up"
    },
    responses: { 202: { ...accepted, source: "marketo" }, 200: { ...synced, source: "marketo" } }
  },
  hubspot: {
    request: {
      objectId: 5101,
      portalId: 62515,
      properties: {
        email: { value: "grace.hopper@globex.com" },
        firstname: { value: "Grace" },
        lastname: { value: "Hopper" },
        company: { value: "Globex" },
        jobtitle: { value: "VP Engineering" },
        hs_analytics_source_data_2: { value: "spring-webinar" },
        hs_analytics_num_page_views: { value: "18" }
      }
    },
    responses: { 202: { ...accepted, source: "hubspot" }, 200: { ...synced, source: "hubspot" } }
  },
  deadLetters: {
    responses: {
      200: {
        deadLetters: [
          {
            id: leadId,
            email: "***@nowhere.invalid",
            campaignId: "spring-webinar",
            error: "CRM rejected upsert_lead: INVALID_EMAIL_ADDRESS",
            failedAt: at
          }
        ]
      }
    }
  },
  opsState: {
    responses: {
      200: {
        backends: {
          database: "embedded PGlite (.data/pglite)",
          queue: "memory",
          crm: "mock",
          analyzer: "heuristic",
          enrichment: "mock"
        },
        queue: { waiting: 0, active: 1, delayed: 0, completed: 12, failed: 1, oldestWaitingAgeMs: 0 },
        leads: { RECEIVED: 0, QUEUED: 0, PROCESSING: 1, SYNCED: 11, REJECTED: 1, FAILED: 1 },
        leadsCountedUpTo: 10000,
        breakers: [{ name: "mock", state: "closed" }],
        rateLimits: [
          { tier: "lead", limit: 10, windowMs: 60000, scope: "per lead" },
          { tier: "account", limit: 100, windowMs: 60000, scope: "per account domain" },
          { tier: "crm", limit: 1000, windowMs: 60000, scope: "per CRM provider" }
        ]
      }
    }
  },
  healthz: { responses: { 200: { status: "ok" } } },
  readyz: {
    responses: {
      200: { status: "ready", checks: { store: "ok", queue: "ok" } },
      503: { status: "unavailable", checks: { store: "down", queue: "ok" } }
    }
  },
  metrics: {
    responses: {
      200: '# TYPE revenueflow_leads_finished_total counter\nrevenueflow_leads_finished_total{status="SYNCED"} 11\n'
    }
  }
}
