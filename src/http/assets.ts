import { readFile } from "node:fs/promises"
import { createRequire } from "node:module"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import * as Effect from "effect/Effect"

/**
 * Static files the ingest serves itself, so /docs and /console work with no network: the console's own files
 * (src/http/assets) and Swagger UI's (the pinned swagger-ui-dist package). The program bundles have no node_modules:
 * scripts/build/build.mjs copies both into dist/<program>/assets, found here next to the bundle (or its chunk).
 */
const here = dirname(fileURLToPath(import.meta.url))

const swaggerDir = (): ReadonlyArray<string> => {
  try {
    return [dirname(createRequire(import.meta.url).resolve("swagger-ui-dist/package.json"))]
  } catch {
    return []
  }
}

/** Where a file may be, in order: next to this module (source, library), next to the bundle, swagger-ui-dist. */
const directories = [join(here, "assets"), join(here, "..", "assets"), ...swaggerDir()]

/** The files the server serves, by the name it serves them under, with their content type. */
export const files = {
  "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
  "swagger-ui.css": "text/css; charset=utf-8",
  "console.html": "text/html; charset=utf-8",
  "console.js": "text/javascript; charset=utf-8",
  "console.css": "text/css; charset=utf-8"
} as const
export type AssetName = keyof typeof files

const cache = new Map<AssetName, Uint8Array>()

/** A file's bytes, read once from the first directory that has it; fails when none does (a broken install). */
export const asset = (name: AssetName): Effect.Effect<Uint8Array, Error> =>
  Effect.suspend(() => {
    const cached = cache.get(name)
    if (cached !== undefined) return Effect.succeed(cached)
    return Effect.tryPromise({
      try: async () => {
        for (const dir of directories) {
          const bytes = await readFile(join(dir, name)).catch(() => undefined)
          if (bytes !== undefined) {
            cache.set(name, bytes)
            return new Uint8Array(bytes)
          }
        }
        throw new Error(`${name} not found in ${directories.join(", ")}`)
      },
      catch: (error) => (error instanceof Error ? error : new Error(String(error)))
    })
  })
