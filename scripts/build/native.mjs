// The programs' one native addon: mallocTrim.node (src/programs/native/mallocTrim.c), glibc's malloc_trim for the
// memory release. Built with the machine's C compiler against Node-API's headers; where either is missing, or the
// platform is not Linux with glibc, it is not built and the release runs without it (it says so once, at debug).
import { execFileSync } from "node:child_process"
import { existsSync } from "node:fs"
import { mkdir } from "node:fs/promises"
import { dirname, join, resolve } from "node:path"
import { fileURLToPath } from "node:url"

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..")
export const mallocTrimSource = join(root, "src/programs/native/mallocTrim.c")

/**
 * Node-API's headers: beside the running node (an official tarball or image: <prefix>/include/node), in the `node`
 * devDependency's platform package, or the system's. Node-API is ABI-stable, so any recent Node's headers serve.
 */
const headerDirs = () => {
  const platformPackage = `node-${process.platform}-${process.arch}`
  return [
    join(dirname(process.execPath), "..", "include", "node"),
    join(root, "node_modules", "node", "node_modules", platformPackage, "include", "node"),
    join(root, "node_modules", platformPackage, "include", "node"),
    "/usr/local/include/node",
    "/usr/include/node"
  ]
}

const glibc = () => {
  const header = process.report?.getReport?.().header
  return process.platform === "linux" && typeof header?.glibcVersionRuntime === "string"
}

/**
 * Compile mallocTrim.node into `outFile`. Returns the file, or why it was not built (never throws for a missing
 * compiler or platform: the addon is an optimisation, not a requirement).
 */
export const buildMallocTrim = async (outFile) => {
  if (!glibc()) return { built: false, reason: "not Linux with glibc (malloc_trim is glibc's)" }
  const include = headerDirs().find((dir) => existsSync(join(dir, "node_api.h")))
  if (include === undefined) return { built: false, reason: "Node-API headers (node_api.h) not found" }
  const compiler = process.env.CC ?? "cc"
  await mkdir(dirname(outFile), { recursive: true })
  try {
    execFileSync(
      compiler,
      ["-O2", "-shared", "-fPIC", "-Wall", "-Werror", "-I", include, "-o", outFile, mallocTrimSource],
      { stdio: ["ignore", "pipe", "pipe"] }
    )
  } catch (error) {
    const stderr = error?.stderr?.toString().trim()
    return { built: false, reason: `${compiler} failed: ${stderr || (error instanceof Error ? error.message : error)}` }
  }
  return { built: true, file: outFile }
}
