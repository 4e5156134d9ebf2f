// Start-up, for `npm run bench`: runs scripts/bench/coldstart.mjs (spawn → first 200 on /readyz, each bundle copied
// to an empty folder, real Postgres and Redis) and reads its median lines back.
import { execFileSync } from "node:child_process"
import { join } from "node:path"
import { nodeBin, root } from "../lib/processes.js"
import { ratioTarget, type Target } from "./lib/targets.js"

/** The coldstart output and its medians by label ("node -e 0 (process baseline)", "ingest bundle", ...). */
export interface StartupReport {
  readonly text: string
  readonly medians: ReadonlyMap<string, number>
}

export const runStartup = (runs: number): StartupReport => {
  const text = execFileSync(nodeBin, [join(root, "scripts/bench/coldstart.mjs"), "--runs", String(runs)], {
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
