#!/usr/bin/env node
// npm pack / npm publish (prepack): refuse a package without what it promises — the library (its exports) and the
// CLI bundle (its `bin`) — instead of packing a tarball whose entries are missing.
import { existsSync } from "node:fs"
import { dirname, join, resolve } from "node:path"
import { fileURLToPath } from "node:url"

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..")
const required = ["dist/lib/src/index.js", "dist/lib/src/index.d.ts", "dist/cli/index.mjs"]
const missing = required.filter((file) => !existsSync(join(root, file)))
if (missing.length > 0) {
  console.error(`npm pack: the package is not built (missing ${missing.join(", ")}): run npm run build:lib first`)
  process.exit(1)
}
