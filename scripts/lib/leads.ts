import * as Effect from "effect/Effect"

/** What POST /leads answered. status 0: nothing answered (connection refused / timed out). */
export interface PostResult {
  readonly status: number
  readonly id: string | undefined
  readonly leadStatus: string | undefined
  readonly retryAfter: string | undefined
  readonly email: string
}

/**
 * A lead body that the heuristic analyser scores and grounds VALID without enrichment (its domain is unknown to the
 * mock enricher), so it plans contact and engagement writes only: every third lead is an engaged executive (Medium
 * Fit, Nurture: four actions), the rest Low Fit (three actions). `accounts` spreads leads over that many domains.
 */
export const leadBody = (run: string, index: number, accounts = 5) => ({
  email: `lead-${index}-${run}@acct${index % accounts}.rf-load.io`,
  campaignId: `campaign-${run}`,
  firstName: "Ada",
  lastName: `Tester${index}`,
  ...(index % 3 === 0
    ? {
        title: "VP Engineering",
        activity: {
          demoRequested: true,
          trialSignup: true,
          pricingPageVisits: 8,
          pageViews: 60,
          formSubmissions: 3,
          emailClicks: 5,
          productLogins: 10
        }
      }
    : { title: "Engineer", activity: { demoRequested: index % 2 === 0, pricingPageVisits: index % 4, pageViews: 5 } })
})

/** POST one lead as JSON; never fails (status 0 when nothing answered). */
export const postLead = (baseUrl: string, body: { readonly email: string }, timeoutMs = 10_000) =>
  Effect.promise(async (): Promise<PostResult> => {
    try {
      const res = await fetch(`${baseUrl}/leads`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(timeoutMs)
      })
      const json = (await res.json().catch(() => undefined)) as { id?: string; status?: string } | undefined
      return {
        status: res.status,
        id: json?.id,
        leadStatus: json?.status,
        retryAfter: res.headers.get("retry-after") ?? undefined,
        email: body.email
      }
    } catch {
      return { status: 0, id: undefined, leadStatus: undefined, retryAfter: undefined, email: body.email }
    }
  })

/** POST many leads, `concurrency` at a time. */
export const postLeads = (
  baseUrl: string,
  bodies: ReadonlyArray<{ readonly email: string }>,
  concurrency = 16
): Effect.Effect<ReadonlyArray<PostResult>> =>
  Effect.forEach(bodies, (body) => postLead(baseUrl, body), { concurrency })

/** Accepted: 202 (new) or 200 (duplicate), with an id. */
export const isAccepted = (result: PostResult) => (result.status === 202 || result.status === 200) && !!result.id

/** GET /leads/:id: the lead's status (undefined when not answered / not found). */
export const leadStatus = (baseUrl: string, id: string) =>
  Effect.promise(async () => {
    try {
      const res = await fetch(`${baseUrl}/leads/${id}`, { signal: AbortSignal.timeout(5000) })
      if (res.status !== 200) return undefined
      return ((await res.json()) as { status?: string }).status
    } catch {
      return undefined
    }
  })

/** Poll GET /leads/:id until `predicate` holds for its status or the deadline passes; the last status seen. */
export const pollLeadStatus = (
  baseUrl: string,
  id: string,
  predicate: (status: string | undefined) => boolean,
  timeoutMs: number,
  intervalMs = 200
) =>
  Effect.gen(function* () {
    const deadline = Date.now() + timeoutMs
    let status = yield* leadStatus(baseUrl, id)
    while (!predicate(status) && Date.now() < deadline) {
      yield* Effect.sleep(intervalMs)
      status = yield* leadStatus(baseUrl, id)
    }
    return status
  })

/** Sum of a Prometheus counter / gauge over its series in a /metrics text, optionally filtered by a label text. */
export const metricSum = (text: string, name: string, labelContains?: string): number =>
  text
    .split("\n")
    .filter((line) => line.startsWith(`${name}{`) || line.startsWith(`${name} `))
    .filter((line) => labelContains === undefined || line.includes(labelContains))
    .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(" ") + 1) || 0), 0)

/** GET a /metrics page ("" when nothing answered). */
export const scrapeMetrics = (baseUrl: string) =>
  Effect.promise(() =>
    fetch(`${baseUrl}/metrics`, { signal: AbortSignal.timeout(5000) }).then(
      (res) => res.text(),
      () => ""
    )
  )
