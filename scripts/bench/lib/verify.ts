import type { Redis } from "ioredis"
import type postgres from "postgres"

/** Did every acknowledged (202) lead reach Postgres and the BullMQ queue? */
export interface Verification {
  readonly acknowledged: number
  readonly rows: number
  readonly storedOfAcknowledged: number
  readonly queuedOfAcknowledged: number
  readonly notQueuedStatus: number
  readonly waitingJobs: number
  /** Acknowledged leads missing from the store plus those missing from the queue: must be 0. */
  readonly lost: number
}

/**
 * Count, for the 202 ids, the rows in `schema.leads` and the BullMQ job hashes `<prefix>:<queue>:<id>`.
 * `expectStatus` is the status an acknowledged lead should have (QUEUED after the real ingest).
 */
export const verifyAcknowledged = async (
  sql: postgres.Sql,
  redis: Redis,
  options: {
    readonly schema: string
    readonly prefix: string
    readonly queue: string
    readonly ids: ReadonlyArray<string>
    readonly expectStatus: string
  }
): Promise<Verification> => {
  const ids = [...new Set(options.ids)]
  const [counts] = await sql.unsafe<Array<{ rows: number; stored: number; other: number }>>(
    `SELECT count(*)::int AS rows,
            count(*) FILTER (WHERE id = ANY($1::uuid[]))::int AS stored,
            count(*) FILTER (WHERE id = ANY($1::uuid[]) AND status <> $2)::int AS other
     FROM ${options.schema}.leads`,
    [ids, options.expectStatus]
  )
  let queued = 0
  for (let i = 0; i < ids.length; i += 2000) {
    const pipeline = redis.pipeline()
    for (const id of ids.slice(i, i + 2000)) pipeline.exists(`${options.prefix}:${options.queue}:${id}`)
    const results = (await pipeline.exec()) ?? []
    for (const [error, found] of results) if (error === null && found === 1) queued++
  }
  const waitingJobs = await redis.llen(`${options.prefix}:${options.queue}:wait`)
  const stored = counts?.stored ?? 0
  return {
    acknowledged: ids.length,
    rows: counts?.rows ?? 0,
    storedOfAcknowledged: stored,
    queuedOfAcknowledged: queued,
    notQueuedStatus: counts?.other ?? 0,
    waitingJobs,
    lost: ids.length - stored + (ids.length - queued)
  }
}
