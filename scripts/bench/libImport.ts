// What `import "revenueflow"` costs an embedder: import time and RSS of the built root entry (dist/lib), next to
// importing effect + @effect/platform alone, each in fresh Node processes, interleaved, in the same run. Also the
// packages each import loads (a resolve hook), so a provider client sneaking into the root shows up here. With
// --install, also what an embedder installs: the packed tarball with the peers only, then with every optional peer.
//   npm run bench:lib [-- --runs 11] [--install]
import { execFileSync, spawnSync } from "node:child_process"
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"
import { fmt, ratio, table } from "./lib/table.js"

const root = resolve(fileURLToPath(import.meta.url), "../../..")
const entry = join(root, "dist/lib/src/index.js")

/** The imports compared: the baseline an Effect app already pays, and the library's root entry. */
const cases = {
  "effect + @effect/platform": `await import("effect"); await import("@effect/platform")`,
  "revenueflow (root)": `await import(${JSON.stringify(pathToFileURL(entry).href)})`
} as const
type Case = keyof typeof cases

// runs in the child: time the import, then report RSS and the packages the import resolved
const probe = (code: string) => `
import { registerHooks } from "node:module"
const packages = new Set()
registerHooks({ resolve(specifier, context, next) {
  const result = next(specifier, context)
  const match = /node_modules\\/((?:@[^/]+\\/)?[^/]+)/.exec(result.url)
  if (match) packages.add(match[1])
  return result
} })
const start = performance.now()
${code}
const ms = performance.now() - start
console.log(JSON.stringify({ ms, rss: process.memoryUsage().rss, packages: [...packages].sort() }))
`

interface Sample {
  readonly ms: number
  readonly rss: number
  readonly packages: ReadonlyArray<string>
}

const runOnce = (dir: string, name: Case): Sample => {
  const file = join(dir, `${name.replace(/\W+/g, "_")}.mjs`)
  if (!existsSync(file)) writeFileSync(file, probe(cases[name]))
  const result = spawnSync(process.execPath, [file], { cwd: root, encoding: "utf8" })
  if (result.status !== 0) throw new Error(`${name}: exit ${result.status}\n${result.stderr}`)
  return JSON.parse(result.stdout.trim().split("\n").pop() ?? "{}") as Sample
}

const median = (values: ReadonlyArray<number>) => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN
}

export const runLibImport = (runs: number) => {
  if (!existsSync(entry)) {
    console.log("dist/lib is missing: npm run build:lib")
    execFileSync(process.execPath, [join(root, "scripts/build/build.mjs"), "--lib"], { cwd: root, stdio: "inherit" })
  }
  // inside the project, so the probes' bare specifiers resolve in its node_modules as an embedder's would
  mkdirSync(join(root, "node_modules/.cache"), { recursive: true })
  const dir = mkdtempSync(join(root, "node_modules/.cache/rf-bench-lib-"))
  try {
    const samples = new Map<Case, Array<Sample>>([
      ["effect + @effect/platform", []],
      ["revenueflow (root)", []]
    ])
    runOnce(dir, "revenueflow (root)") // a first run warms the file system cache for both
    for (let i = 0; i < runs; i++) {
      for (const name of samples.keys()) samples.get(name)?.push(runOnce(dir, name))
    }
    const figures = [...samples].map(([name, list]) => ({
      name,
      ms: median(list.map((s) => s.ms)),
      rssMiB: median(list.map((s) => s.rss)) / 1024 / 1024,
      packages: list[0]?.packages ?? []
    }))
    const [base, lib] = figures as [(typeof figures)[0], (typeof figures)[0]]
    console.log(`\nimport cost, Node ${process.version}, median of ${runs} fresh processes each`)
    console.log(
      table(
        ["import", "ms", "RSS MiB", "packages"],
        figures.map((f) => [f.name, f.ms, f.rssMiB, f.packages.length])
      )
    )
    console.log(
      `\nroot / baseline: time ${ratio(lib.ms, base.ms)} (goal <= 1.50x), RSS ${ratio(lib.rssMiB, base.rssMiB)} ` +
        `(goal <= 1.30x); ${fmt(lib.ms - base.ms)} ms, ${fmt(lib.rssMiB - base.rssMiB)} MiB more`
    )
    const extra = lib.packages.filter((p) => !base.packages.includes(p))
    console.log(`packages the root loads beyond the baseline: ${extra.join(", ") || "none"}`)
    return { base, lib }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

const peers = ["effect", "@effect/platform", "@effect/platform-node"]

/** The optional peers, from package.json. */
const optionalPeers = (): ReadonlyArray<string> =>
  Object.keys(JSON.parse(readFileSync(join(root, "package.json"), "utf8")).peerDependenciesMeta ?? {})

/** name@version as installed here, so npm takes it from the local cache. */
const pinned = (name: string) =>
  `${name}@${JSON.parse(readFileSync(join(root, "node_modules", name, "package.json"), "utf8")).version}`

const npm = (cwd: string, args: ReadonlyArray<string>) =>
  execFileSync("npm", [...args], { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] })

/** Bytes on disk (du) and packages in node_modules after installing `specs` into a fresh app. */
const installSize = (dir: string, specs: ReadonlyArray<string>) => {
  mkdirSync(dir, { recursive: true })
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "embedder", private: true, type: "module" }))
  npm(dir, ["install", "--prefer-offline", "--no-audit", "--no-fund", "--ignore-scripts", ...specs])
  const disk =
    Number(execFileSync("du", ["-sk", join(dir, "node_modules")], { encoding: "utf8" }).split("\t")[0]) * 1024
  const packages = (JSON.parse(npm(dir, ["query", "*"])) as Array<{ location?: string }>).filter((p) => p.location)
  return { mib: disk / 1024 / 1024, packages: packages.length }
}

export const runInstallSize = () => {
  const dir = mkdtempSync(join(tmpdir(), "rf-bench-install-"))
  try {
    const { filename } = (
      JSON.parse(npm(root, ["pack", "--json", "--pack-destination", dir])) as Array<{
        filename: string
      }>
    )[0] ?? { filename: "" }
    const tarball = join(dir, filename)
    const core = installSize(join(dir, "core"), [tarball, ...peers.map(pinned)])
    const full = installSize(join(dir, "full"), [tarball, ...[...peers, ...optionalPeers()].map(pinned)])
    console.log("\nwhat an embedder installs (npm install of the packed tarball, du of node_modules)")
    console.log(
      table(
        ["install", "packages", "MiB on disk"],
        [
          ["revenueflow + peers (the core)", core.packages, core.mib],
          ["+ every optional peer", full.packages, full.mib]
        ]
      )
    )
    return { core, full }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const at = process.argv.indexOf("--runs")
  runLibImport(at > 0 ? Number(process.argv[at + 1]) : 11)
  if (process.argv.includes("--install")) runInstallSize()
}
