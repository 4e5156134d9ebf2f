/** A window end by which more requests had reached the CRM than the limiter can have granted permits for. */
export interface CumulativeExcess {
  readonly group: string
  /** The window (its number: start / windowMs) by whose end `arrived` requests had come. */
  readonly window: number
  readonly arrived: number
  readonly allowed: number
}

/**
 * What a fixed-window limiter (at most `limit` permits per window of `windowMs`, a permit per request) guarantees at
 * the CRM whatever the machine's speed: a request arrives after its permit was granted, and no permit was granted
 * before `since` (the work was not there yet), so by the end of each window the requests of a group that arrived
 * since `since` number at most `limit` times the windows from `since`'s to that one. No slack for how late a request
 * may arrive after its permit is needed: lateness only moves requests later. Returns every window end where more had
 * arrived (none when every group kept to its limit).
 */
export const cumulativeExcess = (
  arrivals: ReadonlyArray<{ readonly at: number; readonly group: string }>,
  since: number,
  limit: number,
  windowMs: number
): ReadonlyArray<CumulativeExcess> => {
  const first = Math.floor(since / windowMs)
  const byGroup = new Map<string, Array<number>>()
  for (const { at, group } of arrivals) {
    if (at < since) continue
    const times = byGroup.get(group) ?? []
    times.push(at)
    byGroup.set(group, times)
  }
  const excess: Array<CumulativeExcess> = []
  for (const [group, times] of byGroup) {
    times.sort((a, b) => a - b)
    const last = Math.floor(times.at(-1)! / windowMs)
    let arrived = 0
    for (let window = first; window <= last; window++) {
      while (arrived < times.length && times[arrived]! < (window + 1) * windowMs) arrived++
      const allowed = limit * (window - first + 1)
      if (arrived > allowed) excess.push({ group, window, arrived, allowed })
    }
  }
  return excess
}
