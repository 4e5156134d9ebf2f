import * as Effect from "effect/Effect"
import type { ActionEntry, AuditLog } from "../../services/AuditLog.js"
import { LeadStore } from "../../services/LeadStore.js"
import { newLeadKey, sampleLead } from "./fixtures.js"

/** Registers one test that runs `body` against a fresh, empty store. */
export type StoreTest = (title: string, body: () => Effect.Effect<void, unknown, LeadStore | AuditLog>) => void

/** A uuid as both engines print it (gen_random_uuid / crypto.randomUUID). */
export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

/** Accepts the sample lead (with overrides) under a new or given key. */
export const accept = (overrides: Parameters<typeof sampleLead>[0] = {}, leadKey = newLeadKey()) =>
  Effect.flatMap(LeadStore, (store) => store.accept({ leadKey, source: "api", lead: sampleLead(overrides) }))

/** A SUCCEEDED audit entry for `leadId` under a new action key. */
export const entry = (leadId: string, overrides: Partial<ActionEntry> = {}): ActionEntry => ({
  leadId,
  actionKey: `action-${newLeadKey()}`,
  tool: "upsert_lead",
  provider: "MOCK",
  status: "SUCCEEDED",
  params: { email: "[redacted]", company: "Example Ltd", tags: ["a", "b"], nested: { score: 82 } },
  crmId: "00Q000000000001",
  result: { id: "00Q000000000001", created: true },
  durationMs: 42,
  ...overrides
})
