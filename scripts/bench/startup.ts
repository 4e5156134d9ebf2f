// Start-up, for `npm run bench`: runs scripts/bench/coldstart.mjs (spawn → first 200 on /readyz, each bundle copied
// to an empty folder, real Postgres and Redis) and reads its median lines back.
//   npm run build:bundles && npm run bench:startup [-- --runs 5] [--profile [--top 30] [--keep-profile]]
//     alone: coldstart's rows and the two start-up targets;
//     --profile: then each bundle started --runs more times under --cpu-prof (compile cache warm), and its self time
//     from the profiler's start (after Node's bootstrap) to its first 200 on /readyz by function, package and kind
//     of work, frames mapped to the sources
import { execFileSync } from "node:child_process"
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import { nodeBin, root } from "../lib/processes.js"
import { wholeNumberOption } from "./lib/args.js"
import { summarizeProfiles } from "./lib/cpuprofile.js"
import { ratioTarget, renderTargets, type Target } from "./lib/targets.js"

/** The coldstart output and its medians by label ("node -e 0 (process baseline)", "ingest bundle", ...). */
export interface StartupReport {
  readonly text: string
  readonly medians: ReadonlyMap<string, number>
}

export const runStartup = (runs: number, profileDir?: string): StartupReport => {
  const profile = profileDir === undefined ? [] : ["--profile", profileDir]
  const text = execFileSync(nodeBin, [join(root, "scripts/bench/coldstart.mjs"), "--runs", String(runs), ...profile], {
    cwd: root,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"]
  })
  const medians = new Map<string, number>()
  for (const match of text.matchAll(/^(.+?)\s+median\s+(\d+(?:\.\d+)?) ms/gm))
    medians.set((match[1] ?? "").trim(), Number(match[2]))
  return { text: text.trim(), medians }
}

/**
 * Each bundle's start-up as deployed (the image warms NODE_COMPILE_CACHE at build time, see the Dockerfile) against
 * `node -e 0` in the same run.
 */
export const startupTargets = (report: StartupReport): Array<Target> => {
  const baseline = report.medians.get("node -e 0 (process baseline)") ?? Number.NaN
  return ["ingest", "consumer"].map((name) => {
    const deployed = report.medians.get(`${name} bundle + NODE_COMPILE_CACHE`) ?? report.medians.get(`${name} bundle`)
    return ratioTarget(`${name} start-up to ready vs node -e 0`, (deployed ?? Number.NaN) / baseline, "<=", 5)
  })
}

/** What a profile of a start covers: from the moment the profiler starts, after Node's own bootstrap. */
export const startWindowLabel = "from the profiler's start (after Node's bootstrap) to the first 200 on /readyz"

/**
 * Each program's profiled starts (`coldstart.mjs --profile`), each read up to the first 200 on /readyz that
 * `ready.json` records for it; a profile without its moment, or a moment without its profile, is refused.
 */
export const summarizeStarts = (profileDir: string, program: string, top: number) => {
  const dir = join(profileDir, program)
  const ready = JSON.parse(readFileSync(join(dir, "ready.json"), "utf8")) as Record<string, number>
  const files = readdirSync(dir)
    .filter((f) => f.endsWith(".cpuprofile"))
    .sort()
  const moments = Object.keys(ready).sort()
  if (files.length === 0 || files.join() !== moments.join())
    throw new Error(`${dir}: profiles [${files.join(", ")}] but moments for [${moments.join(", ")}] in ready.json`)
  const upToReady = (file: string) => ({ fromUs: 0, toUs: ready[file] ?? 0 })
  return summarizeProfiles(dir, top, upToReady, startWindowLabel)
}

if (fileURLToPath(import.meta.url) === resolve(process.argv[1] ?? "")) {
  const argv = process.argv.slice(2)
  const runs = wholeNumberOption(argv, "--runs", 5, 1)
  const top = wholeNumberOption(argv, "--top", 30, 1)
  const profileDir = argv.includes("--profile") ? mkdtempSync(join(tmpdir(), "rf-startprof-")) : undefined
  try {
    const report = runStartup(runs, profileDir)
    console.log(`${report.text}\n\n${renderTargets(startupTargets(report))}`)
    if (profileDir !== undefined)
      for (const program of ["ingest", "consumer"])
        console.log(`\n== ${program}: ${runs} profiled starts ==\n${summarizeStarts(profileDir, program, top)}`)
  } finally {
    if (profileDir !== undefined && !argv.includes("--keep-profile"))
      rmSync(profileDir, { recursive: true, force: true })
  }
}
