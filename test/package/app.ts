// A fresh app that installs the packed library as an embedder would: the tarball, the peers, nothing else.
import { execFile } from "node:child_process"
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs"
import { dirname, join, relative, resolve } from "node:path"
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

/**
 * What the package holds, dist/lib and the CLI bundle dist/cli, built as the README says (npm run build:lib) unless
 * both are newer than every source file they are built from (an earlier build, e.g. npm run build, is reused).
 */
export const buildLibrary = async () => {
  const outputs = ["dist/lib/src/index.js", "dist/cli/index.mjs"].map((file) => join(root, file))
  const sources = Math.max(
    ...["src", "services", "layers", "tsconfig.build.json", "package.json"].map((p) => newest(join(root, p)))
  )
  if (outputs.every((file) => existsSync(file) && statSync(file).mtimeMs > sources)) return "reused"
  await sh("npm", ["run", "build:lib"], { cwd: root })
  return "built"
}

/** `npm pack` into `dir`: the tarball's path and the files it holds. */
export const pack = async (
  dir: string
): Promise<{ readonly tarball: string; readonly files: ReadonlyArray<string> }> => {
  const { stdout } = await sh("npm", ["pack", "--json", "--pack-destination", dir], { cwd: root })
  const [info] = JSON.parse(stdout) as Array<{ filename: string; files: ReadonlyArray<{ path: string }> }>
  return { tarball: join(dir, info?.filename ?? ""), files: (info?.files ?? []).map((file) => file.path) }
}

/**
 * The package's modules (`.js` under dist/lib, in `pkg`) its exports reach through relative imports, and the relative
 * imports that name a file the package lacks.
 */
export const moduleGraph = (pkg: string) => {
  const manifest = JSON.parse(readFileSync(join(pkg, "package.json"), "utf8")) as {
    exports: Record<string, string | { import: { default: string } }>
  }
  const entries = Object.values(manifest.exports).flatMap((entry) => {
    if (typeof entry === "string") return []
    const file = join(pkg, entry.import.default)
    if (!file.includes("*")) return [file]
    const dir = dirname(file)
    return readdirSync(dir)
      .filter((name) => name.endsWith(".js"))
      .map((name) => join(dir, name))
  })
  const reached = new Set<string>()
  const missing = new Set<string>()
  const visit = (file: string) => {
    if (reached.has(file)) return
    if (!existsSync(file)) return void missing.add(relative(pkg, file))
    reached.add(file)
    const source = readFileSync(file, "utf8")
    for (const [, target] of source.matchAll(
      /(?:\bimport|\bexport)\s*(?:[^"'`;]*?\bfrom\s*)?\(?\s*["'](\.{1,2}\/[^"']+)["']/g
    )) {
      visit(resolve(dirname(file), target ?? ""))
    }
  }
  entries.forEach(visit)
  const modules: Array<string> = []
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name)
      if (statSync(path).isDirectory()) walk(path)
      else if (name.endsWith(".js")) modules.push(path)
    }
  }
  walk(join(pkg, "dist/lib"))
  return {
    unreached: modules.filter((file) => !reached.has(file)).map((file) => relative(pkg, file)),
    missing: [...missing]
  }
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
