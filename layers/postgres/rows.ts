import type { Analysis, Grounding } from "../../src/domain/analysis.js"
import type { LeadInput, LeadSource, LeadStatus } from "../../src/domain/lead.js"
import type { ActionRecord, ActionStatus, LeadRecord } from "../../src/domain/record.js"

// Both drivers parse jsonb and timestamptz themselves (postgres.js and PGlite alike), so rows map field by field;
// the stores only ever write values that came through the domain types, so they are not re-validated here.

/** A leads row as both drivers return it. */
export interface LeadRow {
  readonly id: string
  readonly lead_key: string
  readonly source: string
  readonly status: string
  readonly input: unknown
  readonly analysis: unknown
  readonly grounding: unknown
  readonly error: string | null
  readonly created_at: Date | string
  readonly updated_at: Date | string
}

/** A crm_actions row as both drivers return it. */
export interface ActionRow {
  readonly id: string
  readonly lead_id: string
  readonly action_key: string
  readonly tool: string
  readonly provider: string
  readonly status: string
  readonly params: unknown
  readonly crm_id: string | null
  readonly result: unknown
  readonly error: string | null
  readonly duration_ms: number
  readonly source: string | null
  readonly created_at: Date | string
}

/** Columns of `leads` in LeadRow order. */
export const leadColumns = "id, lead_key, source, status, input, analysis, grounding, error, created_at, updated_at"

/** Columns of `crm_actions` in ActionRow order. */
export const actionColumns =
  "id, lead_id, action_key, tool, provider, status, params, crm_id, result, error, duration_ms, source, created_at"

const toDate = (value: Date | string): Date => (value instanceof Date ? value : new Date(value))

/** A leads row as the domain's LeadRecord; SQL NULL columns become absent fields. */
export const toLeadRecord = (row: LeadRow): LeadRecord => ({
  id: row.id,
  leadKey: row.lead_key,
  source: row.source as LeadSource,
  status: row.status as LeadStatus,
  input: row.input as LeadInput,
  ...(row.analysis == null ? {} : { analysis: row.analysis as Analysis }),
  ...(row.grounding == null ? {} : { grounding: row.grounding as Grounding }),
  ...(row.error == null ? {} : { error: row.error }),
  createdAt: toDate(row.created_at),
  updatedAt: toDate(row.updated_at)
})

/** A crm_actions row as the domain's ActionRecord; a null result (SQL or JSON) is an absent result. */
export const toActionRecord = (row: ActionRow): ActionRecord => ({
  id: row.id,
  leadId: row.lead_id,
  actionKey: row.action_key,
  tool: row.tool,
  provider: row.provider,
  status: row.status as ActionStatus,
  params: row.params,
  ...(row.crm_id == null ? {} : { crmId: row.crm_id }),
  ...(row.result == null ? {} : { result: row.result }),
  ...(row.error == null ? {} : { error: row.error }),
  durationMs: row.duration_ms,
  ...(row.source == null ? {} : { source: row.source }),
  createdAt: toDate(row.created_at)
})

/**
 * A value for a `$n::text::jsonb` placeholder. The `::text` matters: a bare `$n::jsonb` makes postgres.js
 * JSON.stringify the already-stringified value again, storing a JSON string instead of an object.
 */
export const jsonParam = (value: unknown): string | null => (value === undefined ? null : JSON.stringify(value))

// What Postgres cannot store: NUL (in text and jsonb) and an unpaired surrogate (jsonb); and both as JSON.stringify
// writes them, escaped (a paired surrogate it writes as the character itself).
// biome-ignore lint/suspicious/noControlCharactersInRegex: NUL is exactly what this replaces
const UNSTORABLE = /\u0000|\p{Cs}/gu
const UNSTORABLE_ESCAPE = /\\u0000|\\ud[89a-f]/i

/** `text` with each NUL and unpaired surrogate replaced by U+FFFD: what a text column can hold. */
export const storableText = (text: string): string => text.replace(UNSTORABLE, "\ufffd")

/**
 * A value for a jsonb column that Postgres can store whatever a CRM, a model or an agent put in it: a row must never
 * fail to be written for its content (an audit row: the CRM has acted by then; a lead's analysis or error: the job
 * would wait for a store that can never take it). Strings and keys holding NUL or an unpaired
 * surrogate get U+FFFD instead; anything else is `jsonParam`'s text unchanged (one test of it, no walk).
 */
export const storableJson = (value: unknown): string | null => {
  const json = jsonParam(value)
  if (json === null || !UNSTORABLE_ESCAPE.test(json)) return json
  return JSON.stringify(value, (_key, item: unknown) => {
    if (typeof item === "string") return storableText(item)
    if (typeof item !== "object" || item === null || Array.isArray(item)) return item
    const entries = Object.entries(item)
    return entries.some(([key]) => storableText(key) !== key)
      ? Object.fromEntries(entries.map(([key, child]) => [storableText(key), child]))
      : item
  })
}

/**
 * `value` as its jsonb column holds it once written from `json` (storableJson's text): a copy read from that text when
 * it holds U+FFFD (a character replaced, or one the value had: then an equal copy), else `value` itself.
 */
export const asStored = <A>(value: A, json: string | null): A =>
  json !== null && json.includes("\ufffd") ? (JSON.parse(json) as A) : value

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/** Ids are uuid columns: anything else cannot match, and sending it would be a SQL error rather than "not found". */
export const isUuid = (id: string): boolean => UUID.test(id)
