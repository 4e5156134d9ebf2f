import { execFile } from "node:child_process"
import { promisify } from "node:util"
import { describe, expect, it } from "@effect/vitest"
import { repoRoot } from "../../scripts/lib/processes.js"

// The project compiles under its strict settings: the sources, the tests and the scripts (tsconfig.json). This is
// what makes `// @ts-expect-error` lines in tests (an exhaustive match missing a case, say) real assertions.
describe("the TypeScript sources", () => {
  it("type-check with tsc --noEmit", { timeout: 240_000 }, async () => {
    const result = await promisify(execFile)(
      process.execPath,
      [`${repoRoot}/node_modules/typescript/bin/tsc`, "--noEmit", "-p", "tsconfig.json"],
      { cwd: repoRoot, maxBuffer: 16 * 1024 * 1024 }
    ).then(
      () => ({ code: 0, out: "" }),
      (error: { code?: number; stdout?: string }) => ({ code: error.code ?? 1, out: error.stdout ?? String(error) })
    )
    expect(result.out).toBe("")
    expect(result.code).toBe(0)
  })
})
