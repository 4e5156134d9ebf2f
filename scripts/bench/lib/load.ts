import autocannon from "autocannon"

/** What one load phase measured. */
export interface LoadResult {
  readonly connections: number
  readonly seconds: number
  readonly requests: number
  readonly rps: number
  readonly p50: number
  readonly p99: number
  /** Responses per status code ("202", "200", ...). */
  readonly statuses: Readonly<Record<string, number>>
  /** Socket errors and timeouts: requests that got no response at all. */
  readonly errors: number
  /** Lead ids from 202 responses, to check afterwards that each is stored and queued. */
  readonly createdIds: ReadonlyArray<string>
}

const ID = /"id":"([^"]+)"/

/** POST /leads for `seconds` (or `amount` requests) over `connections` keep-alive connections, each request body from `body()`. */
export const postLeads = async (options: {
  readonly port: number
  readonly connections: number
  readonly seconds: number
  readonly body: () => string
  /** Send exactly this many requests instead of loading for `seconds`. */
  readonly amount?: number | undefined
}): Promise<LoadResult> => {
  const createdIds: Array<string> = []
  const statuses: Record<string, number> = {}
  const result = await autocannon({
    url: `http://127.0.0.1:${options.port}`,
    connections: options.connections,
    ...(options.amount === undefined ? { duration: options.seconds } : { amount: options.amount }),
    timeout: 10,
    requests: [
      {
        method: "POST",
        path: "/leads",
        headers: { "content-type": "application/json" },
        setupRequest: (request) => ({ ...request, body: options.body() }),
        onResponse: (status, text) => {
          statuses[status] = (statuses[status] ?? 0) + 1
          if (status !== 202) return
          const id = ID.exec(text)?.[1]
          if (id !== undefined) createdIds.push(id)
        }
      }
    ]
  })
  const requests = Object.values(statuses).reduce((a, b) => a + b, 0)
  return {
    connections: options.connections,
    seconds: result.duration,
    requests,
    rps: requests / result.duration,
    p50: result.latency.p50,
    p99: result.latency.p99,
    statuses,
    errors: result.errors + result.timeouts,
    createdIds
  }
}

/** "202:1234 200:5" */
export const formatStatuses = (statuses: Readonly<Record<string, number>>) =>
  Object.entries(statuses)
    .map(([status, count]) => `${status}:${count}`)
    .join(" ")
