import { existsSync, readdirSync, readFileSync } from "node:fs"
import { SourceMap } from "node:module"
import { dirname, join, relative, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import { root } from "../../lib/processes.js"
import { table } from "./table.js"

/** Where a sample of a V8 profile (CPU or sampling heap) was taken. */
export interface CallFrame {
  readonly functionName: string
  readonly url: string
  readonly lineNumber: number
  readonly columnNumber: number
}

interface ProfileNode {
  readonly id: number
  readonly callFrame: CallFrame
  readonly hitCount?: number
}

interface Profile {
  readonly nodes: ReadonlyArray<ProfileNode>
  readonly startTime: number
  readonly endTime: number
  readonly samples: ReadonlyArray<number>
  readonly timeDeltas: ReadonlyArray<number>
}

/**
 * A span of time on the clock V8's profiles use (CLOCK_MONOTONIC, µs: `process.hrtime` in any process of the machine),
 * e.g. a benchmark's measured interval, so a profile of a whole run can be read for that interval only.
 */
export interface ProfileWindow {
  readonly fromUs: number
  readonly toUs: number
}

/** Now, on the clock of `ProfileWindow`. */
export const monotonicUs = () => Number(process.hrtime.bigint() / 1000n)

/** Where a frame's code lives: a package name, an app file, or a V8 pseudo-frame such as (garbage collector). */
const ownerOf = (url: string, functionName: string) => {
  if (url === "") return functionName.startsWith("(") ? functionName : "(native)"
  const path = url.replace(/^file:\/\//, "")
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(path)?.[1]
  if (pkg !== undefined) return pkg
  if (path.startsWith("node:")) return "node:internal"
  return `app:${relative(root, path)}`
}

/** Source maps of bundle files by URL (null: none), so a bundle's frames name their source files and functions. */
const maps = new Map<string, SourceMap | null>()
const mapOf = (url: string) => {
  if (!maps.has(url)) {
    const file = url.startsWith("file://") ? fileURLToPath(url) : url
    const mapFile = `${file}.map`
    maps.set(
      url,
      url.endsWith(".mjs") && existsSync(mapFile) ? new SourceMap(JSON.parse(readFileSync(mapFile, "utf8"))) : null
    )
  }
  return maps.get(url) ?? null
}

/** A frame of a bundle as its source: the original file's URL, line and function name (else the frame itself). */
const original = (frame: CallFrame) => {
  const map = frame.url === "" ? null : mapOf(frame.url)
  if (map === null) return frame
  const entry = map.findEntry(frame.lineNumber, frame.columnNumber) as {
    originalSource?: string
    originalLine?: number
    name?: string
  }
  if (entry.originalSource === undefined) return frame
  const file = fileURLToPath(frame.url)
  const source = entry.originalSource.startsWith("file://")
    ? entry.originalSource
    : `file://${resolve(dirname(file), entry.originalSource)}`
  return {
    functionName: frame.functionName || entry.name || "",
    url: source,
    lineNumber: entry.originalLine ?? frame.lineNumber,
    columnNumber: 0
  }
}

/**
 * The kind of work a sample's own frame does, for the question a bound is about: the Effect runtime, the project's
 * code, the drivers, socket writes (the write syscall: on loopback it also runs the peer's receive path), Node's
 * streams and timers, garbage collection.
 */
const kindOf = (owner: string, functionName: string) => {
  if (owner === "(native)") return /^write/.test(functionName) ? "socket writes (write syscalls)" : "other native"
  if (owner === "(garbage collector)") return "garbage collection"
  if (owner === "(program)") return "(program): native, event loop"
  if (owner === "node:internal") return "Node internals (streams, net, timers)"
  if (owner === "effect") return "Effect runtime"
  if (owner === "postgres") return "postgres.js"
  if (owner === "ioredis" || owner === "redis-parser" || owner === "@ioredis/commands") return "ioredis"
  if (owner === "bullmq" || owner === "msgpackr") return "BullMQ"
  if (owner.startsWith("app:")) return "the project's code"
  return "other packages"
}

/** A V8 profile's call frame as its source: "function  owner:line", its owner (package / app file) and kind of work. */
export const describeFrame = (frame: CallFrame) => {
  const { functionName, url, lineNumber } = original(frame)
  const owner = ownerOf(url, functionName)
  // a package's frame names its file too (effect's runtime is dozens of files)
  const file = /node_modules\/((?:@[^/]+\/)?[^/]+\/.*)$/.exec(url)?.[1]?.replace(/\/dist\/(esm|cjs)\//, "/")
  return {
    key: `${functionName || "(anonymous)"}  ${file ?? owner}${url === "" ? "" : `:${lineNumber + 1}`}`,
    owner,
    kind: kindOf(owner, functionName)
  }
}

/**
 * Self time by function, by owner (package / app file) and by kind of work for every .cpuprofile in `dir`, as three
 * tables; with `window`, of the samples taken inside it only (one window for every file, or each file's own, by its
 * name; a file without one counts whole), which the header names as `windowLabel`.
 */
export const summarizeProfiles = (
  dir: string,
  top = 25,
  window?: ProfileWindow | ((file: string) => ProfileWindow | undefined),
  windowLabel = "in the measured interval"
) => {
  const byFunction = new Map<string, number>()
  const byOwner = new Map<string, number>()
  const byKind = new Map<string, number>()
  let total = 0
  const files = readdirSync(dir).filter((f) => f.endsWith(".cpuprofile"))
  for (const file of files) {
    const profile = JSON.parse(readFileSync(join(dir, file), "utf8")) as Profile
    const fileWindow = typeof window === "function" ? window(file) : window
    // each sample is weighed by the time to the next one; only those inside the window when there is one
    const msById = new Map<number, number>()
    let at = profile.startTime
    for (let k = 0; k < profile.samples.length; k++) {
      at += profile.timeDeltas[k] ?? 0
      const ms = (profile.timeDeltas[k + 1] ?? 0) / 1000
      if (fileWindow !== undefined && (at < fileWindow.fromUs || at > fileWindow.toUs)) continue
      const id = profile.samples[k]!
      msById.set(id, (msById.get(id) ?? 0) + ms)
    }
    for (const node of profile.nodes) {
      const ms = msById.get(node.id) ?? 0
      if (ms === 0 || node.callFrame.functionName === "(idle)") continue
      const { key, owner, kind } = describeFrame(node.callFrame)
      byFunction.set(key, (byFunction.get(key) ?? 0) + ms)
      byOwner.set(owner, (byOwner.get(owner) ?? 0) + ms)
      byKind.set(kind, (byKind.get(kind) ?? 0) + ms)
      total += ms
    }
  }
  const rows = (map: Map<string, number>) =>
    [...map.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, ms]) => [name, Math.round(ms), `${((100 * ms) / Math.max(total, 1)).toFixed(1)}%`])
  if (files.length === 0) return `no CPU profile in ${dir}`
  return [
    `busy CPU sampled${window === undefined ? "" : ` ${windowLabel}`}: ${Math.round(total)} ms in ${files.length} ` +
      `profile${files.length === 1 ? "" : `s, ${Math.round(total / files.length)} ms each`} (every table: the total over them)`,
    "",
    table(["self time by function (top)", "ms", "share"], rows(byFunction)),
    "",
    table(["self time by package / file", "ms", "share"], rows(byOwner)),
    "",
    table(["self time by kind of work", "ms", "share"], rows(byKind))
  ].join("\n")
}
