import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { leadKey } from "../../src/domain/leadKey.js"
import { callTool } from "../../src/mcp/calls.js"
import { memoryEnv } from "../support/env.js"
import { storeLeads } from "./behaviour.js"

/**
 * An agent passes an address as its user typed it: upper-cased, padded, or decomposed ("e" + U+0301). The lead it
 * names is the one the ingest stored (composed, lower-cased), found and acted on, never "not found" or "mismatch".
 */
describe("MCP tools name a lead however its email and campaign are spelled", () => {
  const composed = { email: "jos\u00E9.n\u00FA\u00F1ez@acme.io", campaignId: "caf\u00E9-spring" }
  const typed = {
    email: ` ${composed.email.normalize("NFD").toUpperCase()} `,
    campaignId: composed.campaignId.normalize("NFD")
  }

  it.effect("find_lead finds it, and a CRM tool given the decomposed email acts on it", () =>
    Effect.gen(function* () {
      const [stored] = yield* storeLeads([{ ...composed, firstName: "Jos\u00E9" }])
      expect(typed.email.trim().toLowerCase()).not.toBe(composed.email)
      // the exported key rule is the ingest's, whatever spelling it is given
      expect(leadKey(typed.email, typed.campaignId)).toBe(stored!.leadKey)

      const found = yield* callTool("find_lead", typed)
      expect(found.isError ?? false).toBe(false)
      expect(found.structuredContent).toMatchObject({ id: stored!.id, leadKey: stored!.leadKey })

      const upserted = yield* callTool("upsert_lead", {
        leadKey: stored!.leadKey,
        email: typed.email.normalize("NFD"),
        campaignId: composed.campaignId
      })
      expect(upserted.structuredContent).not.toMatchObject({ error: "LeadMismatch" })
      expect(upserted.isError ?? false).toBe(false)
    }).pipe(Effect.provide(memoryEnv()))
  )
})
