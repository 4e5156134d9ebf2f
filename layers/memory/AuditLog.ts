import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type { ActionRecord } from "../../src/domain/record.js"
import { AuditLog } from "../../services/AuditLog.js"

// What a jsonb column would give back: undefined keys dropped, a copy the caller cannot mutate afterwards.
const jsonCopy = (value: unknown): unknown => (value === undefined ? undefined : JSON.parse(JSON.stringify(value)))

/**
 * AuditLog in process memory with the SQL store's semantics: one SUCCEEDED row per action key (the first wins),
 * other statuses append. Unlike Postgres it does not check that `leadId` names a stored lead.
 */
export const make: Effect.Effect<AuditLog.Service> = Effect.sync(() => {
  const rows: Array<ActionRecord> = []
  const succeeded = new Map<string, ActionRecord>()

  const record: AuditLog.Service["record"] = (entry) =>
    Effect.flatMap(Clock.currentTimeMillis, (now) =>
      Effect.sync(() => {
        const first = entry.status === "SUCCEEDED" ? succeeded.get(entry.actionKey) : undefined
        if (first !== undefined) return first
        const result = jsonCopy(entry.result)
        const row: ActionRecord = {
          id: crypto.randomUUID(),
          leadId: entry.leadId,
          actionKey: entry.actionKey,
          tool: entry.tool,
          provider: entry.provider,
          status: entry.status,
          params: jsonCopy(entry.params ?? null),
          ...(entry.crmId === undefined ? {} : { crmId: entry.crmId }),
          // a null result reads back as absent from Postgres too
          ...(result == null ? {} : { result }),
          ...(entry.error === undefined ? {} : { error: entry.error }),
          durationMs: Math.round(entry.durationMs),
          ...(entry.source === undefined ? {} : { source: entry.source }),
          createdAt: new Date(now)
        }
        rows.push(row)
        if (row.status === "SUCCEEDED") succeeded.set(row.actionKey, row)
        return row
      })
    )

  const recordEach: AuditLog.Service["recordEach"] = (entries) => Effect.forEach(entries, record)

  const findSucceeded: AuditLog.Service["findSucceeded"] = (actionKey) =>
    Effect.sync(() => Option.fromNullable(succeeded.get(actionKey)))

  const listForLead: AuditLog.Service["listForLead"] = (leadId) =>
    Effect.sync(() => rows.filter((row) => row.leadId === leadId))

  const pageForLead: AuditLog.Service["pageForLead"] = (leadId, { limit, after }) =>
    Effect.sync(() => {
      const mine = rows.filter((row) => row.leadId === leadId)
      const start = after === undefined ? 0 : mine.findIndex((row) => row.id === after) + 1
      if (start === 0 && after !== undefined) return Option.none()
      const page = mine.slice(start, start + limit)
      return Option.some({ rows: page, remaining: mine.length - start - page.length })
    })

  return AuditLog.of({ record, recordEach, findSucceeded, listForLead, pageForLead })
})

/** In-memory AuditLog; a fresh empty log per layer build. */
export const layer: Layer.Layer<AuditLog> = Layer.effect(AuditLog, make)
