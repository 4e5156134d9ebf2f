import { type ChildProcess, spawn } from "node:child_process"
import { existsSync, readdirSync, readFileSync } from "node:fs"
import { createServer } from "node:net"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import { runtimeEnv } from "../ops/runtimeEnv.mjs"

/** The repository root (scripts/lib/..). */
export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), "..", "..")

/** A program of src/programs, run with tsx so tests need no build. */
export type ProgramName = "ingest" | "consumer" | "dev"

/** A harness step that did not happen: not ready in time, exited early, did not exit in time. */
export class ProgramError extends Data.TaggedError("ProgramError")<{ readonly message: string }> {}

/** How a child ended. */
export interface ProgramExit {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly at: number
}

/** A running program: its output, signals, and its exit. */
export interface Program {
  readonly name: string
  readonly pid: number
  /** The port whose /readyz said ready (PORT for ingest, METRICS_PORT for the consumer). */
  readonly port: number
  readonly url: string
  /** Everything it printed so far (stdout and stderr interleaved, capped at the last 2 MB). */
  readonly output: () => string
  readonly signal: (signal: NodeJS.Signals) => void
  /** The exit, once it happened. */
  readonly exited: () => Option.Option<ProgramExit>
  /** Wait for the exit; fails if it has not happened within `timeoutMs`. */
  readonly waitExit: (timeoutMs: number) => Effect.Effect<ProgramExit, ProgramError>
}

export interface StartOptions {
  readonly program: ProgramName
  /** Added to a minimal environment (PATH, HOME); nothing else of the parent's leaks in. */
  readonly env: Readonly<Record<string, string>>
  /** Shown in logs; default the program name. */
  readonly name?: string
  /** The port /readyz is polled on; default env.PORT for ingest / dev, env.METRICS_PORT for the consumer. */
  readonly readyPort?: number
  /** Default 30 s (tsx compiles on start; two cores may be busy). */
  readonly readyTimeoutMs?: number
  /** Wait for a 200 from /readyz (default) or just for the port to answer HTTP at all. */
  readonly readyWhen?: "ready" | "listening"
}

const OUTPUT_CAP = 2 * 1024 * 1024
const live = new Set<ChildProcess>()
let exitHookInstalled = false

/** If the runner itself dies, no child outlives it. */
const installExitHook = () => {
  if (exitHookInstalled) return
  exitHookInstalled = true
  process.once("exit", () => {
    for (const child of live) if (child.pid !== undefined) killGroup(child.pid, "SIGKILL")
  })
}

// Children lead their own process group: a signal reaches the program and anything it spawned, and nothing else.
const killGroup = (pid: number, signal: NodeJS.Signals) => {
  try {
    process.kill(-pid, signal)
  } catch {
    try {
      process.kill(pid, signal)
    } catch {
      // already gone
    }
  }
}

/** A port that was free a moment ago (listen on 0, close): good enough on a test machine. */
export const freePort: Effect.Effect<number> = Effect.async<number>((resume) => {
  const server = createServer()
  server.listen(0, "127.0.0.1", () => {
    const address = server.address()
    const port = typeof address === "object" && address !== null ? address.port : 0
    server.close(() => resume(Effect.succeed(port)))
  })
})

/** GET url; the status, or 0 when nothing answered. */
export const httpStatus = (url: string, timeoutMs = 2000): Effect.Effect<number> =>
  Effect.promise(() =>
    fetch(url, { signal: AbortSignal.timeout(timeoutMs) }).then(
      async (res) => {
        await res.arrayBuffer().catch(() => undefined)
        return res.status
      },
      () => 0
    )
  )

/** The last `chars` characters of a program's output, labelled. */
export const outputTail = (program: Program, chars = 12_000): string => {
  const text = program.output()
  const tail = text.length > chars ? `...(${text.length - chars} chars cut)\n${text.slice(-chars)}` : text
  return `----- ${program.name} (pid ${program.pid}) output -----\n${tail}\n----- end of ${program.name} -----`
}

/**
 * Start a program as a child process in its own process group and wait until /readyz answers 200. Released with
 * the scope: SIGKILL if still running, and its output printed when the scope closes with a failure.
 */
export const startProgram = (options: StartOptions): Effect.Effect<Program, ProgramError, Scope.Scope> =>
  Effect.gen(function* () {
    const name = options.name ?? options.program
    const portVar = options.program === "consumer" ? "METRICS_PORT" : "PORT"
    const port = options.readyPort ?? Number(options.env[portVar])
    if (!Number.isInteger(port) || port <= 0) {
      return yield* new ProgramError({ message: `${name}: set ${portVar} (or readyPort) to a real port` })
    }
    const program = yield* launchProgram(options, port)
    yield* waitReady(program, options.readyTimeoutMs ?? 30_000, options.readyWhen ?? "ready")
    return program
  })

