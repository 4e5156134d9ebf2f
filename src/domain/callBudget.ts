/**
 * What a CRM said about its rolling call window (HubSpot: X-HubSpot-RateLimit-Max / -Remaining /
 * -Interval-Milliseconds), and when we read it.
 */
export interface WindowReading {
  readonly max: number
  readonly remaining: number
  readonly intervalMs: number
  readonly at: number
}

/**
 * The calls this process may still make in the CRM's window: its last reading, less the calls it has promised or
 * sent since that the reading cannot include yet (`outstanding`). Other processes' calls show up in the next reading.
 */
export interface CallBudget {
  readonly reading: WindowReading | undefined
  readonly outstanding: number
}

export const emptyBudget: CallBudget = { reading: undefined, outstanding: 0 }

/**
 * Reserve `cost` calls for an action, or say how long to wait. With no reading, or one older than its window (every
 * call it counted has left a rolling window by then), the action goes ahead. Refused reservations take nothing.
 */
export const reserve = (
  budget: CallBudget,
  cost: number,
  now: number
): { readonly budget: CallBudget; readonly retryAfterMs?: number } => {
  const reading = budget.reading
  const fresh = reading !== undefined && now < reading.at + reading.intervalMs
  if (!fresh || reading.remaining - budget.outstanding >= cost) {
    return { budget: { ...budget, outstanding: budget.outstanding + cost } }
  }
  return { budget, retryAfterMs: Math.max(1, reading.at + reading.intervalMs - now) }
}

/** One reserved call was answered: the reading it brought (if any) now counts it, so it is no longer outstanding. */
export const answered = (budget: CallBudget, reading: WindowReading | undefined): CallBudget => ({
  reading: reading ?? budget.reading,
  outstanding: Math.max(0, budget.outstanding - 1)
})

/** An action ended having made fewer calls than it reserved: give the rest back. */
export const release = (budget: CallBudget, unused: number): CallBudget => ({
  ...budget,
  outstanding: Math.max(0, budget.outstanding - unused)
})
