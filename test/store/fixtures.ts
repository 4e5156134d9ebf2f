import { randomBytes } from "node:crypto"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import type { Analysis, Grounding } from "../../src/domain/analysis.js"
import type { LeadInput } from "../../src/domain/lead.js"
import type { StoreUnavailable } from "../../services/LeadStore.js"
import * as PostgresJs from "../../layers/postgres/postgresJs.js"
import { migrate } from "../../layers/postgres/migrations.js"
import { SqlClient } from "../../layers/postgres/SqlClient.js"
import { layerStores } from "../../layers/postgres/stores.js"
import * as Testing from "../../layers/testing/index.js"

/** The local test database (trust auth); override with TEST_DATABASE_URL. */
export const testDatabaseUrl = Testing.testDatabaseUrl()

/** A schema of its own for one test, dropped (cascade) when the scope closes. */
export const testSchema: Effect.Effect<string, StoreUnavailable, Scope.Scope> = Testing.testSchema(testDatabaseUrl)

/** Stores on the local Postgres in a fresh schema per build: nothing is left behind. */
export const layerPostgresTest = Testing.layerPostgresTest(testDatabaseUrl)

/** The stores over the SqlClient in context, with both tables emptied first. */
export const layerEmptyStores = layerStores.pipe(
  Layer.provide(
    Layer.effectDiscard(
      Effect.zipRight(
        migrate,
        Effect.flatMap(SqlClient, (sql) => sql.query("TRUNCATE crm_actions, leads"))
      )
    )
  )
)

/** Whether a schema still exists (to check that tests clean up). */
export const schemaExists = (schema: string) =>
  Effect.scoped(
    Effect.flatMap(PostgresJs.make({ url: Redacted.make(testDatabaseUrl), poolSize: 1 }), (admin) =>
      admin.query("SELECT 1 FROM information_schema.schemata WHERE schema_name = $1", [schema])
    )
  ).pipe(Effect.map((rows) => rows.length > 0))

let counter = 0

/** A distinct lead key (the store treats it as opaque; production uses a sha256). */
export const newLeadKey = (): string => `key-${Date.now()}-${++counter}-${randomBytes(4).toString("hex")}`

/** A valid lead with optional fields, activity and attributes, to check the jsonb round trip. */
export const sampleLead = (overrides: Partial<LeadInput> = {}): LeadInput => ({
  email: "ada@example.com",
  campaignId: "spring-launch",
  firstName: "Ada",
  company: "Example Ltd",
  activity: { pageViews: 12, demoRequested: true, lastActivityAt: "2025-01-02T03:04:05Z" },
  attributes: { plan: "pro", seats: 40, trial: false, referrer: null },
  ...overrides
})

/** An analysis citing evidence of each value shape. */
export const sampleAnalysis: Analysis = {
  fitScore: 82,
  intent: "High Fit",
  decision: "Route to SDR",
  reasoning: "Large company on a pro plan that asked for a demo.",
  evidence: [
    { source: "ENRICHMENT", fieldPath: "company.employees", value: 1200, claimType: "FIRMOGRAPHIC" },
    { source: "MARKETING", fieldPath: "activity.demoRequested", value: true, claimType: "BEHAVIOR" },
    { source: "ENRICHMENT", fieldPath: "company.tech", value: ["aws", "postgres"], claimType: "FIRMOGRAPHIC" },
    { source: "COMPUTED", fieldPath: "score.note", value: null, claimType: "SCORE" }
  ]
}

/** A grounding verdict that downgraded the analysis. */
export const sampleGrounding: Grounding = {
  outcome: "DOWNGRADED",
  reasons: ["employees not confirmed by enrichment"],
  analysis: { ...sampleAnalysis, fitScore: 60, intent: "Medium Fit", decision: "Nurture" }
}