/**
 * Start a program as a child process in its own process group without waiting for it to be ready (start-up
 * failures, signals during start-up). Released with the scope like startProgram.
 */
export const launchProgram = (
  options: Omit<StartOptions, "readyPort" | "readyTimeoutMs" | "readyWhen">,
  port = 0
): Effect.Effect<Program, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync(() => {
      installExitHook()
      return spawnProgram(options, options.name ?? options.program, port, `http://127.0.0.1:${port}`)
    }),
    (program, exit) =>
      Effect.sync(() => {
        if (Option.isNone(program.exited())) program.signal("SIGKILL")
        if (Exit.isFailure(exit) || process.env.HARNESS_PRINT_OUTPUT === "1") {
          process.stderr.write(`${outputTail(program)}\n`)
        }
      })
  )

const spawnProgram = (
  options: Pick<StartOptions, "program" | "env">,
  name: string,
  port: number,
  url: string
): Program => {
  const child = spawn(process.execPath, sourceArgs(options.program), {
    cwd: repoRoot,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", HOST: "127.0.0.1", ...options.env },
    detached: true,
    stdio: ["ignore", "pipe", "pipe"]
  })
  live.add(child)
  let output = ""
  const append = (chunk: Buffer) => {
    output += chunk.toString("utf8")
    if (output.length > OUTPUT_CAP) output = output.slice(-OUTPUT_CAP / 2)
  }
  child.stdout?.on("data", append)
  child.stderr?.on("data", append)
  let exited: Option.Option<ProgramExit> = Option.none()
  const waiters: Array<(exit: ProgramExit) => void> = []
  child.on("exit", (code, signal) => {
    live.delete(child)
    const info = { code, signal, at: Date.now() }
    exited = Option.some(info)
    for (const waiter of waiters.splice(0)) waiter(info)
  })
  child.on("error", (error) => append(Buffer.from(`[harness] spawn error: ${error.message}\n`)))
  const pid = child.pid ?? -1

  const waitExit = (timeoutMs: number) =>
    Effect.async<ProgramExit>((resume) => {
      if (Option.isSome(exited)) return resume(Effect.succeed(exited.value))
      const waiter = (info: ProgramExit) => resume(Effect.succeed(info))
      waiters.push(waiter)
      return Effect.sync(() => {
        const index = waiters.indexOf(waiter)
        if (index >= 0) waiters.splice(index, 1)
      })
    }).pipe(
      Effect.timeoutFail({
        duration: Duration.millis(timeoutMs),
        onTimeout: () => new ProgramError({ message: `${name} did not exit within ${timeoutMs} ms` })
      })
    )

  return {
    name,
    pid,
    port,
    url,
    output: () => output,
    signal: (signal) => {
      if (Option.isNone(exited) && pid > 0) killGroup(pid, signal)
    },
    exited: () => exited,
    waitExit
  }
}

const waitReady = (program: Program, timeoutMs: number, when: "ready" | "listening") =>
  Effect.gen(function* () {
    const deadline = Date.now() + timeoutMs
    while (Date.now() < deadline) {
      const early = program.exited()
      if (Option.isSome(early)) {
        return yield* new ProgramError({
          message: `${program.name} exited before it was ready (code ${early.value.code}, signal ${early.value.signal})`
        })
      }
      const status = yield* httpStatus(`${program.url}/readyz`, 1000)
      if (status === 200 || (when === "listening" && status > 0)) return
      yield* Effect.sleep("100 millis")
    }
    program.signal("SIGKILL")
    return yield* new ProgramError({ message: `${program.name} was not ready within ${timeoutMs} ms` })
  })

/** SIGTERM (or another signal), then wait for the exit within `timeoutMs`. */
export const stopProgram = (program: Program, timeoutMs: number, signal: NodeJS.Signals = "SIGTERM") =>
  Effect.suspend(() => {
    program.signal(signal)
    return program.waitExit(timeoutMs)
  })

// ---- Benchmarks: programs run as the user runs them (the bundle when built), measured from /proc, ready when they
// log their "Listening on" line; plain promises, as the benchmark scripts are.

/** The repository root (the benchmarks' name for it). */
export const root = repoRoot

