import { mkdtempSync, rmSync } from "node:fs"
import { existsSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { freePort, startProgram } from "../../scripts/lib/processes.js"
import { sampleLead } from "../support/env.js"

// `npm start` as a new user runs it: the dev program on embedded defaults, in a child process.
const start = (dir: string) =>
  Effect.gen(function* () {
    const port = yield* freePort
    return yield* startProgram({ program: "dev", env: { PORT: String(port), DATA_DIR: dir }, readyTimeoutMs: 90_000 })
  })

const postLead = (url: string) =>
  Effect.promise(async () => {
    const res = await fetch(`${url}/leads`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(sampleLead())
    })
    return { status: res.status, id: ((await res.json()) as { id: string }).id }
  })

describe("npm start", () => {
  it.scopedLive(
    "says what it is doing before the first slow step, tells the story of a lead, and stops cleanly",
    () =>
      Effect.gen(function* () {
        const dir = yield* Effect.acquireRelease(
          Effect.sync(() => mkdtempSync(join(tmpdir(), "rf-start-"))),
          (d) => Effect.sync(() => rmSync(d, { recursive: true, force: true }))
        )
        const first = yield* start(dir)
        const lines = () => first.output().split("\n")
        // the very first line, printed before the program and the embedded database load
        expect(lines()[0]).toBe(
          `Starting RevenueFlow (ingest and consumer in one process): creating the embedded database in ${join(dir, "pglite")} (first start only)…`
        )
        expect(first.output()).toContain("RevenueFlow is running (ingest and consumer in one process)")

        const lead = yield* postLead(first.url)
        expect(lead.status).toBe(202)
        yield* Effect.gen(function* () {
          while (!first.output().includes(`lead SYNCED`)) yield* Effect.sleep("100 millis")
        }).pipe(Effect.timeout("30 seconds"))
        expect(lines().find((l) => l.includes("lead SYNCED"))).toContain(lead.id)

        first.signal("SIGTERM")
        expect((yield* first.waitExit(15_000)).code).toBe(0)
        expect(existsSync(join(dir, "pglite.lock"))).toBe(false)

        // the second start finds the database and says only that it is starting
        const second = yield* start(dir)
        expect(second.output().split("\n")[0]).toBe("Starting RevenueFlow (ingest and consumer in one process)…")
        second.signal("SIGTERM")
        expect((yield* second.waitExit(15_000)).code).toBe(0)
      }),
    240_000
  )
})
