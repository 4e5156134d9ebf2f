import { readdirSync, readFileSync, statSync } from "node:fs"
import { dirname, join, relative, resolve } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { repoRoot } from "../../scripts/lib/processes.js"

// The layout's rule (README "Layout"): a backend folder under layers/ imports only services/, src/domain and
// layers/shared/ (and its own files); layers/shared imports no backend either. Presets (layers/*.ts) and
// layers/testing wire backends together and are exempt.
const layers = join(repoRoot, "layers")
const presetFolders = new Set(["testing"])

const sources = (folder: string): ReadonlyArray<string> =>
  readdirSync(folder).flatMap((name) => {
    const path = join(folder, name)
    return statSync(path).isDirectory() ? sources(path) : name.endsWith(".ts") ? [path] : []
  })

const relativeImports = (file: string): ReadonlyArray<string> =>
  [...readFileSync(file, "utf8").matchAll(/(?:from|import)\s*\(?\s*"(\.[^"]+)"/g)].map((m) =>
    relative(repoRoot, resolve(dirname(file), m[1] ?? ""))
  )

describe("folder boundaries", () => {
  it("each backend folder imports only services/, src/domain, layers/shared and itself", () => {
    const folders = readdirSync(layers).filter(
      (name) => statSync(join(layers, name)).isDirectory() && !presetFolders.has(name)
    )
    expect(folders).toEqual(expect.arrayContaining(["memory", "postgres", "redis", "bullmq", "sqs", "shared"]))
    const crossings = folders.flatMap((folder) =>
      sources(join(layers, folder)).flatMap((file) =>
        relativeImports(file)
          .filter(
            (target) =>
              !target.startsWith("services/") &&
              !target.startsWith("src/domain/") &&
              !target.startsWith("layers/shared/") &&
              !target.startsWith(`layers/${folder}/`)
          )
          .map((target) => `${relative(repoRoot, file)} -> ${target}`)
      )
    )
    expect(crossings).toEqual([])
  })
})