/** Node 24 from node_modules when present (the system node may be older than the bundles need). */
export const nodeBin = existsSync(join(root, "node_modules/.bin/node"))
  ? join(root, "node_modules/.bin/node")
  : process.execPath

/** A program's source run through tsx (what the tests run: no build needed, never a stale bundle). */
export const sourceArgs = (name: ProgramName): Array<string> => [
  "--import",
  "tsx",
  join(repoRoot, "src/programs", `${name}.ts`)
]

/**
 * How a benchmark runs a program: its esbuild bundle when built (unless forced to tsx), else its source. With
 * `dist`, the bundle of that build directory (e.g. an older commit's, for a before/after), which must exist.
 */
export const programArgs = (
  name: "ingest" | "consumer",
  forceTsx = process.env.BENCH_FORCE_TSX === "1",
  dist?: string
) => {
  if (dist !== undefined) {
    const bundle = join(dist, name, "index.mjs")
    if (!existsSync(bundle)) throw new Error(`no ${name} bundle in ${dist} (npm run build:bundles makes one)`)
    return { via: "bundle" as const, args: [bundle] }
  }
  const bundle = join(root, "dist", name, "index.mjs")
  if (!forceTsx && existsSync(bundle)) return { via: "bundle" as const, args: [bundle] }
  return { via: "tsx" as const, args: sourceArgs(name) }
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

/** CPU time a process has used so far in user space and in the kernel, in ms, from /proc/<pid>/stat (10 ms ticks). */
export const cpuSplitMs = (pid: number): { readonly user: number; readonly kernel: number } => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
    // fields after the ")" that ends the command name: state is field 3, utime 14, stime 15
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
    return { user: Number(fields[11]) * 10, kernel: Number(fields[12]) * 10 }
  } catch {
    // gone (it died): no figure rather than a CPU time of 0, which would make the interval's CPU negative
    return { user: Number.NaN, kernel: Number.NaN }
  }
}

/** CPU time (user + kernel) a process has used so far, in ms. */
export const cpuMs = (pid: number): number => {
  const { kernel, user } = cpuSplitMs(pid)
  return user + kernel
}

/**
 * CPU time (user + kernel, ms) a process has used so far by kind of thread: its main thread (the JavaScript and the
 * event loop), V8's workers (the "V8Worker" threads: concurrent and parallel garbage collection, the optimizing
 * compilers) and the rest (libuv's pool, the inspector's, ...). Zeros where /proc cannot be read.
 */
export const threadCpuMs = (pid: number): { readonly main: number; readonly v8: number; readonly other: number } => {
  const out = { main: 0, v8: 0, other: 0 }
  let tids: Array<string> = []
  try {
    tids = readdirSync(`/proc/${pid}/task`)
  } catch {
    return out
  }
  for (const tid of tids) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8")
      const name = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"))
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
      const ms = (Number(fields[11]) + Number(fields[12])) * 10
      if (Number(tid) === pid) out.main += ms
      else if (name.startsWith("V8")) out.v8 += ms
      else out.other += ms
    } catch {
      // the thread ended between the listing and the read
    }
  }
  return out
}

/** Read and write system calls a process has made so far (/proc/<pid>/io; undefined where it cannot be read). */
export const syscalls = (pid: number): { readonly reads: number; readonly writes: number } | undefined => {
  try {
    const io = readFileSync(`/proc/${pid}/io`, "utf8")
    const field = (name: string) => Number(new RegExp(`^${name}: (\\d+)$`, "m").exec(io)?.[1] ?? Number.NaN)
    const counts = { reads: field("syscr"), writes: field("syscw") }
    return Number.isFinite(counts.reads) && Number.isFinite(counts.writes) ? counts : undefined
  } catch {
    return undefined
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
 * being group 1). Its output is drained so it never blocks; `observe`, when given, sees every line as it arrives.
 */
export const startListening = (
  label: string,
  args: ReadonlyArray<string>,
  env: Record<string, string>,
  timeoutMs = 60_000,
  ready: RegExp = LISTENING,
  observe?: (line: string) => void
): Promise<Running> =>
  new Promise((resolveStart, rejectStart) => {
    const child: ChildProcess = spawn(nodeBin, [...args], {
      cwd: root,
      // as the image runs them (its runtime ENV), unless this process's environment says otherwise
      env: { ...runtimeEnv, ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"]
    })
    const lines: Array<string> = []
    const errors: Array<string> = []
    let count = 0
    let started = false
    const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)))
    const onLine = (line: string) => {
      observe?.(line)
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
