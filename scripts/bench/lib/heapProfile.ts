// What a program allocates, by where: V8's sampling heap profiler driven over the inspector protocol of a child
// process started with `--inspect=127.0.0.1:0`, with the objects later collected by minor and major GCs kept in the
// profile, so it counts every byte allocated in an interval (what a scavenge has to sweep), not only what survives.
// Node's own `--heap-prof` keeps only what is still alive when it stops, which hides short-lived garbage.
import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { type CallFrame, describeFrame } from "./cpuprofile.js"
import { table } from "./table.js"

/** A node of V8's sampling heap profile: bytes allocated by this frame itself (selfSize), and its callees. */
export interface HeapProfileNode {
  readonly callFrame: CallFrame
  readonly selfSize: number
  readonly id: number
  readonly children: ReadonlyArray<HeapProfileNode>
}

/** `HeapProfiler.stopSampling`'s profile. */
export interface HeapProfile {
  readonly head: HeapProfileNode
}

/** The line Node prints on stderr when its inspector listens: the WebSocket URL to connect to. */
export const INSPECTOR_LINE = /Debugger listening on (ws:\/\/\S+)/

/** A minimal inspector protocol client: one WebSocket, requests matched to responses by id. */
export const connectInspector = async (url: string) => {
  const socket = new WebSocket(url)
  await new Promise<void>((resolve, reject) => {
    socket.addEventListener("open", () => resolve(), { once: true })
    socket.addEventListener("error", () => reject(new Error(`inspector at ${url} refused the connection`)), {
      once: true
    })
  })
  let next = 1
  const pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>()
  socket.addEventListener("message", (event) => {
    const message = JSON.parse(String(event.data)) as {
      id?: number
      result?: unknown
      error?: { message: string }
    }
    const waiting = message.id === undefined ? undefined : pending.get(message.id)
    if (waiting === undefined || message.id === undefined) return // events: not asked for
    pending.delete(message.id)
    if (message.error) waiting.reject(new Error(message.error.message))
    else waiting.resolve(message.result)
  })
  socket.addEventListener("close", () => {
    for (const waiting of pending.values()) waiting.reject(new Error("inspector connection closed"))
    pending.clear()
  })
  return {
    send: <A>(method: string, params: Record<string, unknown> = {}) =>
      new Promise<A>((resolve, reject) => {
        const id = next++
        pending.set(id, { resolve: resolve as (value: unknown) => void, reject })
        socket.send(JSON.stringify({ id, method, params }))
      }),
    close: () => socket.close()
  }
}

/**
 * Start sampling allocations (one sample per `intervalBytes` on average). Every allocation, the collected ones
 * included; with `survivors`, only what no scavenge collected: the objects still alive at a young-generation
 * collection (promoted, or alive when sampling stops), which are what makes scavenges cost.
 */
export const startAllocationSampling = async (url: string, intervalBytes: number, survivors = false) => {
  const inspector = await connectInspector(url)
  await inspector.send("HeapProfiler.enable")
  await inspector.send("HeapProfiler.startSampling", {
    samplingInterval: intervalBytes,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: !survivors
  })
  return {
    stop: async () => {
      try {
        const { profile } = await inspector.send<{ profile: HeapProfile }>("HeapProfiler.stopSampling")
        return profile
      } finally {
        inspector.close()
      }
    }
  }
}

const add = (map: Map<string, number>, key: string, bytes: number) => map.set(key, (map.get(key) ?? 0) + bytes)

/** Bytes allocated in a sampling heap profile by function, by owner, by kind of code, and by the project's caller. */
export const allocationTotals = (profile: HeapProfile) => {
  const byFunction = new Map<string, number>()
  const byOwner = new Map<string, number>()
  const byKind = new Map<string, number>()
  // the nearest frame of the project's own code on the stack: which of our steps the bytes are allocated for
  const byCaller = new Map<string, number>()
  let total = 0
  const walk = (node: HeapProfileNode, caller: string) => {
    const frame = describeFrame(node.callFrame)
    const here = frame.owner.startsWith("app:") ? frame.key : caller
    if (node.selfSize > 0) {
      total += node.selfSize
      add(byFunction, frame.key, node.selfSize)
      add(byOwner, frame.owner, node.selfSize)
      add(byKind, frame.kind, node.selfSize)
      add(byCaller, here, node.selfSize)
    }
    for (const child of node.children) walk(child, here)
  }
  walk(profile.head, "(no frame of the project's code on the stack)")
  return { total, byFunction, byOwner, byKind, byCaller }
}

/**
 * The profile as four tables of KiB per unit of work (`units`: leads, requests), largest first; `what` says what
 * was sampled.
 */
export const summarizeAllocations = (
  profile: HeapProfile,
  units: number,
  unit: string,
  what = "allocated in the interval",
  top = 25
) => {
  const totals = allocationTotals(profile)
  const rows = (map: Map<string, number>) =>
    [...map.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, bytes]) => [
        name,
        bytes / 1024 / Math.max(1, units),
        `${((100 * bytes) / Math.max(totals.total, 1)).toFixed(1)}%`
      ])
  const per = `KiB/${unit}`
  return [
    `${what}, sampled: ${(totals.total / 1024 / Math.max(1, units)).toFixed(1)} KiB per ${unit} over ${units} ${unit}s`,
    "",
    table(["allocated by function itself (top)", per, "share"], rows(totals.byFunction)),
    "",
    table(["allocated for the project's nearest frame on the stack (top)", per, "share"], rows(totals.byCaller)),
    "",
    table(["allocated by package / file", per, "share"], rows(totals.byOwner)),
    "",
    table(["allocated by kind of code", per, "share"], rows(totals.byKind))
  ].join("\n")
}

/**
 * A sampled interval as `--alloc` prints it: `heading`, then the tables per `unit`; with `keepAs`, the profile is also
 * written to a temporary `<keepAs>.heapprofile` (Chrome DevTools' Memory panel opens it) and its path printed.
 */
export const reportAllocations = (
  profile: HeapProfile,
  options: {
    readonly heading: string
    readonly units: number
    readonly unit: string
    readonly survivors: boolean
    readonly keepAs?: string | undefined
  }
) => {
  const kept =
    options.keepAs === undefined
      ? undefined
      : join(mkdtempSync(join(tmpdir(), "rf-heapprof-")), `${options.keepAs}.heapprofile`)
  if (kept !== undefined) writeFileSync(kept, JSON.stringify(profile))
  return [
    options.heading,
    summarizeAllocations(
      profile,
      options.units,
      options.unit,
      options.survivors ? "allocated and not collected by a scavenge" : "allocated in the interval"
    ),
    ...(kept === undefined ? [] : [`the profile: ${kept}`])
  ].join("\n")
}
