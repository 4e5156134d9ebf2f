import { spawn } from "node:child_process"
import { join } from "node:path"
import { pathToFileURL } from "node:url"
import { cpuMs } from "../../lib/processes.js"

/**
 * What one fresh process gave: the handler's answer, the ms from spawn to that answer on stdout, and the CPU the
 * process had used by then (user + kernel, every thread, 10 ms ticks; 0 where /proc cannot be read).
 */
export interface Invocation {
  readonly result: unknown
  readonly ms: number
  readonly cpuMs: number
}

/**
 * Spawns a fresh `node` that imports `<dir>/index.mjs` and calls its `handler(event, context)` once, as Lambda's
 * runtime does on a cold start; the answer is printed as one JSON line. Timed from spawn to that line. The process
 * is then killed (Lambda would freeze it; its pools are still open).
 */
export const invokeBundle = (options: {
  readonly node: string
  readonly dir: string
  readonly event: unknown
  readonly env: Readonly<Record<string, string>>
  readonly timeoutMs?: number
}): Promise<Invocation> =>
  new Promise((resolve, reject) => {
    const index = pathToFileURL(join(options.dir, "index.mjs")).href
    const code = [
      `const { handler } = await import(${JSON.stringify(index)})`,
      `const result = await handler(JSON.parse(process.env.RF_LAMBDA_EVENT), { awsRequestId: "cold-start", getRemainingTimeInMillis: () => 30000 })`,
      `process.stdout.write("RF_RESULT " + JSON.stringify(result) + "\\n")`
    ].join("\n")
    const started = process.hrtime.bigint()
    const child = spawn(options.node, ["--input-type=module", "-e", code], {
      cwd: options.dir,
      env: { PATH: process.env.PATH ?? "", ...options.env, RF_LAMBDA_EVENT: JSON.stringify(options.event) },
      stdio: ["ignore", "pipe", "pipe"]
    })
    let out = ""
    let err = ""
    const timer = setTimeout(() => {
      child.kill("SIGKILL")
      reject(new Error(`no answer within ${options.timeoutMs ?? 30_000} ms\n${err}`))
    }, options.timeoutMs ?? 30_000)
    child.stderr.on("data", (chunk: Buffer) => {
      err += chunk.toString()
    })
    child.stdout.on("data", (chunk: Buffer) => {
      out += chunk.toString()
      const line = out.split("\n").find((l) => l.startsWith("RF_RESULT "))
      if (line === undefined) return
      const ms = Number(process.hrtime.bigint() - started) / 1e6
      const cpu = child.pid === undefined ? 0 : cpuMs(child.pid)
      clearTimeout(timer)
      child.kill("SIGKILL")
      resolve({ result: JSON.parse(line.slice("RF_RESULT ".length)), ms, cpuMs: cpu })
    })
    child.on("exit", (code) => {
      clearTimeout(timer)
      reject(new Error(`exited (${code}) before answering\nstdout: ${out}\nstderr: ${err}`))
    })
  })

/** ms from spawning `node -e 0` to its exit: the floor any cold start stands on. */
export const nodeBaseline = (node: string): Promise<number> =>
  new Promise((resolve, reject) => {
    const started = process.hrtime.bigint()
    const child = spawn(node, ["-e", "0"], { stdio: "ignore" })
    child.on("error", reject)
    child.on("exit", () => resolve(Number(process.hrtime.bigint() - started) / 1e6))
  })
