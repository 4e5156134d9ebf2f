import type { CrmRecord } from "./crmProxy.js"

/**
 * What one HubSpot request did, as a pipeline action: `${tool}:${ref}`, where ref is the lead's email for the
 * contact writes and the action key for engagements (the executor upserts notes / tasks / deals by action key).
 * Requests that are steps of an action counted elsewhere (the email-only contact lookup, associations, company
 * search) have no signature.
 */
export interface Signature {
  readonly key: string
  readonly tool: string
  /** The lead's email when the request carries it. */
  readonly email: string | undefined
  /** The action key when the request carries it. */
  readonly actionKey: string | undefined
}

interface UpsertBody {
  readonly inputs?: ReadonlyArray<{ idProperty?: string; id?: string; properties?: Record<string, string> }>
}

const engagementTools: Record<string, string> = {
  notes: "log_activity",
  tasks: "create_task",
  deals: "create_opportunity"
}

/** The action a request performs, or undefined for an intermediate step. */
export const signatureOf = (record: CrmRecord): Signature | undefined => {
  const upsert = /^\/crm\/v3\/objects\/(\w+)\/batch\/upsert$/.exec(record.path)
  if (record.method !== "POST" || upsert === null) return undefined
  const input = (record.json as UpsertBody | undefined)?.inputs?.[0]
  if (input?.id === undefined) return undefined
  const type = upsert[1] ?? ""
  const engagement = engagementTools[type]
  if (engagement !== undefined) {
    return { key: `${engagement}:${input.id}`, tool: engagement, email: undefined, actionKey: input.id }
  }
  if (type !== "contacts") return undefined
  const names = Object.keys(input.properties ?? {}).filter((name) => name !== "email")
  const tool = names.includes("revenueflow_lead_key")
    ? "upsert_lead"
    : names.includes("revenueflow_score")
      ? "set_lead_score"
      : names.includes("lifecyclestage")
        ? "convert_lead"
        : names.includes("hs_lead_status")
          ? "update_lead_status"
          : names.length > 0
            ? "sync_firmographics"
            : undefined
  if (tool === undefined) return undefined
  const email = input.id.toLowerCase()
  return { key: `${tool}:${email}`, tool, email, actionKey: undefined }
}

/** The signature an audit row's action leaves at the CRM (see signatureOf). */
export const auditSignature = (row: { tool: string; action_key: string; email: string }): string =>
  Object.values(engagementTools).includes(row.tool) ? `${row.tool}:${row.action_key}` : `${row.tool}:${row.email}`

/** How many times each action reached the CRM and took effect. */
export interface ActionCount {
  readonly key: string
  readonly records: ReadonlyArray<CrmRecord>
}

/** Effective requests (CRM answered 2xx) grouped by action; `repeated` lists the actions that took effect twice. */
export const countActions = (effective: ReadonlyArray<CrmRecord>) => {
  const byKey = new Map<string, Array<CrmRecord>>()
  for (const record of effective) {
    const signature = signatureOf(record)
    if (signature === undefined) continue
    const list = byKey.get(signature.key) ?? []
    list.push(record)
    byKey.set(signature.key, list)
  }
  const actions: Array<ActionCount> = [...byKey].map(([key, records]) => ({ key, records }))
  return {
    actions,
    distinct: actions.length,
    total: actions.reduce((n, a) => n + a.records.length, 0),
    repeated: actions.filter((a) => a.records.length > 1)
  }
}

/**
 * A repeat a SIGKILL explains: the action's first request came from a program that was then SIGKILLed (it reached
 * the proxy through that program's own `entrance`, named in `killed`) and its one resend from another. The killed
 * program may have died between the CRM's answer and its record of it; nothing can avoid that one resend, and the
 * HubSpot writes are upserts keyed by email / action key, so the CRM still holds one object. Told by who sent it,
 * not by when it arrived: a request written just before the kill may reach the proxy's event loop just after it.
 */
export const explainedByKill = (action: ActionCount, killed: ReadonlyArray<string>): boolean =>
  action.records.length === 2 &&
  killed.includes(action.records[0]!.via) &&
  action.records[1]!.via !== action.records[0]!.via

/** One rate-limit tier as the pipeline configures it. */
export interface TierCheck {
  readonly name: string
  readonly limit: number
  readonly windowMs: number
  /** Groups actions (e.g. by lead email or account domain); "" for the CRM-wide tier. */
  readonly group: (signature: Signature, email: string | undefined) => string
}

/** A window in which more actions reached the CRM than the tier allows. */
export interface WindowExcess {
  readonly tier: string
  readonly group: string
  readonly window: number
  readonly count: number
  readonly limit: number
}

/**
 * Check fixed-window limits at the CRM side. Every request that carries an action's signature stands for one
 * acquired permit (the executor makes no retries of its own). The permit was taken up to `slackMs` before the
 * request arrived, so a request early in a window may belong to the previous one: it is counted there while that
 * window has room (greedy in time order, which is optimal). Any window still over its limit is an excess.
 */
export const checkWindows = (
  records: ReadonlyArray<CrmRecord>,
  tiers: ReadonlyArray<TierCheck>,
  emailOf: (signature: Signature) => string | undefined,
  slackMs: number
): ReadonlyArray<WindowExcess> => {
  const marked = records
    .map((record) => ({ record, signature: signatureOf(record) }))
    .filter((m): m is { record: CrmRecord; signature: Signature } => m.signature !== undefined)
    .sort((a, b) => a.record.receivedAt - b.record.receivedAt)
  const excess: Array<WindowExcess> = []
  for (const tier of tiers) {
    const counts = new Map<string, number>()
    const bump = (group: string, window: number) => {
      const id = `${group}|${window}`
      counts.set(id, (counts.get(id) ?? 0) + 1)
    }
    for (const { record, signature } of marked) {
      const group = tier.group(signature, emailOf(signature))
      const window = Math.floor(record.receivedAt / tier.windowMs)
      const earlier = Math.floor((record.receivedAt - slackMs) / tier.windowMs)
      const earlierCount = counts.get(`${group}|${earlier}`) ?? 0
      bump(group, earlier < window && earlierCount < tier.limit ? earlier : window)
    }
    for (const [id, count] of counts) {
      if (count <= tier.limit) continue
      const [group = "", window = "0"] = id.split("|")
      excess.push({ tier: tier.name, group, window: Number(window), count, limit: tier.limit })
    }
  }
  return excess
}

/** The busiest window of a tier (to show that limits were actually reached). */
export const busiestWindow = (records: ReadonlyArray<CrmRecord>, windowMs: number): number => {
  const counts = new Map<number, number>()
  for (const record of records) {
    if (signatureOf(record) === undefined) continue
    const window = Math.floor(record.receivedAt / windowMs)
    counts.set(window, (counts.get(window) ?? 0) + 1)
  }
  return Math.max(0, ...counts.values())
}
