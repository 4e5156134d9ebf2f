import type { Redis } from "ioredis"

/** Commands Redis has processed: the server total and the per-command calls (INFO stats / commandstats). */
export interface CommandSnapshot {
  readonly total: number
  readonly calls: ReadonlyMap<string, number>
  readonly at: number
}

/** Snapshot the server-wide command counters. Counts every client: other processes show up as background. */
export const snapshot = async (redis: Redis): Promise<CommandSnapshot> => {
  const stats = await redis.info("stats")
  const commands = await redis.info("commandstats")
  const total = Number(/total_commands_processed:(\d+)/.exec(stats)?.[1] ?? 0)
  const calls = new Map<string, number>()
  for (const match of commands.matchAll(/cmdstat_([^:]+):calls=(\d+)/g)) calls.set(match[1] ?? "", Number(match[2]))
  return { total, calls, at: Date.now() }
}

/** Commands per second other clients send while the benchmark is idle (the two INFO calls excluded). */
export const backgroundRate = async (redis: Redis, ms = 1000) => {
  const before = await snapshot(redis)
  await new Promise((r) => setTimeout(r, ms))
  const after = await snapshot(redis)
  return Math.max(0, after.total - before.total - 2) / ((after.at - before.at) / 1000)
}

/** Commands between two snapshots, less the background rate over the interval and our own INFO calls. */
export const commandsBetween = (before: CommandSnapshot, after: CommandSnapshot, background: number) => {
  const seconds = (after.at - before.at) / 1000
  const top = [...after.calls.entries()]
    .map(([name, calls]) => [name, calls - (before.calls.get(name) ?? 0)] as const)
    .filter(([name, calls]) => calls > 0 && name !== "info")
    .sort((a, b) => b[1] - a[1])
  return { total: Math.max(0, after.total - before.total - 2 - background * seconds), top }
}

/**
 * Round trips: commands clients send with a key under `prefix`, watched with MONITOR (commands a Lua script runs are
 * not round trips and are left out, as are the connections in `exclude`: the benchmark's own). MONITOR costs Redis
 * some CPU, so runs that count are opt-in.
 */
export const watchRoundTrips = async (redis: Redis, prefix: string, exclude: ReadonlyArray<Redis> = []) => {
  const excluded = new Set(exclude.map((client) => `127.0.0.1:${client.stream?.localPort ?? 0}`))
  const monitor = await redis.monitor()
  let count = 0
  monitor.on("monitor", (_time: string, args: ReadonlyArray<string>, source: string) => {
    if (source === "lua" || excluded.has(source)) return
    if (args.some((arg) => typeof arg === "string" && arg.startsWith(`${prefix}:`))) count++
  })
  return {
    count: () => count,
    stop: () => {
      monitor.disconnect()
    }
  }
}
