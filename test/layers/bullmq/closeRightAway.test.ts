// A BullMQ consumer closed right after it starts lets its process exit: nothing of BullMQ's (its stalled-jobs check,
// every 30 s) outlives the close. Needs Redis.
import { execFile } from "node:child_process"
import { join } from "node:path"
import { promisify } from "node:util"
import { describe, expect, it } from "@effect/vitest"

const run = promisify(execFile)

describe("JobQueue (bullmq), a consumer closed right after it starts", () => {
  it("lets the process exit at once", { timeout: 60_000 }, async () => {
    const fixture = join(import.meta.dirname, "closeRightAway.fixture.ts")
    for (let i = 0; i < 3; i++) {
      const { stdout } = await run(process.execPath, ["--import", "tsx", fixture], {
        cwd: join(import.meta.dirname, "../../.."),
        timeout: 40_000
      })
      const lived = Number(/exited (\d+) ms after the close/.exec(stdout)?.[1] ?? Number.NaN)
      expect(lived, stdout).toBeLessThan(5_000)
    }
  })
})
