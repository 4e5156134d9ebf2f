// A fresh app that installs the packed library as an embedder would: the tarball, the peers, nothing else.
import { execFile } from "node:child_process"
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs"
import { join, resolve } from "node:path"
import { promisify } from "node:util"

export const root = resolve(import.meta.dirname, "../..")

const run = promisify(execFile)

/** Runs a command; on failure the error carries its stdout and stderr. */
export const sh = async (
  command: string,
  args: ReadonlyArray<string>,
  options: { readonly cwd: string; readonly env?: Record<string, string> }
) => {
  try {
    return await run(command, [...args], {
      cwd: options.cwd,
      env: { ...process.env, ...options.env },
      maxBuffer: 64 * 1024 * 1024
    })
  } catch (error) {
    const { stdout, stderr } = error as { stdout?: string; stderr?: string }
    throw new Error(`${command} ${args.join(" ")} failed:\n${stdout ?? ""}\n${stderr ?? ""}`)
  }
}

/** `name@<the version this repository has installed>`, so npm finds it in the local cache. */
export const pinned = (name: string): string =>
  `${name}@${JSON.parse(readFileSync(join(root, "node_modules", name, "package.json"), "utf8")).version}`

/** The newest modification time under `path`. */
const newest = (path: string): number => {
  const stat = statSync(path)
  if (!stat.isDirectory()) return stat.mtimeMs
  return Math.max(
    stat.mtimeMs,
    ...readdirSync(path)
      .filter((name) => name !== "node_modules")
      .map((name) => newest(join(path, name)))
  )
}

/** dist/lib, rebuilt (npm run build:lib) unless it is newer than every source file it is built from. */
export const buildLibrary = async () => {
  const entry = join(root, "dist/lib/src/index.js")
  const sources = Math.max(
    ...["src", "services", "layers", "tsconfig.build.json", "package.json"].map((p) => newest(join(root, p)))
  )
  if (existsSync(entry) && statSync(entry).mtimeMs > sources) return "reused"
  await sh(process.execPath, [join(root, "scripts/build/build.mjs"), "--lib"], { cwd: root })
  return "built"
}

/** `npm pack` into `dir`; the tarball's path. */
export const pack = async (dir: string): Promise<string> => {
  const { stdout } = await sh("npm", ["pack", "--json", "--pack-destination", dir], { cwd: root })
  const [info] = JSON.parse(stdout) as Array<{ filename: string }>
  return join(dir, info?.filename ?? "")
}

/** npm install from the local cache where it can (the registry otherwise); no install scripts. */
export const npmInstall = (cwd: string, specs: ReadonlyArray<string>, dev = false) =>
  sh("npm", ["install", ...(dev ? ["--save-dev"] : []), "--prefer-offline", "--no-audit", "--no-fund", ...specs], {
    cwd
  })

/** A strict NodeNext TypeScript app in `dir` (ESM), with nothing installed yet. */
export const scaffold = (dir: string) => {
  mkdirSync(join(dir, "src"), { recursive: true })
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "embed-app", private: true, type: "module" }))
  writeFileSync(
    join(dir, "tsconfig.json"),
    JSON.stringify({
      compilerOptions: {
        target: "ES2023",
        lib: ["ES2023"],
        module: "NodeNext",
        moduleResolution: "NodeNext",
        strict: true,
        exactOptionalPropertyTypes: true,
        noUncheckedIndexedAccess: true,
        verbatimModuleSyntax: true,
        // as `tsc --init` sets it (and this repository): the library's declarations are not re-checked
        skipLibCheck: true,
        types: ["node"],
        outDir: "dist",
        rootDir: "src"
      },
      include: ["src"]
    })
  )
}

/** The ```ts block that follows `<!-- embed:name -->` in the README. */
export const readmeSnippet = (name: string): string => {
  const readme = readFileSync(join(root, "README.md"), "utf8")
  const match = new RegExp(`<!-- embed:${name} -->\\n\`\`\`ts\\n([\\s\\S]*?)\`\`\``).exec(readme)
  if (match?.[1] === undefined) throw new Error(`README has no <!-- embed:${name} --> snippet`)
  return match[1]
}

/** The packages (by name) a module graph resolved, recorded by a resolve hook: what `code` loads. */
export const hookSource = `
import { registerHooks } from "node:module"
const packages = new Set()
registerHooks({ resolve(specifier, context, next) {
  const result = next(specifier, context)
  const match = /node_modules\\/((?:@[^/]+\\/)?[^/]+)/.exec(result.url)
  if (match) packages.add(match[1])
  return result
} })
process.on("exit", () => console.log("loaded:" + JSON.stringify([...packages].sort())))
`

/** The provider clients the root entry must not load. */
export const providerClients = [
  "jsforce",
  "@hubspot/api-client",
  "@aws-sdk/client-bedrock-runtime",
  "@aws-sdk/client-secrets-manager",
  "@smithy/node-http-handler",
  "@electric-sql/pglite",
  "postgres",
  "ioredis",
  "bullmq",
  "@effect/opentelemetry",
  "@opentelemetry/exporter-trace-otlp-http",
  "@opentelemetry/sdk-trace-base",
  "@modelcontextprotocol/sdk"
]

/** Imports `specifier` from `cwd` in a fresh Node with the hook (written in `scratch`); the packages it loaded. */
export const packagesLoadedBy = async (
  cwd: string,
  specifier: string,
  scratch: string
): Promise<ReadonlyArray<string>> => {
  const hook = join(scratch, "record-packages.mjs")
  writeFileSync(hook, hookSource)
  const { stdout } = await sh(
    process.execPath,
    ["--import", hook, "--input-type=module", "-e", `await import(${JSON.stringify(specifier)})`],
    { cwd }
  )
  const line = stdout.split("\n").find((l) => l.startsWith("loaded:"))
  return JSON.parse(line?.slice("loaded:".length) ?? "null") as ReadonlyArray<string>
}
