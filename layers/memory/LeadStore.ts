import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { LeadStatus } from "../../src/domain/lead.js"
import type { LeadRecord } from "../../src/domain/record.js"
import { type LeadPage, LeadNotFound, LeadStore, StaleTransition } from "../../services/LeadStore.js"

// What a jsonb column would give back: undefined keys dropped, a copy the caller cannot mutate afterwards.
const jsonCopy = <A>(value: A): A => JSON.parse(JSON.stringify(value)) as A

/**
 * LeadStore in process memory with the Postgres store's semantics (same tests run on both). Timestamps come from
 * Effect's Clock, so TestClock drives listByStatus ages. Each call to `make` is a separate, empty store.
 */
export const make: Effect.Effect<LeadStore.Service> = Effect.sync(() => {
  const byId = new Map<string, LeadRecord>()
  const idByKey = new Map<string, string>()

  // each mutation below is one synchronous step, hence atomic on the JS thread: no check-then-insert race
  const lookup = (id: string) =>
    Effect.suspend(() => {
      const lead = byId.get(id)
      return lead === undefined ? Effect.fail(new LeadNotFound({ leadId: id })) : Effect.succeed(lead)
    })

  const accept: LeadStore.Service["accept"] = ({ lead, leadKey, source, status = "RECEIVED" }) =>
    Effect.flatMap(Clock.currentTimeMillis, (now) =>
      Effect.sync(() => {
        const existingId = idByKey.get(leadKey)
        const existing = existingId === undefined ? undefined : byId.get(existingId)
        if (existing !== undefined) return { lead: existing, created: false }
        const record: LeadRecord = {
          id: crypto.randomUUID(),
          leadKey,
          source,
          status,
          input: jsonCopy(lead),
          createdAt: new Date(now),
          updatedAt: new Date(now)
        }
        byId.set(record.id, record)
        idByKey.set(leadKey, record.id)
        return { lead: record, created: true }
      })
    )

  const revise: NonNullable<LeadStore.Service["revise"]> = (id, { source, lead }) =>
    Effect.flatMap(Clock.currentTimeMillis, (now) =>
      Effect.sync(() => {
        const current = byId.get(id)
        if (current?.status !== "FAILED") return Option.none()
        const { analysis: _analysis, grounding: _grounding, error: _error, ...rest } = current
        const revised: LeadRecord = {
          ...rest,
          source,
          input: jsonCopy(lead),
          status: "QUEUED",
          updatedAt: new Date(now)
        }
        byId.set(id, revised)
        return Option.some(revised)
      })
    )

  // error describes the latest transition: set from detail.error, cleared otherwise (as in the SQL store)
  const transition: LeadStore.Service["transition"] = (id, from, to, detail) =>
    Effect.flatMap(Clock.currentTimeMillis, (now) =>
      Effect.flatMap(lookup(id), (current) => {
        if (!from.includes(current.status)) {
          return Effect.fail(new StaleTransition({ leadId: id, expected: [...from], actual: current.status }))
        }
        const { error: _previous, ...rest } = current
        const next: LeadRecord = {
          ...rest,
          status: to,
          ...(detail?.error === undefined ? {} : { error: detail.error }),
          updatedAt: new Date(now)
        }
        byId.set(id, next)
        return Effect.succeed(next)
      })
    )

  const saveAnalysis: LeadStore.Service["saveAnalysis"] = (id, analysis, grounding) =>
    Effect.flatMap(Clock.currentTimeMillis, (now) =>
      Effect.map(lookup(id), (current) => {
        // the first analysis saved is kept (see LeadStore.saveAnalysis)
        if (current.grounding !== undefined) return jsonCopy(current.grounding)
        byId.set(id, {
          ...current,
          analysis: jsonCopy(analysis),
          grounding: jsonCopy(grounding),
          updatedAt: new Date(now)
        })
        return jsonCopy(grounding)
      })
    )

  const listByStatus: LeadStore.Service["listByStatus"] = ({ limit, olderThanMs, statuses }) =>
    Effect.map(Clock.currentTimeMillis, (now) =>
      [...byId.values()]
        .filter((lead) => statuses.includes(lead.status) && now - lead.updatedAt.getTime() >= olderThanMs)
        .sort((a, b) => a.updatedAt.getTime() - b.updatedAt.getTime() || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
        .slice(0, Math.max(0, Math.floor(limit)))
    )

  const micros = (lead: LeadRecord) => BigInt(lead.updatedAt.getTime()) * 1000n
  // newest first; ties by id, descending, as the Postgres store orders them
  const newerFirst = (a: LeadRecord, b: LeadRecord) =>
    b.updatedAt.getTime() - a.updatedAt.getTime() || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0)

  const listRecent: LeadStore.Service["listRecent"] = ({ after, limit, statuses }) =>
    Effect.sync((): LeadPage => {
      const rows = Math.max(0, Math.floor(limit))
      const found = [...byId.values()]
        .filter(
          (lead) =>
            (statuses === undefined || statuses.includes(lead.status)) &&
            (after === undefined ||
              micros(lead) < after.updatedAtMicros ||
              (micros(lead) === after.updatedAtMicros && lead.id < after.id))
        )
        .sort(newerFirst)
      const leads = found.slice(0, rows)
      const last = leads[rows - 1]
      return found.length > rows && last !== undefined
        ? { leads, next: { updatedAtMicros: micros(last), id: last.id } }
        : { leads }
    })

  const countByStatus: LeadStore.Service["countByStatus"] = Effect.sync(() => {
    const counts: Record<string, number> = Object.fromEntries(LeadStatus.literals.map((s) => [s, 0]))
    for (const lead of byId.values()) counts[lead.status] = (counts[lead.status] ?? 0) + 1
    return counts
  })

  const countByStatusUpTo: NonNullable<LeadStore.Service["countByStatusUpTo"]> = (upTo) =>
    Effect.map(countByStatus, (counts) =>
      Object.fromEntries(Object.entries(counts).map(([status, n]) => [status, Math.min(n, Math.max(0, upTo))]))
    )

  const findByKey: LeadStore.Service["findByKey"] = (leadKey) =>
    Effect.sync(() => {
      const id = idByKey.get(leadKey)
      return Option.fromNullable(id === undefined ? undefined : byId.get(id))
    })

  return LeadStore.of({
    accept,
    revise,
    get: lookup,
    findByKey,
    transition,
    saveAnalysis,
    listByStatus,
    listRecent,
    countByStatus,
    countByStatusUpTo
  })
})

/** In-memory LeadStore; a fresh empty store per layer build. */
export const layer: Layer.Layer<LeadStore> = Layer.effect(LeadStore, make)
