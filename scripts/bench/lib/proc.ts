import { type ChildProcess, spawn } from "node:child_process"
import { existsSync, readFileSync } from "node:fs"
import { dirname, join, resolve } from "node:path"
import { fileURLToPath } from "node:url"

/** The repository root. */
export const root = resolve(dirname(fileURLToPath(import.meta.url)), "../../..")

/** Node 24 from node_modules when present (the system node may be older than the bundles need). */
export const nodeBin = existsSync(join(root, "node_modules/.bin/node"))
  ? join(root, "node_modules/.bin/node")
  : process.execPath

/** How a program is run: its esbuild bundle when built (unless forced to tsx), else its source through tsx. */
export const programArgs = (name: "ingest" | "consumer", forceTsx = process.env.BENCH_FORCE_TSX === "1") => {
  const bundle = join(root, "dist", name, "index.mjs")
  if (!forceTsx && existsSync(bundle)) return { via: "bundle" as const, args: [bundle] }
  return { via: "tsx" as const, args: ["--import", "tsx", join(root, "src/programs", `${name}.ts`)] }
}

/** Resident set size of a process in MiB, from /proc/<pid>/status (undefined once it has exited). */
export const rssMiB = (pid: number): number | undefined => {
  try {
    const match = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))
    return match ? Number(match[1]) / 1024 : undefined
  } catch {
    return undefined
  }
}

/** CPU time (user + system) a process has used so far, in ms, from /proc/<pid>/stat (clock ticks of 10 ms). */
export const cpuMs = (pid: number): number => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
    // fields after the ")" that ends the command name: state is field 3, utime 14, stime 15
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
    return (Number(fields[11]) + Number(fields[12])) * 10
  } catch {
    return 0
  }
}

/** A child process the benchmark started, with its listening port, recent output and an RSS sampler. */
export interface Running {
  readonly pid: number
  readonly port: number
  /** Output lines kept for diagnosis (the last 200). */
  readonly tail: () => ReadonlyArray<string>
  /** Output lines so far (log volume: each is a synchronous write to a pipe). */
  readonly outputLines: () => number
  /** Output lines that look like errors (JSON level error/fatal, or an uncaught exception's stack). */
  readonly errorLines: () => ReadonlyArray<string>
  /** Start sampling RSS every 100 ms; the returned function stops and gives the peak in MiB. */
  readonly samplePeakRss: () => () => number
  /** SIGTERM, then SIGKILL after 15 s; resolves with the exit code. */
  readonly stop: () => Promise<number | null>
}

const LISTENING = /Listening on https?:\/\/[^\s"]*:(\d+)/

/**
 * Spawn `node <args>` and wait until it logs a line matching `ready` (default "Listening on ...:<port>", the port
 * being group 1). Its output is drained so it never blocks.
 */
export const startListening = (
  label: string,
  args: ReadonlyArray<string>,
  env: Record<string, string>,
  timeoutMs = 60_000,
  ready: RegExp = LISTENING
): Promise<Running> =>
  new Promise((resolveStart, rejectStart) => {
    const child: ChildProcess = spawn(nodeBin, [...args], {
      cwd: root,
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"]
    })
    const lines: Array<string> = []
    const errors: Array<string> = []
    let count = 0
    let started = false
    const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)))
    const onLine = (line: string) => {
      count++
      lines.push(line.slice(0, 2000))
      if (lines.length > 200) lines.shift()
      if (/"level":"(error|fatal)"/.test(line) && errors.length < 1000) errors.push(line.slice(0, 2000))
      const match = started ? null : ready.exec(line)
      if (match) {
        started = true
        clearTimeout(timer)
        resolveStart(running(Number(match[1] ?? 0)))
      }
    }
    for (const stream of [child.stdout, child.stderr]) {
      let buffered = ""
      stream?.setEncoding("utf8")
      stream?.on("data", (chunk: string) => {
        buffered += chunk
        const parts = buffered.split("\n")
        buffered = parts.pop() ?? ""
        for (const part of parts) onLine(part)
      })
    }
    const timer = setTimeout(() => {
      child.kill("SIGKILL")
      rejectStart(new Error(`${label} did not start in ${timeoutMs} ms:\n${lines.slice(-20).join("\n")}`))
    }, timeoutMs)
    child.once("exit", (code) => {
      if (started) return
      clearTimeout(timer)
      rejectStart(new Error(`${label} exited (${code}) before listening:\n${lines.slice(-20).join("\n")}`))
    })
    const running = (port: number): Running => ({
      pid: child.pid ?? -1,
      port,
      tail: () => lines,
      outputLines: () => count,
      errorLines: () => errors,
      samplePeakRss: () => {
        let peak = rssMiB(child.pid ?? -1) ?? 0
        const timer = setInterval(() => {
          peak = Math.max(peak, rssMiB(child.pid ?? -1) ?? 0)
        }, 100)
        return () => {
          clearInterval(timer)
          return Math.max(peak, rssMiB(child.pid ?? -1) ?? 0)
        }
      },
      stop: async () => {
        if (child.exitCode !== null || child.signalCode !== null) return child.exitCode
        child.kill("SIGTERM")
        const kill = setTimeout(() => child.kill("SIGKILL"), 15_000)
        const code = await exited
        clearTimeout(kill)
        return code
      }
    })
  })

/** Wait `ms` milliseconds. */
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
